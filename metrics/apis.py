"""The KPI API: CONTRACT.md's ``kpis`` JSON for an inclusive date range, like ``manage.py kpis``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from journeys.models import Journey
from metrics.engine import kpis_for_period, parse_date_range
from metrics.manual import manual_value_delete, manual_value_set
from metrics.models import ManualKpiValue
from portfolio.apis import OrgScopedAPIMixin
from streams.models import ValueStream


class KpisSerializer(serializers.Serializer):
    org = serializers.SlugField(help_text="The organization's slug.")
    from_ = serializers.DateField(help_text="First day of the range (inclusive).")
    to = serializers.DateField(help_text="Last day of the range (inclusive).")
    value_streams = serializers.DictField(
        child=serializers.DictField(child=serializers.FloatField(allow_null=True)),
        help_text="By value stream slug: every flow and DORA key of DOMAIN.md, null where "
        "undefined; each value stream's metrics include its descendants'.",
    )
    journeys = serializers.DictField(
        child=serializers.DictField(child=serializers.FloatField(allow_null=True)),
        help_text="By journey slug: every journey KPI key of DOMAIN.md, null where undefined.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        # "from" is a Python keyword; the JSON field is still called "from".
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class KpisErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What is wrong with the dates.")


@extend_schema(tags=["metrics"])
class KpisAPI(OrgScopedAPIMixin, APIView):
    @extend_schema(
        summary="Metrics of every value stream and journey for a date range",
        description=(
            "CONTRACT.md's kpis JSON, the same as `manage.py kpis`: the dates are inclusive "
            "calendar days in the organization's time zone. Every metric key appears for every "
            "subject, null where its denominator is empty."
        ),
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, required=True, description="YYYY-MM-DD"),
            OpenApiParameter("to", OpenApiTypes.DATE, required=True, description="YYYY-MM-DD"),
        ],
        responses={
            200: KpisSerializer,
            400: OpenApiResponse(KpisErrorSerializer, description="A missing or bad date."),
            404: OpenApiResponse(description="No such organization (or the caller is not in it)."),
        },
    )
    def get(self, request: Request, org_slug: str) -> Response:
        try:
            date_from, date_to = parse_date_range(
                request.query_params.get("from"), request.query_params.get("to")
            )
        except ValidationError as exc:
            return Response({"detail": exc.messages[0]}, status=status.HTTP_400_BAD_REQUEST)
        data = kpis_for_period(organization=self.organization, date_from=date_from, date_to=date_to)
        return Response(data)


class ManualKpiValueSerializer(serializers.ModelSerializer):
    subject_type = serializers.ChoiceField(
        choices=["value_stream", "journey"], help_text="What the value is of."
    )
    subject = serializers.SlugField(
        source="subject_slug", help_text="The value stream's or journey's slug."
    )
    entered_by = serializers.SerializerMethodField(help_text="Who entered it (email).")

    class Meta:
        model = ManualKpiValue
        fields = [
            "id",
            "subject_type",
            "subject",
            "key",
            "period_kind",
            "period_start",
            "period_end",
            "value",
            "note",
            "entered_by",
        ]
        read_only_fields = ["id", "period_end", "entered_by"]
        extra_kwargs = {
            "key": {"help_text": "A KPI key of DOMAIN.md for the subject's type."},
            "period_start": {"help_text": "The first day of the week, month or quarter."},
        }

    def get_entered_by(self, instance: ManualKpiValue) -> str | None:
        return instance.entered_by.email if instance.entered_by_id else None


@extend_schema_view(
    list=extend_schema(summary="Manual KPI values (measured elsewhere, entered by hand)"),
    retrieve=extend_schema(summary="One manual KPI value"),
    create=extend_schema(
        summary="Enter a manual KPI value (editors); replaces the one for the same "
        "subject, key and period"
    ),
    destroy=extend_schema(summary="Delete a manual KPI value (editors)"),
)
@extend_schema(tags=["kpis"])
class ManualKpiValueViewSet(
    OrgScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = ManualKpiValue.objects.all()
    serializer_class = ManualKpiValueSerializer

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("journey", "value_stream", "entered_by")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        model = Journey if data["subject_type"] == "journey" else ValueStream
        slug = data["subject_slug"]
        subject = model.objects.filter(organization=self.organization, slug=slug).first()
        if subject is None:
            what = data["subject_type"].replace("_", " ")
            raise ApiValidationError({"subject": [f"No {what} '{slug}'."]})
        try:
            manual = manual_value_set(
                organization=self.organization,
                subject=subject,
                key=data["key"],
                period_kind=data["period_kind"],
                period_start=data["period_start"],
                value=data["value"],
                note=data.get("note", ""),
                user=request.user,
            )
        except ValidationError as exc:
            raise ApiValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
            ) from exc
        return Response(self.get_serializer(manual).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ManualKpiValue) -> None:
        manual_value_delete(organization=self.organization, manual=instance)
