import datetime

from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from journeys.models import Journey
from metrics.definitions import METRICS, Subject
from portfolio.models import (
    AuditAction,
    Component,
    KeyResult,
    Layer,
    Objective,
    Organization,
    Product,
    ProductFamily,
    Role,
    Team,
    validate_quantity,
)
from streams.models import ValueStream


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


# --- OKRs --------------------------------------------------------------------------


def quarter_label(quarter: str, current: str) -> str:
    if quarter == current:
        return f"{quarter} (current)"
    return f"{quarter} (next)" if quarter > current else quarter


class ObjectiveForm(OrgModelForm):
    """An objective with its links; the slug is made from the title when left empty.

    The parent may be any objective of the organization but the objective itself;
    one of its own descendants is refused by ``objective_save`` with a message."""

    quarter = forms.ChoiceField()
    value_streams = forms.ModelMultipleChoiceField(
        queryset=ValueStream.objects.order_by("name"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    journeys = forms.ModelMultipleChoiceField(
        queryset=Journey.objects.order_by("name"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )

    class Meta:
        model = Objective
        fields = ["title", "slug", "quarter", "owner_email", "parent"]
        labels = {"owner_email": "Owner", "parent": "Aligned to"}

    def __init__(self, *args, organization, quarters: list[str], current: str, **kwargs) -> None:
        super().__init__(*args, organization=organization, **kwargs)
        self.fields["slug"].help_text = "Left empty, it is made from the title."
        self.fields["owner_email"].help_text = "The owner's email; they need not be a member."
        self.fields["quarter"].choices = [(q, quarter_label(q, current)) for q in quarters]
        parent = self.fields["parent"]
        parent.queryset = parent.queryset.order_by("-quarter", "title")
        if self.instance.pk:
            parent.queryset = parent.queryset.exclude(pk=self.instance.pk)
            self.initial.setdefault("value_streams", list(self.instance.value_streams.all()))
            self.initial.setdefault("journeys", list(self.instance.journeys.all()))
        parent.empty_label = "None (a top-level objective)"
        parent.label_from_instance = lambda o: f"{o.quarter} · {o.title}"
        for name in ("value_streams", "journeys"):
            self.fields[name].help_text = "Hold Ctrl (⌘ on a Mac) to choose several."

    def clean_owner_email(self) -> str:
        return self.cleaned_data["owner_email"].strip().lower()


MANUAL = ""


class KeyResultForm(OrgModelForm):
    """A key result: manual check-ins, or a metric of a value stream or a journey.

    The subject and the metric are two choices; that the metric is one of the
    subject's kind is ``key_result_save``'s rule, whose message lands on the metric.
    Left empty, the unit is the metric's own."""

    measured_from = forms.ChoiceField(label="Progress from", required=False)
    metric_key = forms.ChoiceField(label="Metric", required=False)

    class Meta:
        model = KeyResult
        fields = ["title", "slug", "baseline", "target", "unit", "weight"]
        help_texts = {
            "target": "Below the baseline for a metric that must go down.",
            "weight": "Its share of the objective's progress, relative to the other key results.",
        }

    def __init__(self, *args, organization, **kwargs) -> None:
        super().__init__(*args, organization=organization, **kwargs)
        self.fields["slug"].help_text = "Left empty, it is made from the title."
        self.fields["unit"].help_text = "Left empty for a metric, the metric's unit."
        self.subjects: dict[str, object] = {}
        for prefix, model in (("value_stream", ValueStream), ("journey", Journey)):
            for subject in model.objects.filter(organization=organization).order_by("name"):
                self.subjects[f"{prefix}:{subject.pk}"] = subject
        self.fields["measured_from"].choices = [
            (MANUAL, "Manual check-ins"),
            *(
                (group, [(k, str(s)) for k, s in self.subjects.items() if k.startswith(prefix)])
                for group, prefix in (("Value stream", "value_stream:"), ("Journey", "journey:"))
                if any(k.startswith(prefix) for k in self.subjects)
            ),
        ]
        self.fields["metric_key"].choices = [
            ("", "— (manual)"),
            *(
                (
                    group,
                    [(m.key, f"{m.label} ({m.unit})") for m in METRICS.values() if m.subject == s],
                )
                for group, s in (
                    ("Value stream metrics", Subject.VALUE_STREAM),
                    ("Journey metrics", Subject.JOURNEY),
                )
            ),
        ]
        kr = self.instance
        if kr.pk and not self.is_bound:
            if kr.metric_value_stream_id:
                self.initial["measured_from"] = f"value_stream:{kr.metric_value_stream_id}"
            elif kr.metric_journey_id:
                self.initial["measured_from"] = f"journey:{kr.metric_journey_id}"
            self.initial["metric_key"] = kr.metric_key

    def clean(self) -> dict:
        data = super().clean()
        source, key = data.get("measured_from") or MANUAL, data.get("metric_key") or ""
        subject = self.subjects.get(source)
        if subject is not None and not key:
            self.add_error("metric_key", f"Choose the metric of {subject} to measure progress by.")
        kr = self.instance
        kr.metric_value_stream = subject if source.startswith("value_stream:") else None
        kr.metric_journey = subject if source.startswith("journey:") else None
        kr.metric_key = key
        if key in METRICS and not data.get("unit") and "unit" in data:
            data["unit"] = METRICS[key].unit
        return data


class CheckInForm(forms.Form):
    value = forms.FloatField(
        widget=forms.NumberInput(attrs={"step": "any"}), validators=[validate_quantity]
    )
    confidence = forms.IntegerField(
        min_value=0,
        max_value=10,
        required=False,
        help_text="How sure you are the target will be met: 0 not at all, 10 certain.",
    )
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "What moved it, what is in the way"}),
    )


class OkrFilterForm(forms.Form):
    """The board's filters; each is optional and an unknown value is an error."""

    value_stream = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Any value stream"
    )
    journey = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any journey")
    owner = forms.ChoiceField(required=False)

    def __init__(self, *args, organization, owners: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["value_stream"].queryset = ValueStream.objects.filter(
            organization=organization
        ).order_by("name")
        self.fields["journey"].queryset = Journey.objects.filter(
            organization=organization
        ).order_by("name")
        self.fields["owner"].choices = [("", "Any owner"), *((o, o) for o in owners)]


class LinkForm(forms.Form):
    """One object of the organization to link or unlink (an id from a select)."""

    target = forms.ModelChoiceField(queryset=None)

    def __init__(self, *args, queryset, label: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = queryset
        self.fields["target"].label = label
        self.fields["target"].error_messages["invalid_choice"] = (
            f"Choose a {label.lower()} of this organization."
        )
        self.fields["target"].error_messages["required"] = f"Choose a {label.lower()}."


class AuditFilterForm(forms.Form):
    """The audit log's filters, for its page and its API alike (GET parameters)."""

    action = forms.CharField(
        required=False,
        widget=forms.Select(choices=[("", "Any action"), *AuditAction.choices]),
    )
    actor = forms.CharField(
        required=False,
        max_length=254,
        label="Actor email",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "name@example.com"}),
    )
    since = forms.CharField(
        required=False,
        help_text="A date or an ISO 8601 date-time; without an offset, in the organization's "
        "time zone.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_action(self) -> str:
        action = self.cleaned_data["action"].strip()
        if action and action not in AuditAction.values:
            raise forms.ValidationError(
                f"'{action}' is not an audit action; use one of {', '.join(AuditAction.values)}."
            )
        return action

    def clean_actor(self) -> str:
        return self.cleaned_data["actor"].strip().lower()

    def clean_since(self) -> datetime.datetime | None:
        raw = self.cleaned_data["since"].strip()
        if not raw:
            return None
        try:
            # RFC 3339 allows a lowercase "t" and "z"; Django's parser wants them upper.
            value = parse_datetime(raw.upper())
            if value is None and (day := parse_date(raw)) is not None:
                value = datetime.datetime.combine(day, datetime.time.min)
        except ValueError:  # well-formed but impossible, such as 2026-02-30
            value = None
        if value is None:
            raise forms.ValidationError(
                f"'{raw}' is not a date or an ISO 8601 date-time; use 2026-07-01 or "
                "2026-07-01T09:30:00Z."
            )
        # Without an offset: the current time zone, the organization's on its pages
        # (TenantMiddleware) and in its API (AuditEventViewSet).
        return timezone.make_aware(value) if timezone.is_naive(value) else value
