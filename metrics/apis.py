"""The KPI API: CONTRACT.md's ``kpis`` JSON for an inclusive date range, like ``manage.py kpis``."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from metrics.engine import kpis_for_period, parse_date_range
from portfolio.apis import OrgScopedAPIMixin


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
