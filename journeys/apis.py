"""The REST API of customer journeys, their stages and touchpoints.

A journey stage's `entry`, `work_start` and `conversion` flags: exactly one
stage of each journey has each (docs/metrics.md#customer-journeys: by default the
first, second and last). Setting a flag true on a stage moves it there and pins it;
it cannot be set false on its stage, only moved. Stages are ordered: a new stage goes
last, and ``POST journeys/<id>/stages/reorder/`` reorders them all.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, Q, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from journeys.models import Channel, Journey, JourneyStage, Touchpoint
from journeys.services import (
    FLAGS,
    journey_delete,
    journey_flags_normalize,
    journey_save,
    journey_stage_delete,
    journey_stage_save,
    journey_stages_reorder,
    touchpoint_delete,
    touchpoint_save,
)
from portfolio.api_input import ApiModelSerializer
from portfolio.apis import OrgRelatedField
from portfolio.entity_apis import EntityViewSet, ReorderSerializer, apply
from portfolio.models import Component, Product
from streams.models import Stage

# The API's names of the stage flags (journeys.services.FLAGS).
FLAG_NAMES = {"is_entry": "entry", "is_work_start": "work_start", "is_conversion": "conversion"}


class JourneySerializer(ApiModelSerializer):
    product = OrgRelatedField(Product, required=False, allow_null=True)
    stages = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="slug", help_text="Its stages' slugs, in order."
    )

    class Meta:
        model = Journey
        fields = ["id", "slug", "name", "persona", "product", "stages"]
        read_only_fields = ["id"]


class JourneyFilter(filters.FilterSet):
    product = filters.CharFilter(field_name="product__slug", label="Product slug")
    search = filters.CharFilter(method="filter_search", label="Part of the name or persona")

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(name__icontains=value) | Q(persona__icontains=value))


def _flag(help_text: str, source: str) -> serializers.BooleanField:
    return serializers.BooleanField(source=source, required=False, help_text=help_text)


class JourneyStageSerializer(ApiModelSerializer):
    journey = OrgRelatedField(Journey)
    entry = _flag("The journey's entry stage (default: the first).", "is_entry")
    work_start = _flag("The stage where work starts (default: the second).", "is_work_start")
    conversion = _flag("The conversion stage (default: the last).", "is_conversion")

    class Meta:
        model = JourneyStage
        fields = [
            "id",
            "journey",
            "slug",
            "name",
            "position",
            "emotion",
            "pain_points",
            "opportunities",
            "entry",
            "work_start",
            "conversion",
        ]
        read_only_fields = ["id", "position"]
        extra_kwargs = {
            "slug": {"required": False, "help_text": "Derived from the name when not given."},
            "emotion": {"help_text": "-2 (very negative) .. +2 (very positive), or null."},
        }

    def validate_journey(self, value: Journey) -> Journey:
        if self.instance is not None and value.pk != self.instance.journey_id:
            raise serializers.ValidationError(
                "A stage stays in its journey; add a stage to the other journey instead."
            )
        return value


def _journey_stages() -> QuerySet[JourneyStage]:
    return JourneyStage.objects.select_related("journey")


@extend_schema(tags=["journeys"])
class JourneyViewSet(EntityViewSet):
    """Customer journeys: a persona, ordered stages, touchpoints in each stage."""

    queryset = Journey.objects.all()
    serializer_class = JourneySerializer
    filterset_class = JourneyFilter

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("product").prefetch_related(
            Prefetch("stages", queryset=JourneyStage.objects.order_by("position", "id"))
        )

    def write(self, instance: Journey | None, data: dict[str, Any]) -> Journey:
        return journey_save(
            organization=self.organization, journey=apply(instance or Journey(), data)
        )

    def remove(self, instance: Journey) -> None:
        journey_delete(organization=self.organization, journey=instance)

    @extend_schema(
        summary="Reorder the journey's stages",
        request=ReorderSerializer,
        responses=JourneyStageSerializer(many=True),
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="stages/reorder",
        url_name="stages-reorder",
        serializer_class=ReorderSerializer,
        filter_backends=[],
        pagination_class=None,
    )
    def reorder_stages(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        journey = self.get_object()

        def reorder(ids: list[int]) -> None:
            journey_stages_reorder(organization=self.organization, journey=journey, ordered_ids=ids)
            # Flags not set on purpose follow the new first, second and last stages.
            journey_flags_normalize(organization=self.organization, journey=journey)

        return self.reordered(
            request,
            reorder,
            _journey_stages().filter(organization=self.organization, journey=journey),
            JourneyStageSerializer,
        )


class JourneyStageFilter(filters.FilterSet):
    journey = filters.CharFilter(field_name="journey__slug", label="Journey slug")


@extend_schema(tags=["journeys"])
class JourneyStageViewSet(EntityViewSet):
    """The stages of journeys, with their emotion, pain points and opportunities.

    A new stage goes last in its journey, which it never leaves. Setting `entry`,
    `work_start` or `conversion` true moves that flag to this stage for good;
    false never unsets a flag the stage has (move it to another stage instead).
    """

    queryset = JourneyStage.objects.all()
    serializer_class = JourneyStageSerializer
    filterset_class = JourneyStageFilter
    api_names = FLAG_NAMES

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("journey")

    def write(self, instance: JourneyStage | None, data: dict[str, Any]) -> JourneyStage:
        wanted = {flag: data.pop(flag) for flag in FLAGS if flag in data}
        errors = {
            flag: (
                f"'{instance.slug}' is the journey's {FLAG_NAMES[flag].replace('_', ' ')} "
                f"stage; set {FLAG_NAMES[flag]} on another stage to move the flag."
            )
            for flag, value in wanted.items()
            if instance is not None and not value and getattr(instance, flag)
        }
        if errors:
            raise DjangoValidationError(errors)
        # A flag the stage already has stays as it is (a read-modify-write of the
        # stage must not pin a default flag).
        set_flags = [
            flag
            for flag, value in wanted.items()
            if value and not (instance is not None and getattr(instance, flag))
        ]
        return journey_stage_save(
            organization=self.organization,
            stage=apply(instance or JourneyStage(), data),
            set_flags=set_flags,
        )

    def remove(self, instance: JourneyStage) -> None:
        journey_stage_delete(organization=self.organization, stage=instance)


class TouchpointSerializer(ApiModelSerializer):
    journey = OrgRelatedField(Journey, read_only=True, help_text="The stage's journey's slug.")
    stage = OrgRelatedField(
        JourneyStage,
        keys=("journey__slug", "slug"),
        help_text="The journey stage it is in, as 'journey-slug/stage-slug'.",
    )
    value_stream_stage = OrgRelatedField(
        Stage,
        keys=("value_stream__slug", "slug"),
        kind="value stream stage",
        required=False,
        allow_null=True,
        help_text="The value stream stage serving it, as 'stream-slug/stage-slug'; or null.",
    )
    components = OrgRelatedField(Component, many=True, required=False)

    class Meta:
        model = Touchpoint
        fields = [
            "id",
            "journey",
            "stage",
            "slug",
            "name",
            "channel",
            "emotion",
            "position",
            "value_stream_stage",
            "components",
        ]
        read_only_fields = ["id"]
        extra_kwargs = {
            "slug": {"required": False, "help_text": "Derived from the name when not given."},
            "emotion": {"help_text": "-2 (very negative) .. +2 (very positive), or null."},
            "position": {"help_text": "Its place among the stage's touchpoints."},
        }


class TouchpointFilter(filters.FilterSet):
    journey = filters.CharFilter(field_name="journey__slug", label="Journey slug")
    stage = filters.CharFilter(method="filter_stage", label="Journey stage, 'journey/stage'")
    channel = filters.ChoiceFilter(choices=Channel.choices)
    value_stream_stage = filters.CharFilter(
        method="filter_value_stream_stage", label="Value stream stage, 'stream/stage'"
    )
    component = filters.CharFilter(field_name="components__slug", label="Component slug")

    def filter_stage(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        journey, _, stage = value.partition("/")
        return queryset.filter(stage__journey__slug=journey, stage__slug=stage)

    def filter_value_stream_stage(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        stream, _, stage = value.partition("/")
        return queryset.filter(
            value_stream_stage__value_stream__slug=stream, value_stream_stage__slug=stage
        )


@extend_schema(tags=["journeys"])
class TouchpointViewSet(EntityViewSet):
    """Touchpoints: where the customer meets the organization in a journey stage,
    served by components and by a value stream stage. `components`, when given,
    replaces the touchpoint's components."""

    queryset = Touchpoint.objects.all()
    serializer_class = TouchpointSerializer
    filterset_class = TouchpointFilter

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.select_related(
            "journey", "stage__journey", "value_stream_stage__value_stream"
        ).prefetch_related(
            Prefetch("components", queryset=Component.objects.order_by("name", "id"))
        )

    def write(self, instance: Touchpoint | None, data: dict[str, Any]) -> Touchpoint:
        components = data.pop("components", None)
        return touchpoint_save(
            organization=self.organization,
            touchpoint=apply(instance or Touchpoint(), data),
            components=components,
        )

    def remove(self, instance: Touchpoint) -> None:
        touchpoint_delete(organization=self.organization, touchpoint=instance)
