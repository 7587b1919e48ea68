"""The REST API of the organization's model: the base every entity's endpoints
share, and the portfolio's (layers, teams, product families, products,
components) and the OKRs' (objectives, key results).

Each entity has list, create, retrieve, update, partial update, delete, and
``<pk>/history/``. References between entities are natural keys, as in the
model JSON (docs/formats.md#the-model-json): a slug, a layer's name, a member's email, or two
slugs joined by a slash for a stage ("dental/onboarding"). Only the request's
organization's objects can be named; another organization's answer exactly
like missing ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Model, Prefetch, Q, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from journeys.models import Journey
from metrics.definitions import METRICS
from metrics.engine import ROUND_DIGITS
from portfolio.api_input import ApiModelSerializer, ApiSerializer
from portfolio.api_schema import ReadNullableFloatField
from portfolio.apis import (
    OrgRelatedField,
    OrgScopedAPIMixin,
    OwnerEmailField,
    api_error,
)
from portfolio.entities import entity_delete, entity_save
from portfolio.models import (
    CheckIn,
    CheckInSource,
    Component,
    ComponentKind,
    KeyResult,
    Layer,
    Objective,
    Product,
    ProductFamily,
    Team,
)
from portfolio.okrs import (
    check_in_create,
    check_in_delete,
    key_result_progress,
    objective_progress,
    okr_status,
    quarter_elapsed,
)
from portfolio.services import key_result_save, layer_save, layers_reorder, objective_save
from streams.models import ValueStream

# Never shown as changed: the id never changes, the organization cannot.
HISTORY_IGNORED = ("id", "organization")


def apply[M: Model](instance: M, data: dict[str, Any]) -> M:
    """Set the validated values of the instance's own fields on it."""
    for name, value in data.items():
        setattr(instance, name, value)
    return instance


@contextmanager
def errors_under(field: str) -> Iterator[None]:
    """Key a service's field-less ValidationError to the API field it is about."""
    try:
        yield
    except DjangoValidationError as exc:
        if hasattr(exc, "error_dict"):
            raise
        raise DjangoValidationError({field: exc.messages}) from exc


class HistoryRecordSerializer(serializers.Serializer):
    history_id = serializers.IntegerField()
    history_date = serializers.DateTimeField()
    history_type = serializers.ChoiceField(
        choices=[("+", "created"), ("~", "changed"), ("-", "deleted")],
        help_text="`+` created, `~` changed, `-` deleted.",
    )
    history_user = serializers.EmailField(
        allow_null=True, help_text="The email of who made the change; null for the system."
    )
    changed_fields = serializers.ListField(
        child=serializers.CharField(),
        help_text=(
            "The fields this change set, by their API names: for a change, those that differ "
            "from the previous record; for a creation, those not left at their default."
        ),
    )


class ReorderSerializer(ApiSerializer):
    order = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="The ids of all the items, each exactly once, in their new order.",
    )


class EntityViewSet(OrgScopedAPIMixin, viewsets.ModelViewSet):
    """CRUD and change history of one kind of model entity.

    Subclasses validate input with their serializer and write through the
    services in ``write`` (and ``remove`` for deletes); a service's
    ValidationError answers 400 and nothing is written.
    """

    filter_backends = [filters.DjangoFilterBackend]
    # Model field -> API field, where they differ (for errors and history).
    api_names: ClassVar[dict[str, str]] = {}

    def write(self, instance: Model | None, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def remove(self, instance: Model) -> None:
        entity_delete(instance, organization=self.organization)

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        self._write(serializer, None)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        self._write(serializer, serializer.instance)

    def _write(self, serializer: serializers.BaseSerializer, instance: Model | None) -> None:
        try:
            # One savepoint: a failing later step (links, flags) undoes the earlier ones.
            with transaction.atomic():
                saved = self.write(instance, dict(serializer.validated_data))
        except DjangoValidationError as exc:
            raise api_error(exc, fields=self.api_names) from exc
        # Answer with the stored object as a read shows it: services set slugs,
        # positions, flags and links.
        serializer.instance = self.get_queryset().get(pk=saved.pk)

    def perform_destroy(self, instance: Model) -> None:
        try:
            with transaction.atomic():
                self.remove(instance)
        except DjangoValidationError as exc:
            raise api_error(exc, fields=self.api_names) from exc

    @extend_schema(
        summary="Change history, newest first",
        request=None,
        responses=HistoryRecordSerializer(many=True),
    )
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        serializer_class=HistoryRecordSerializer,
    )
    def history(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        records = instance.history.select_related("history_user").order_by(
            "-history_date", "-history_id"
        )
        page = list(self.paginate_queryset(records))
        # The record before the page's oldest, to tell what that one changed.
        before = None
        if page:
            last = page[-1]
            before = records.filter(
                Q(history_date__lt=last.history_date)
                | Q(history_date=last.history_date, history_id__lt=last.history_id)
            ).first()
        rows = [
            {
                "history_id": record.history_id,
                "history_date": record.history_date,
                "history_type": record.history_type,
                "history_user": record.history_user.email if record.history_user else None,
                "changed_fields": self._changed_fields(record, previous),
            }
            for record, previous in zip(page, [*page[1:], before], strict=True)
        ]
        return self.get_paginated_response(HistoryRecordSerializer(rows, many=True).data)

    def _changed_fields(self, record: Model, previous: Model | None) -> list[str]:
        if record.history_type == "-":
            return []
        fields = [f for f in record.tracked_fields if f.name not in HISTORY_IGNORED]
        if record.history_type == "~" and previous is not None:
            delta = record.diff_against(previous, excluded_fields=HISTORY_IGNORED)
            changed = set(delta.changed_fields)
        else:
            changed = {f.name for f in fields if getattr(record, f.attname) != f.get_default()}
        # In the model's field order, under the API's names.
        names = (self.api_names.get(f.name, f.name) for f in fields if f.name in changed)
        return list(dict.fromkeys(names))

    def reordered(
        self,
        request: Request,
        reorder: Callable[[list[int]], None],
        items: QuerySet,
        serializer_class: type[serializers.BaseSerializer],
    ) -> Response:
        """Run ``reorder(ordered_ids)`` on ``request``'s order and answer the items in order."""
        body = ReorderSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            with transaction.atomic(), errors_under("order"):
                reorder(body.validated_data["order"])
        except DjangoValidationError as exc:
            raise api_error(exc) from exc
        context = self.get_serializer_context()
        return Response(serializer_class(items.all(), many=True, context=context).data)


# --- The portfolio -------------------------------------------------------------------


class LayerSerializer(ApiModelSerializer):
    class Meta:
        model = Layer
        fields = ["id", "name", "position"]
        read_only_fields = ["id", "position"]


@extend_schema(tags=["portfolio"])
class LayerViewSet(EntityViewSet):
    """The layers of the portfolio map, top (business) to bottom (infrastructure).

    A new layer goes to the bottom; `POST layers/reorder/` reorders them all.
    Products and components reference a layer by its name.
    """

    queryset = Layer.objects.all()
    serializer_class = LayerSerializer

    def write(self, instance: Layer | None, data: dict[str, Any]) -> Layer:
        return layer_save(organization=self.organization, layer=apply(instance or Layer(), data))

    @extend_schema(
        summary="Reorder the layers",
        request=ReorderSerializer,
        responses=LayerSerializer(many=True),
    )
    @action(
        detail=False,
        methods=["post"],
        serializer_class=ReorderSerializer,
        filter_backends=[],
        pagination_class=None,
    )
    def reorder(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.reordered(
            request,
            lambda ids: layers_reorder(organization=self.organization, ordered_ids=ids),
            self.get_queryset(),
            LayerSerializer,
        )


class TeamSerializer(ApiModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "slug", "name"]
        read_only_fields = ["id"]


@extend_schema(tags=["portfolio"])
class TeamViewSet(EntityViewSet):
    """Teams own components. A team still owning components cannot be deleted."""

    queryset = Team.objects.all()
    serializer_class = TeamSerializer

    def write(self, instance: Team | None, data: dict[str, Any]) -> Team:
        return entity_save(apply(instance or Team(), data), organization=self.organization)


class ProductFamilySerializer(ApiModelSerializer):
    products = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="slug", help_text="Its products' slugs."
    )

    class Meta:
        model = ProductFamily
        fields = ["id", "slug", "name", "products"]
        read_only_fields = ["id"]


@extend_schema(tags=["portfolio"])
class ProductFamilyViewSet(EntityViewSet):
    """Product families group products. A family with products cannot be deleted."""

    queryset = ProductFamily.objects.all()
    serializer_class = ProductFamilySerializer

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.prefetch_related(
            Prefetch("products", queryset=Product.objects.order_by("name", "id"))
        )

    def write(self, instance: ProductFamily | None, data: dict[str, Any]) -> ProductFamily:
        return entity_save(apply(instance or ProductFamily(), data), organization=self.organization)


class ProductSerializer(ApiModelSerializer):
    family = OrgRelatedField(ProductFamily)
    layer = OrgRelatedField(Layer, keys=("name",))

    class Meta:
        model = Product
        fields = ["id", "slug", "name", "family", "layer"]
        read_only_fields = ["id"]


class ProductFilter(filters.FilterSet):
    family = filters.CharFilter(field_name="family__slug", label="Product family slug")
    layer = filters.CharFilter(field_name="layer__name", label="Layer name")


@extend_schema(tags=["portfolio"])
class ProductViewSet(EntityViewSet):
    """Products, in a product family, on a layer (usually "Business products")."""

    queryset = Product.objects.all()
    serializer_class = ProductSerializer
    filterset_class = ProductFilter

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("family", "layer")

    def write(self, instance: Product | None, data: dict[str, Any]) -> Product:
        return entity_save(apply(instance or Product(), data), organization=self.organization)


class ComponentSerializer(ApiModelSerializer):
    layer = OrgRelatedField(Layer, keys=("name",))
    team = OrgRelatedField(Team)
    product = OrgRelatedField(Product, required=False, allow_null=True)

    class Meta:
        model = Component
        fields = ["id", "slug", "name", "kind", "layer", "team", "product"]
        read_only_fields = ["id"]


class ComponentFilter(filters.FilterSet):
    layer = filters.CharFilter(field_name="layer__name", label="Layer name")
    team = filters.CharFilter(field_name="team__slug", label="Team slug")
    product = filters.CharFilter(field_name="product__slug", label="Product slug")
    kind = filters.ChoiceFilter(choices=ComponentKind.choices)


@extend_schema(tags=["portfolio"])
class ComponentViewSet(EntityViewSet):
    """Apps, services and platforms: each on a layer, owned by a team, optionally
    part of a product."""

    queryset = Component.objects.all()
    serializer_class = ComponentSerializer
    filterset_class = ComponentFilter

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("layer", "team", "product")

    def write(self, instance: Component | None, data: dict[str, Any]) -> Component:
        return entity_save(apply(instance or Component(), data), organization=self.organization)


# --- OKRs ------------------------------------------------------------------------------


class ProgressFields(serializers.Serializer):
    """An objective's or key result's ``progress`` (percent, 0..100; null when not
    measured) and ``status`` against the elapsed share of its quarter (portfolio.okrs)."""

    progress = serializers.SerializerMethodField(
        help_text="Progress in percent, 0..100 (portfolio.okrs); null when not measured."
    )
    status = serializers.SerializerMethodField(
        help_text="on_track, at_risk, off_track or no_data: progress against the elapsed "
        "share of the quarter."
    )

    def _quarter(self, obj: Objective | KeyResult) -> str:
        return obj.quarter if isinstance(obj, Objective) else obj.objective.quarter

    def get_progress(self, obj: Objective | KeyResult) -> float | None:
        return None if obj.progress is None else round(100 * obj.progress, ROUND_DIGITS)

    def get_status(self, obj: Objective | KeyResult) -> str:
        # The elapsed share of each quarter, once per response.
        elapsed = self.context.setdefault("quarter_elapsed", {})
        quarter = self._quarter(obj)
        if quarter not in elapsed:
            elapsed[quarter] = quarter_elapsed(self.context["organization"], quarter)
        return okr_status(obj.progress, elapsed[quarter]).value


class ObjectiveSerializer(ProgressFields, ApiModelSerializer):
    parent = OrgRelatedField(Objective, required=False, allow_null=True)
    owner_email = OwnerEmailField()
    value_streams = OrgRelatedField(ValueStream, many=True, required=False)
    journeys = OrgRelatedField(Journey, many=True, required=False)
    key_results = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="slug", help_text="Its key results' slugs."
    )

    class Meta:
        model = Objective
        fields = [
            "id",
            "slug",
            "title",
            "quarter",
            "parent",
            "owner_email",
            "value_streams",
            "journeys",
            "key_results",
            "progress",
            "status",
        ]
        read_only_fields = ["id"]


class ObjectiveFilter(filters.FilterSet):
    quarter = filters.CharFilter(label="Quarter, such as 2026-Q3")
    parent = filters.CharFilter(field_name="parent__slug", label="Parent objective slug")
    value_stream = filters.CharFilter(field_name="value_streams__slug", label="Value stream slug")
    journey = filters.CharFilter(field_name="journeys__slug", label="Journey slug")


@extend_schema(tags=["okrs"])
class ObjectiveViewSet(EntityViewSet):
    """Objectives of a quarter, linked to value streams (and optionally journeys);
    an objective may align to a parent objective, never to one of its own descendants.
    `value_streams` and `journeys`, when given, replace the links."""

    queryset = Objective.objects.all()
    serializer_class = ObjectiveSerializer
    filterset_class = ObjectiveFilter

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return (
            queryset.annotate(progress=objective_progress())
            .select_related("parent")
            .prefetch_related(
                Prefetch("value_streams", queryset=ValueStream.objects.order_by("name", "id")),
                Prefetch("journeys", queryset=Journey.objects.order_by("name", "id")),
                Prefetch("key_results", queryset=KeyResult.objects.order_by("id")),
            )
        )

    def write(self, instance: Objective | None, data: dict[str, Any]) -> Objective:
        value_streams = data.pop("value_streams", None)
        journeys = data.pop("journeys", None)
        return objective_save(
            organization=self.organization,
            objective=apply(instance or Objective(), data),
            value_streams=value_streams,
            journeys=journeys,
        )


class MetricSerializer(ApiSerializer):
    value_stream = OrgRelatedField(ValueStream, required=False, allow_null=True)
    journey = OrgRelatedField(Journey, required=False, allow_null=True)
    key = serializers.ChoiceField(
        choices=sorted(METRICS), help_text="A metric key of the subject's kind."
    )


@extend_schema_field(MetricSerializer(allow_null=True))
class MetricField(serializers.Field):
    """A key result's linked metric: ``{"value_stream": slug, "key": ...}`` or
    ``{"journey": slug, "key": ...}``; null for a manual key result."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "The linked metric; null for manual check-ins.")
        super().__init__(source="*", **kwargs)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            return True, {"metric_value_stream": None, "metric_journey": None, "metric_key": ""}
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        metric = MetricSerializer(data=data, context=self.context)
        metric.is_valid(raise_exception=True)
        return {
            "metric_value_stream": metric.validated_data.get("value_stream"),
            "metric_journey": metric.validated_data.get("journey"),
            "metric_key": metric.validated_data["key"],
        }

    def to_representation(self, value: KeyResult) -> dict[str, Any] | None:
        if not (value.metric_value_stream_id or value.metric_journey_id):
            return None
        stream, journey = value.metric_value_stream, value.metric_journey
        return {
            "value_stream": stream.slug if stream else None,
            "journey": journey.slug if journey else None,
            "key": value.metric_key,
        }


class KeyResultSerializer(ProgressFields, ApiModelSerializer):
    objective = OrgRelatedField(Objective)
    metric = MetricField(required=False)
    current = serializers.FloatField(
        source="current_value",
        read_only=True,
        allow_null=True,
        help_text="The latest check-in's value, or the linked metric's for the quarter to date.",
    )

    class Meta:
        model = KeyResult
        fields = [
            "id",
            "objective",
            "slug",
            "title",
            "baseline",
            "target",
            "unit",
            "weight",
            "metric",
            "current",
            "current_as_of",
            "progress",
            "status",
        ]
        read_only_fields = ["id", "current_as_of"]


class KeyResultFilter(filters.FilterSet):
    objective = filters.CharFilter(field_name="objective__slug", label="Objective slug")
    quarter = filters.CharFilter(field_name="objective__quarter", label="Objective's quarter")


@extend_schema(tags=["okrs"])
class KeyResultViewSet(EntityViewSet):
    """Key results of an objective: manual, or linked to a metric of a value stream
    or a journey (`metric`), whose key must be of that subject's kind."""

    queryset = KeyResult.objects.all()
    serializer_class = KeyResultSerializer
    filterset_class = KeyResultFilter
    api_names = {
        "metric_value_stream": "metric",
        "metric_journey": "metric",
        "metric_key": "metric",
    }

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.annotate(progress=key_result_progress()).select_related(
            "objective", "metric_value_stream", "metric_journey"
        )

    def write(self, instance: KeyResult | None, data: dict[str, Any]) -> KeyResult:
        with errors_under("metric"):
            return key_result_save(
                organization=self.organization, key_result=apply(instance or KeyResult(), data)
            )


class CheckInSerializer(ApiModelSerializer):
    key_result = OrgRelatedField(
        KeyResult,
        keys=("objective__slug", "slug"),
        kind="key result",
        help_text="The key result, as its objective's slug and its own: 'faster-claims/nps'.",
    )
    author = serializers.SlugRelatedField(
        slug_field="email", read_only=True, allow_null=True, help_text="Null for a measurement."
    )
    value = ReadNullableFloatField(
        help_text="The value checked in; null for a measurement of an undefined metric."
    )

    class Meta:
        model = CheckIn
        fields = ["id", "key_result", "at", "value", "confidence", "note", "author", "source"]
        read_only_fields = ["id", "author", "source"]
        extra_kwargs = {"at": {"required": False}}


class CheckInFilter(filters.FilterSet):
    objective = filters.CharFilter(field_name="key_result__objective__slug", label="Objective slug")
    key_result = filters.CharFilter(field_name="key_result__slug", label="Key result slug")
    source = filters.ChoiceFilter(choices=CheckInSource.choices)


@extend_schema(tags=["okrs"])
class CheckInViewSet(
    OrgScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A key result's history: people's check-ins on manual key results, and the
    workers' measurements of linked ones (`source` `metric`, read-only). A check-in
    sets the key result's current value when it is the latest by `at`."""

    queryset = CheckIn.objects.all()
    serializer_class = CheckInSerializer
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = CheckInFilter

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("key_result__objective", "author").order_by(
            "key_result_id", "at", "id"
        )

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        data = serializer.validated_data
        try:
            saved = check_in_create(
                organization=self.organization,
                key_result=data["key_result"],
                value=data["value"],
                confidence=data.get("confidence"),
                note=data.get("note", ""),
                author=self.request.user,
                at=data.get("at"),
            )
        except DjangoValidationError as exc:
            raise api_error(exc) from exc
        serializer.instance = self.get_queryset().get(pk=saved.pk)

    def perform_destroy(self, instance: CheckIn) -> None:
        try:
            check_in_delete(organization=self.organization, check_in=instance)
        except DjangoValidationError as exc:
            raise api_error(exc) from exc
