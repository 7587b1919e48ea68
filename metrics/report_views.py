"""The quarterly reports page: start an export, watch it build, download its files
(metrics.reports.exports)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods

from metrics.models import ReportExport, ReportFile, ReportFormat
from metrics.reports.data import (
    figures_in_progress,
    last_full_quarter,
    quarterly_reports_by_quarter,
    recent_quarters,
)
from metrics.reports.exports import (
    CONTENT_TYPES,
    report_export_create,
    report_exports_recent,
    report_file_download,
    report_files_ready,
)
from portfolio.models import Role, may_edit
from portfolio.tenancy import get_for_request, org_view


def _with_downloads(slug: str, exports: list[ReportExport], ready: dict[int, list[str]]) -> None:
    """Give each export its download links: (format, label, URL) of each stored file."""
    for export in exports:
        export.downloads = [
            (
                fmt,
                ReportFormat(fmt).label,
                reverse(
                    f"report_download_{fmt}", kwargs={"org_slug": slug, "export_id": export.pk}
                ),
            )
            for fmt in ready.get(export.pk, [])
        ]


def _page(
    request: HttpRequest, *, error: str = "", quarter: str = "", status: int = 200
) -> HttpResponse:
    org = request.organization
    frozen = quarterly_reports_by_quarter(organization=org)
    quarters = recent_quarters(organization=org)
    exports = report_exports_recent(organization=org)
    _with_downloads(org.slug, exports, report_files_ready(organization=org, exports=exports))
    return render(
        request,
        "metrics/reports.html",
        {
            "quarters": [(q, frozen.get(q)) for q in quarters],
            "selected": quarter or last_full_quarter(organization=org),
            "frozen": sorted(frozen.values(), key=lambda r: r.quarter, reverse=True),
            "exports": exports,
            "error": error,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@org_view(Role.VIEWER)
def reports_page(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    if not may_edit(request.membership):
        raise PermissionDenied("Exporting a report needs the editor role.")
    quarter = request.POST.get("quarter", "").strip()
    try:
        export = report_export_create(
            organization=request.organization,
            user=request.user,
            quarter=quarter,
            recompute=request.POST.get("recompute") == "on",
            request=request,
        )
    except ValidationError as exc:
        return _page(request, error=" ".join(exc.messages), quarter=quarter, status=400)
    return redirect("report_export", org_slug=request.organization.slug, export_id=export.pk)


@require_GET
@org_view(Role.VIEWER)
def report_export_page(request: HttpRequest, export_id: int) -> HttpResponse:
    export = get_for_request(
        request, ReportExport.objects.select_related("requested_by"), pk=export_id
    )
    ready = report_files_ready(organization=request.organization, exports=[export])
    _with_downloads(request.organization.slug, [export], ready)
    export.in_progress = export.frozen_at is not None and figures_in_progress(
        organization=request.organization, quarter=export.quarter, computed_at=export.frozen_at
    )
    template = "metrics/report_export.html"
    return render(request, f"{template}#status" if request.htmx else template, {"export": export})


@require_GET
@org_view(Role.VIEWER)
def report_download(request: HttpRequest, export_id: int, fmt: str) -> HttpResponse:
    export = get_for_request(request, ReportExport, pk=export_id)
    try:
        file = report_file_download(
            organization=request.organization,
            export=export,
            fmt=fmt,
            actor=request.user,
            request=request,
        )
    except ReportFile.DoesNotExist as exc:
        raise Http404(f"No {fmt} file for this export (yet).") from exc
    response = HttpResponse(bytes(file.content), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = content_disposition_header(True, file.filename)
    response["Content-Length"] = str(file.size)
    return response
