"""The metrics API: the ``kpis`` JSON (docs/formats.md#the-kpis-json) for an inclusive
date range (like ``manage.py kpis``), manual KPI values, and the quarterly report as an
asynchronous export (create, poll, download)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from journeys.models import Journey
from metrics.cache import kpis_for_period_cached
from metrics.engine import parse_date_range
from metrics.manual import manual_value_delete, manual_value_set
from metrics.models import ExportStatus, ManualKpiValue, ReportExport, ReportFile, ReportFormat
from metrics.reports.data import figures_in_progress
from metrics.reports.exports import CONTENT_TYPES, report_export_create, report_file_download
from portfolio.api_input import ApiModelSerializer, ApiSerializer
from portfolio.api_schema import ErrorSerializer
from portfolio.apis import OrgScopedAPIMixin
from streams.models import ValueStream


class KpisSerializer(serializers.Serializer):
    org = serializers.SlugField(help_text="The organization's slug.")
    from_ = serializers.DateField(help_text="First day of the range (inclusive).")
    to = serializers.DateField(help_text="Last day of the range (inclusive).")
    value_streams = serializers.DictField(
        child=serializers.DictField(child=serializers.FloatField(allow_null=True)),
        help_text="By value stream slug: every flow and DORA metric key, null where "
        "undefined; each value stream's metrics include its descendants'.",
    )
    journeys = serializers.DictField(
        child=serializers.DictField(child=serializers.FloatField(allow_null=True)),
        help_text="By journey slug: every journey KPI key, null where undefined.",
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
            "The kpis JSON (docs/formats.md), the same as `manage.py kpis`: the dates are "
            "inclusive calendar days in the organization's time zone. Every metric key appears "
            "for every subject, null where its denominator is empty."
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
        data = kpis_for_period_cached(
            organization=self.organization, date_from=date_from, date_to=date_to
        )
        return Response(data)


class ManualKpiValueSerializer(ApiModelSerializer):
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
            "key": {"help_text": "A metric key of the subject's type."},
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


# --- The quarterly report: an asynchronous export (metrics.reports.exports) ----------


def _download_url(request: Request | None, organization_slug: str, export_id: int, fmt: str) -> str:
    path = reverse(
        f"api_report_download_{fmt}", kwargs={"org_slug": organization_slug, "export_id": export_id}
    )
    return request.build_absolute_uri(path) if request is not None else path


class ReportExportSerializer(serializers.ModelSerializer):
    requested_by = serializers.SerializerMethodField(help_text="Who asked for it (email).")
    status_url = serializers.SerializerMethodField(help_text="Poll this URL for the status.")
    downloads = serializers.SerializerMethodField(
        help_text="The URL of each file built so far, by format; the files exist once the "
        "status is done."
    )
    in_progress = serializers.SerializerMethodField(
        help_text="Whether the quarter was still in progress when its figures were computed: "
        "they run to that day and are not frozen (every export computes them again until "
        "the first one after the quarter's end). Null until the figures are ready."
    )

    class Meta:
        model = ReportExport
        fields = [
            "id",
            "quarter",
            "formats",
            "recompute",
            "status",
            "progress",
            "step",
            "message",
            "frozen_at",
            "in_progress",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "status_url",
            "downloads",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "formats": {"help_text": "The formats asked for: pdf, xlsx, csv."},
            "progress": {"help_text": "Percent done, 0..100."},
            "step": {"help_text": "What the worker is doing now."},
            "message": {"help_text": "Why a failed export failed."},
            "frozen_at": {
                "help_text": "When the figures the files show were computed (and frozen, "
                "unless in_progress)."
            },
        }

    def get_requested_by(self, export: ReportExport) -> str | None:
        return export.requested_by.email if export.requested_by_id else None

    def get_in_progress(self, export: ReportExport) -> bool | None:
        if export.frozen_at is None:
            return None
        return figures_in_progress(
            organization=self.context["organization"],
            quarter=export.quarter,
            computed_at=export.frozen_at,
        )

    def get_status_url(self, export: ReportExport) -> str:
        path = reverse(
            "reportexport-detail",
            kwargs={"org_slug": self.context["organization"].slug, "pk": export.pk},
        )
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    @extend_schema_field(
        {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}
    )
    def get_downloads(self, export: ReportExport) -> dict[str, str]:
        if export.status != ExportStatus.DONE:
            return {}
        stored = {f.format for f in export.files.all()}
        slug = self.context["organization"].slug
        return {
            fmt: _download_url(self.context.get("request"), slug, export.pk, fmt)
            for fmt in ReportFormat.values
            if fmt in stored
        }


class ReportExportRequestSerializer(ApiSerializer):
    quarter = serializers.CharField(help_text="The quarter, such as 2026-Q3.")
    formats = serializers.ListField(
        child=serializers.ChoiceField(choices=ReportFormat.choices),
        required=False,
        allow_empty=False,
        help_text="Which files to build; all three (pdf, xlsx, csv) when left out.",
    )
    recompute = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Recompute the quarter's frozen figures from the events first (admins only).",
    )


@extend_schema_view(
    list=extend_schema(summary="The organization's report exports, newest first"),
    retrieve=extend_schema(
        summary="A report export: its status, progress and, once done, its download URLs"
    ),
    create=extend_schema(
        summary="Export a quarter's report (editors; recompute: admins)",
        description=(
            "Queues the export and answers 202 with it; poll `status_url` until the status "
            "is `done` (or `failed`), then fetch the files from `downloads`. A finished "
            "quarter's figures are frozen by its first export and reused by every later one "
            "unless `recompute` is true. A quarter that has not started is refused (400)."
        ),
        request=ReportExportRequestSerializer,
        responses={202: ReportExportSerializer},
    ),
)
@extend_schema(tags=["reports"])
class ReportExportViewSet(
    OrgScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = ReportExport.objects.all()
    serializer_class = ReportExportSerializer

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        files = ReportFile.objects.only("id", "export_id", "format")
        return (
            queryset.select_related("requested_by")
            .prefetch_related(Prefetch("files", queryset=files))
            .order_by("-created_at", "-id")
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ReportExportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            export = report_export_create(
                organization=self.organization,
                user=request.user,
                quarter=data["quarter"],
                formats=data.get("formats"),
                recompute=data["recompute"],
                request=request,
            )
        except ValidationError as exc:
            raise ApiValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
            ) from exc
        except PermissionDenied as exc:
            raise ApiPermissionDenied(str(exc)) from exc
        body = self.get_serializer(self.get_queryset().get(pk=export.pk)).data
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]}
        )


class _AnyAccept(BaseContentNegotiation):
    """A download answers its file whatever the Accept header asks for (errors as JSON)."""

    def select_parser(self, request: Request, parsers: list) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None):
        return renderers[0], renderers[0].media_type


class ReportDownloadAPI(OrgScopedAPIMixin, generics.GenericAPIView):
    """One format's file of a finished export; ``report_download_apis`` makes a view per
    format, each documenting its own content type."""

    queryset = ReportExport.objects.all()
    lookup_url_kwarg = "export_id"
    content_negotiation_class = _AnyAccept
    report_format: ClassVar[str] = ""

    def get(self, request: Request, org_slug: str, export_id: int) -> HttpResponse:
        export = self.get_object()
        fmt = self.report_format
        if not export.finished:
            return Response(
                {"detail": f"The export is {export.status}; poll its status URL until it is done."},
                status=status.HTTP_409_CONFLICT,
            )
        try:
            file = report_file_download(
                organization=self.organization,
                export=export,
                fmt=fmt,
                actor=request.user,
                request=request,
            )
        except ReportFile.DoesNotExist as exc:
            raise NotFound(f"This export has no {fmt} file.") from exc
        response = HttpResponse(bytes(file.content), content_type=CONTENT_TYPES[fmt])
        response["Content-Disposition"] = content_disposition_header(True, file.filename)
        return response


def _download_api(fmt: str) -> type[ReportDownloadAPI]:
    label = ReportFormat(fmt).label
    view = type(
        f"Report{fmt.capitalize()}DownloadAPI", (ReportDownloadAPI,), {"report_format": fmt}
    )
    return extend_schema(
        tags=["reports"],
        summary=f"Download the {label} file of a finished report export",
        description="An attachment named after the organization, the quarter and the version "
        "of the metric definitions.",
        responses={
            (200, CONTENT_TYPES[fmt].split(";")[0]): OpenApiTypes.BINARY,
            409: OpenApiResponse(ErrorSerializer, description="The export is not done yet."),
        },
    )(view)


REPORT_DOWNLOAD_APIS = {fmt: _download_api(fmt) for fmt in ReportFormat.values}
