"""Forms of the journey pages. Every choice is limited to the request's organization:
another organization's id is answered like a missing one, with a form error."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from journeys import selectors
from journeys.models import Journey, JourneyStage, Touchpoint
from journeys.services import FLAGS
from portfolio.entities import unique_slug
from portfolio.models import Component, Organization

EMOTION_CHOICES = [
    ("", "Not scored"),
    *(
        (str(v), f"{selectors.emotion_score(v)} {label}")
        for v, label in sorted(selectors.EMOTION_LABELS.items(), reverse=True)
    ),
]
FLAG_LABELS = {"is_entry": "entry", "is_work_start": "work start", "is_conversion": "conversion"}


def emotion_field() -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        choices=EMOTION_CHOICES, coerce=int, empty_value=None, required=False, label="Emotion"
    )


class LinesField(forms.CharField):
    """A textarea holding one entry per line (pain points, opportunities)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "One per line.")
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return "\n".join(value)
        return value

    def to_python(self, value: Any) -> list[str]:
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class JourneyForm(forms.ModelForm):
    """A journey's name, slug (made from the name when left empty), persona and product."""

    class Meta:
        model = Journey
        fields = ["name", "slug", "persona", "product"]

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["product"].queryset = selectors.products_for_choice(organization=organization)
        self.fields["product"].empty_label = "No product"
        self.fields["slug"].required = False
        self.fields["slug"].help_text = "Optional: made from the name when left empty."
        self.fields["slug"].widget.attrs["placeholder"] = "optional: from the name"
        self.fields["persona"].widget.attrs["placeholder"] = "e.g. New policyholder"

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug") or ""
        if slug:
            taken = Journey.objects.filter(organization=self.organization, slug=slug)
            if self.instance.pk is not None:
                taken = taken.exclude(pk=self.instance.pk)
            if taken.exists():
                raise ValidationError(f"slug '{slug}' is already used by another journey.")
        return slug

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("slug") and data.get("name"):
            if self.instance.pk is not None and self.instance.slug:
                data["slug"] = self.instance.slug
            else:
                data["slug"] = unique_slug(
                    Journey, organization=self.organization, name=data["name"]
                )
            self.instance.slug = data["slug"]
        return data


class JourneyStageAddForm(forms.ModelForm):
    class Meta:
        model = JourneyStage
        fields = ["name"]
        labels = {"name": "New stage"}


class JourneyStageForm(forms.ModelForm):
    emotion = emotion_field()
    pain_points = LinesField(label="Pain points")
    opportunities = LinesField(label="Opportunities")

    class Meta:
        model = JourneyStage
        fields = ["name", "emotion", "pain_points", "opportunities"]


class FlagForm(forms.Form):
    flag = forms.ChoiceField(choices=[(f, FLAG_LABELS[f]) for f in FLAGS])


class MoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("left", "left"), ("right", "right")])

    @property
    def offset(self) -> int:
        return -1 if self.cleaned_data["direction"] == "left" else 1


class ComponentsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Component) -> str:
        return f"{obj.name} ({obj.team.name})"


class TouchpointForm(forms.ModelForm):
    """A touchpoint: its stage (of the same journey), channel, emotion, the value-stream
    stage behind it (grouped by value stream) and the components serving it."""

    emotion = emotion_field()
    components = ComponentsField(
        queryset=Component.objects.none(),
        required=False,
        # Checkboxes rather than a multi-select: they need no Ctrl-click and their
        # labels wrap in a narrow stage column instead of being cut off.
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Touchpoint
        fields = ["name", "stage", "channel", "emotion", "value_stream_stage"]
        labels = {"value_stream_stage": "Value-stream stage"}

    def __init__(
        self, *args: Any, organization: Organization, journey: Journey, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = JourneyStage.objects.filter(
            organization=organization, journey=journey
        ).order_by("position", "id")
        self.fields["stage"].empty_label = None
        self.fields["components"].queryset = selectors.components_for_choice(
            organization=organization
        )
        if self.instance.pk is not None:
            self.initial.setdefault("components", [c.pk for c in self.instance.components.all()])
        vs_stage = self.fields["value_stream_stage"]
        vs_stage.queryset = selectors.value_stream_stages_for_choice(organization=organization)
        # Grouped by value stream for the select; the queryset above still decides
        # what a submitted id may be.
        groups: dict[int, tuple[str, list[tuple[int, str]]]] = {}
        for stage in vs_stage.queryset:
            stream = stage.value_stream
            groups.setdefault(stream.pk, (stream.name, []))[1].append((stage.pk, stage.name))
        vs_stage.choices = [("", "None"), *groups.values()]
