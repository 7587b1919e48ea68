"""The REST API of value streams and their stages.

A value stream's tool-status mapping is its `status_map` field (tool status ->
state category), not an endpoint of its own: it is always read and replaced
whole. Stages are ordered: a new stage goes last, and
``POST value-streams/<id>/stages/reorder/`` reorders them all.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import JSONObject
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from portfolio.api_input import ApiModelSerializer, BooleanFilter
from portfolio.apis import OrgRelatedField, OwnerEmailField
from portfolio.entity_apis import EntityViewSet, ReorderSerializer, apply, errors_under
from portfolio.models import Component
from streams.models import Stage, StateCategory, StatusMapping, StreamKind, ValueStream
from streams.services import (
    stage_add,
    stage_components_set,
    stage_delete,
    stage_save,
    stages_reorder,
    status_mappings_set,
    value_stream_delete,
    value_stream_save,
)


class StatusMapField(serializers.DictField):
    """The stream's mapping of tool statuses to state categories
    (docs/metrics.md#flow-items-and-transitions)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text",
            'Tool status -> state category, e.g. {"In Review": "waiting"}. Statuses are '
            "compared without case; a write replaces the whole mapping.",
        )
        super().__init__(child=serializers.ChoiceField(choices=StateCategory.choices), **kwargs)

    def get_attribute(self, instance: ValueStream) -> dict[str, str]:
        pairs = getattr(instance, "status_pairs", None)  # the list's annotation
        if pairs is None:
            return {m.tool_status: m.category for m in instance.status_mappings.all()}
        return {p["status"]: p["category"] for p in pairs}


class StageSlugsField(serializers.ListField):
    """The stream's stages' slugs, in order (read-only: stages have their own endpoint)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "Its stages' slugs, in order.")
        super().__init__(child=serializers.CharField(), read_only=True, **kwargs)

    def get_attribute(self, instance: ValueStream) -> list[str]:
        slugs = getattr(instance, "stage_slugs", None)  # the list's annotation
        if slugs is None:
            return [stage.slug for stage in instance.stages.order_by("position", "id")]
        return slugs


class ValueStreamSerializer(ApiModelSerializer):
    parent = OrgRelatedField(ValueStream, required=False, allow_null=True)
    owner_email = OwnerEmailField()
    status_map = StatusMapField(required=False)
    stages = StageSlugsField()

    class Meta:
        model = ValueStream
        fields = [
            "id",
            "slug",
            "name",
            "kind",
            "description",
            "parent",
            "owner_email",
            "status_map",
            "stages",
        ]
        read_only_fields = ["id"]


class ValueStreamFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=StreamKind.choices)
    parent = filters.CharFilter(field_name="parent__slug", label="Parent value stream slug")
    root = BooleanFilter(
        field_name="parent", lookup_expr="isnull", label="Only the streams with no parent"
    )
    search = filters.CharFilter(method="filter_search", label="Part of the name or slug")

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(name__icontains=value) | Q(slug__icontains=value))


class StageSerializer(ApiModelSerializer):
    value_stream = OrgRelatedField(ValueStream)
    components = OrgRelatedField(Component, many=True, required=False)

    class Meta:
        model = Stage
        fields = ["id", "value_stream", "slug", "name", "position", "components"]
        read_only_fields = ["id", "position"]
        extra_kwargs = {
            "slug": {"required": False, "help_text": "Derived from the name when not given."}
        }

    def validate_value_stream(self, value: ValueStream) -> ValueStream:
        if self.instance is not None and value.pk != self.instance.value_stream_id:
            raise serializers.ValidationError(
                "A stage stays in its value stream; add a stage to the other stream instead."
            )
        return value


def _stages() -> QuerySet[Stage]:
    return Stage.objects.select_related("value_stream").prefetch_related(
        Prefetch("components", queryset=Component.objects.order_by("name", "id"))
    )


@extend_schema(tags=["value streams"])
class ValueStreamViewSet(EntityViewSet):
    """Value streams: ordered stages, a parent in the cascade (business -> team level;
    never a cycle), and the mapping of tool statuses to state categories.

    A stream with child streams cannot be deleted; deleting one deletes its stages.
    """

    queryset = ValueStream.objects.all()
    serializer_class = ValueStreamSerializer
    filterset_class = ValueStreamFilter

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        # The mapping and the stages' slugs come with each stream's row (arrays built
        # by PostgreSQL): two prefetch queries and a model instance per row fewer.
        return queryset.select_related("parent").annotate(
            status_pairs=ArraySubquery(
                StatusMapping.objects.filter(value_stream=OuterRef("pk"))
                .order_by("tool_status")
                .values(pair=JSONObject(status="tool_status", category="category"))
            ),
            stage_slugs=ArraySubquery(
                Stage.objects.filter(value_stream=OuterRef("pk"))
                .order_by("position", "id")
                .values("slug")
            ),
        )

    def write(self, instance: ValueStream | None, data: dict[str, Any]) -> ValueStream:
        status_map = data.pop("status_map", None)
        stream = value_stream_save(
            organization=self.organization, value_stream=apply(instance or ValueStream(), data)
        )
        if status_map is not None:
            with errors_under("status_map"):
                status_mappings_set(
                    organization=self.organization, value_stream=stream, mapping=status_map
                )
        return stream

    def remove(self, instance: ValueStream) -> None:
        value_stream_delete(organization=self.organization, value_stream=instance)

    @extend_schema(
        summary="Reorder the stream's stages",
        request=ReorderSerializer,
        responses=StageSerializer(many=True),
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
        stream = self.get_object()
        return self.reordered(
            request,
            lambda ids: stages_reorder(
                organization=self.organization, value_stream=stream, ordered_ids=ids
            ),
            _stages().filter(organization=self.organization, value_stream=stream),
            StageSerializer,
        )


class StageFilter(filters.FilterSet):
    value_stream = filters.CharFilter(field_name="value_stream__slug", label="Value stream slug")
    component = filters.CharFilter(field_name="components__slug", label="Component slug")


@extend_schema(tags=["value streams"])
class StageViewSet(EntityViewSet):
    """The stages of value streams, each touching components (by slug).

    A new stage goes last in its stream, which it never leaves; `components`, when
    given, replaces the stage's components.
    """

    queryset = Stage.objects.all()
    serializer_class = StageSerializer
    filterset_class = StageFilter

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("value_stream").prefetch_related(
            Prefetch("components", queryset=Component.objects.order_by("name", "id"))
        )

    def write(self, instance: Stage | None, data: dict[str, Any]) -> Stage:
        components = data.pop("components", None)
        if instance is None:
            stage = stage_add(
                organization=self.organization,
                value_stream=data["value_stream"],
                name=data["name"],
                slug=data.get("slug", ""),
            )
        else:
            stage = stage_save(organization=self.organization, stage=apply(instance, data))
        if components is not None:
            stage_components_set(organization=self.organization, stage=stage, components=components)
        return stage

    def remove(self, instance: Stage) -> None:
        stage_delete(organization=self.organization, stage=instance)
