from django import forms
from django.contrib.auth import get_user_model

from portfolio.forms import OrgModelForm
from streams.models import StreamKind, ValueStream


class ValueStreamForm(OrgModelForm):
    class Meta:
        model = ValueStream
        fields = ["name", "slug", "kind", "parent", "owner", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, organization, **kwargs) -> None:
        super().__init__(*args, organization=organization, **kwargs)
        # The owner is a member of the organization.
        self.fields["owner"].queryset = (
            get_user_model()
            .objects.filter(memberships__organization=organization)
            .order_by("email")
        )
        self.fields["owner"].label_from_instance = lambda u: u.email
        if self.instance.pk:
            self.fields["parent"].queryset = self.fields["parent"].queryset.exclude(
                pk=self.instance.pk
            )


class StreamFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *StreamKind.choices])
    parent = forms.CharField(required=False)


class StageNameForm(forms.Form):
    name = forms.CharField(max_length=200)


class StatusMapForm(forms.Form):
    mapping = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "In Review = waiting"}),
        help_text="One tool status per line: Status = new, active, waiting, done or canceled.",
    )

    def clean_mapping(self) -> dict[str, str]:
        result: dict[str, str] = {}
        errors = []
        for n, line in enumerate(self.cleaned_data["mapping"].splitlines(), start=1):
            if not line.strip():
                continue
            status, sep, category = line.rpartition("=")
            if not sep or not status.strip():
                errors.append(f"line {n}: write 'Status = category', not '{line.strip()}'")
                continue
            result[status.strip()] = category.strip().lower()
        if errors:
            raise forms.ValidationError(errors)
        return result
