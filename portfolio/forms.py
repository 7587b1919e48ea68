from django import forms

from portfolio.models import Component, Layer, Organization, Product, ProductFamily, Role, Team


class OrganizationSettingsForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name", "time_zone", "dora_report_year"]
        labels = {"dora_report_year": "DORA bands"}
        help_texts = {
            "time_zone": "An IANA time zone, e.g. Europe/Berlin: date ranges and charts use it.",
            "dora_report_year": "The State of DevOps report whose performance bands are shown.",
        }


class InvitationForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"placeholder": "name@example.com"}))
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, widget=forms.TextInput(attrs={"placeholder": "e.g. nightly import"})
    )


class SignUpForm(forms.Form):
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput, strip=False)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            raise forms.ValidationError("The two passwords differ.")
        return data


class OrgModelForm(forms.ModelForm):
    """A model form whose choices are the organization's own objects only.

    A submitted id of another organization's object is then "not one of the
    available choices": a form error, exactly as for an id that does not exist.
    """

    def __init__(self, *args, organization, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        if "slug" in self.fields:
            # Left empty, the slug is made from the name.
            self.fields["slug"].required = False
            self.fields["slug"].help_text = "Left empty, it is made from the name."
        for field in self.fields.values():
            queryset = getattr(field, "queryset", None)
            if queryset is not None and hasattr(queryset.model, "organization_id"):
                field.queryset = queryset.filter(organization=organization)

    def _get_validation_exclusions(self):
        # The organization is set by the service, not the form; uniqueness
        # rules that lead with it are checked there (full_clean).
        return {*super()._get_validation_exclusions(), "organization"}


class LayerForm(OrgModelForm):
    class Meta:
        model = Layer
        fields = ["name"]


class TeamForm(OrgModelForm):
    class Meta:
        model = Team
        fields = ["name", "slug"]


class ProductFamilyForm(OrgModelForm):
    class Meta:
        model = ProductFamily
        fields = ["name", "slug"]


class ProductForm(OrgModelForm):
    class Meta:
        model = Product
        fields = ["name", "slug", "family", "layer"]


class ComponentForm(OrgModelForm):
    class Meta:
        model = Component
        fields = ["name", "slug", "kind", "layer", "team", "product"]
