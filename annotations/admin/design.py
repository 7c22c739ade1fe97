"""The study page's conditions and criteria tables: the names results give the conditions, and each criterion's
question, scale and anchors, and name in results, checked by ``services.design``. Criteria are added and removed here
until an annotator consents (``design.add_criterion``, ``design.remove_criterion``); conditions are the design's."""

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
    class Meta:
        model = Condition
        fields = ("name",)

    @staticmethod
    def check(row, changed) -> None:
        design.check_condition(condition=row, changed=changed)


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


class _FixedRowsInline(admin.TabularInline):
    """Rows that are edited in place, never added or removed."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ConditionInline(_FixedRowsInline):
    """The study's conditions: names in results are edited at any time; key, kind and reference are the design's."""

    model = Condition
    form = ConditionForm
    fields = ("key", "name", "kind", "is_reference")
    readonly_fields = ("key", "kind", "is_reference")
    verbose_name_plural = "Conditions (named in results, never shown to annotators)"


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
