from django import forms

from portfolio.forms import OrgModelForm
from streams.models import StreamKind, ValueStream


class ValueStreamForm(OrgModelForm):
    class Meta:
        model = ValueStream
        fields = ["name", "slug", "kind", "parent", "owner_email", "description"]
        labels = {"owner_email": "Owner"}
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, organization, **kwargs) -> None:
        super().__init__(*args, organization=organization, **kwargs)
        self.fields["owner_email"].help_text = "The owner's email; they need not be a member."
        if self.instance.pk:
            self.fields["parent"].queryset = self.fields["parent"].queryset.exclude(
                pk=self.instance.pk
            )

    def clean_owner_email(self) -> str:
        return self.cleaned_data["owner_email"].strip().lower()


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
