"""The study page's conditions and criteria tables: the names results give the conditions, and each criterion's
question, scale and anchors, and name in results, checked by ``services.design``. Neither is added or removed here:
a study has the seed's design (``design.add_seed_design``)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

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
    class Meta:
        model = Criterion
        fields = design.CRITERION_FIELDS

    @staticmethod
    def check(row, changed) -> None:
        design.check_criterion(criterion=row, changed=changed)


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


class CriterionInline(_FixedRowsInline):
    """The study's criteria: question, scale and anchors are fixed once an annotator has consented; the name in
    results is edited at any time."""

    model = Criterion
    form = CriterionForm
    fields = ("key", *design.CRITERION_FIELDS)
    readonly_fields = ("key",)
    verbose_name_plural = "Criteria (what each image is rated on, and on what scale)"
