"""The study page's conditions and criteria tables: the names results give the conditions, and each criterion's
question, scale and anchors, and name in results, checked by ``services.design``. Conditions are added and removed
here until the study generates (``design.add_condition``, ``design.remove_condition``), criteria until an annotator
consents (``design.add_criterion``, ``design.remove_criterion``)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from .. import selectors
from ..models import Condition, Criterion
from ..services import design


class _CheckedRowForm(forms.ModelForm):
    """A saved row's form that ``check`` (a ``services.design`` rule) passes, on the row as it would be saved, with
    the fields that change."""

    @staticmethod
    def check(row, changed) -> None:
        raise NotImplementedError

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is not None and not self.errors:
            values = {name: cleaned.get(name) for name in self._meta.fields}
            row = type(self.instance)(pk=self.instance.pk, study_id=self.instance.study_id, **values)
            try:
                self.check(row, self.changed_data)
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


class ConditionForm(_CheckedRowForm):
    """A condition's row: its key and kind are set when it is added, then fixed; its name changes at any time."""

    class Meta:
        model = Condition
        fields = ("key", "name", "kind")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["key"].disabled = True
            self.fields["kind"].disabled = True

    @staticmethod
    def check(row, changed) -> None:
        design.check_condition(condition=row, changed=changed)

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and self.has_changed() and not self.errors:
            values = {name: cleaned.get(name) for name in self._meta.fields}
            try:
                design.check_new_condition(condition=Condition(study_id=self.instance.study_id, **values))
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


class ConditionFormSet(forms.BaseInlineFormSet):
    """Refuses removing a condition that ``design.check_removable_condition`` keeps."""

    def clean(self):
        super().clean()
        for form in self.deleted_forms:
            if form.instance.pk is not None:
                try:
                    design.check_removable_condition(condition=form.instance)
                except ValidationError as exc:
                    raise ValidationError(exc.messages) from None


class CriterionForm(_CheckedRowForm):
    """A criterion's row: its key is set when it is added, then fixed (the data files call it by it)."""

    class Meta:
        model = Criterion
        fields = ("key", *design.CRITERION_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["key"].disabled = True

    @staticmethod
    def check(row, changed) -> None:
        design.check_criterion(criterion=row, changed=changed)

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and self.has_changed() and not self.errors:
            values = {name: cleaned.get(name) for name in self._meta.fields}
            try:
                design.check_new_criterion(criterion=Criterion(study_id=self.instance.study_id, **values))
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


class CriterionFormSet(forms.BaseInlineFormSet):
    """Refuses removing a criterion that ``design.check_removable`` keeps."""

    def clean(self):
        super().clean()
        for form in self.deleted_forms:
            if form.instance.pk is not None:
                try:
                    design.check_removable(criterion=form.instance)
                except ValidationError as exc:
                    raise ValidationError(exc.messages) from None


class ConditionInline(admin.TabularInline):
    """The study's conditions: added and removed until the study generates (``services.design``, through the study
    admin's ``save_formset``); names in results are edited at any time; key, kind and reference are fixed."""

    model = Condition
    form = ConditionForm
    formset = ConditionFormSet
    fields = ("key", "name", "kind", "is_reference")
    readonly_fields = ("is_reference",)
    extra = 0
    verbose_name_plural = "Conditions (named in results, never shown to annotators)"

    def _open(self, obj) -> bool:
        return obj is not None and obj.status == obj.Status.DRAFT and not obj.pairs.exists()

    def has_add_permission(self, request, obj=None) -> bool:
        return super().has_add_permission(request, obj) and self._open(obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._open(obj)


class CriterionInline(admin.TabularInline):
    """The study's criteria: added and removed, and their question, scale and anchors edited, until an annotator
    has consented; the name in results is edited at any time. Saved through ``services.design`` (the study admin's
    ``save_formset``)."""

    model = Criterion
    form = CriterionForm
    formset = CriterionFormSet
    fields = ("key", *design.CRITERION_FIELDS)
    extra = 0
    verbose_name_plural = "Criteria (what each image is rated on, and on what scale)"

    def _open(self, obj) -> bool:
        return obj is not None and not selectors.consented_count(study_id=obj.pk)

    def has_add_permission(self, request, obj=None) -> bool:
        return super().has_add_permission(request, obj) and self._open(obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._open(obj)


def save_conditions(formset) -> None:
    """Save the conditions table through ``services.design``: removals first, then each name change and addition."""
    instances = formset.save(commit=False)
    for condition in formset.deleted_objects:
        design.remove_condition(condition=condition)
    for condition in instances:
        if condition.pk is None:
            design.add_condition(condition=condition)
        else:
            condition.save(update_fields=["name"])


def save_criteria(formset) -> None:
    """Save the criteria table through ``services.design``: removals first (which close the gaps in the positions),
    then each change (its texts only, never its place) and each addition, in the table's order."""
    instances = formset.save(commit=False)
    for criterion in formset.deleted_objects:
        design.remove_criterion(criterion=criterion)
    for criterion in instances:
        if criterion.pk is None:
            design.add_criterion(criterion=criterion)
        else:
            criterion.save(update_fields=design.CRITERION_FIELDS)
