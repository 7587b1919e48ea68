"""Report exports: a request for a quarter's report in some formats, built by a worker.

An export goes queued -> running -> done | failed. The worker
(``metrics.tasks.report_export_build``) runs ``report_export_run``: it claims the
export, reads the quarter's frozen figures or computes them (also when asked to
recompute), renders each format from them and stores each file as a ``ReportFile``
row. Each step commits on its own, so the page polling the export sees it move;
figures computed by the export are frozen only with its last step, once every file
is built, so an export that fails freezes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from metrics.models import ExportStatus, QuarterlyReport, ReportExport, ReportFile, ReportFormat
from metrics.reports.csv import report_csv
from metrics.reports.data import quarterly_report_figures, quarterly_report_keep, report_period
from metrics.reports.pdf import report_pdf
from metrics.reports.xlsx import report_xlsx
from portfolio.audit import audit_record
from portfolio.jobs import PROGRESS_DONE, job_claim, job_fail, job_finish, job_update
from portfolio.models import AuditAction, Membership, Organization, may_administer
from portfolio.tenancy import organization_context

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

RENDERERS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    ReportFormat.PDF: report_pdf,
    ReportFormat.XLSX: report_xlsx,
    ReportFormat.CSV: report_csv,
}
CONTENT_TYPES = {
    ReportFormat.PDF: "application/pdf",
    ReportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ReportFormat.CSV: "text/csv; charset=utf-8",
}
RECENT_EXPORTS = 20

PROGRESS_CLAIMED = 5
PROGRESS_FIGURES = 40  # the figures are frozen (or read); the files come next
FAILED_MESSAGE = "The export stopped on an unexpected error; no file was kept. Start it again."
RECOMPUTE_ROLE_MESSAGE = "Recomputing a quarter's frozen figures needs the admin role."


def report_formats_clean(formats: Iterable[str] | None) -> list[str]:
    """The formats asked for, in the order pdf, xlsx, csv; all of them when none are named.
    Raises ValidationError naming an unknown one."""
    wanted = list(formats or ReportFormat.values)
    for fmt in wanted:
        if fmt not in ReportFormat.values:
            raise ValidationError(
                {"formats": f"'{fmt}' is not one of {', '.join(ReportFormat.values)}."}
            )
    return [fmt for fmt in ReportFormat.values if fmt in wanted]


def report_filename(*, data: dict[str, Any], fmt: str) -> str:
    """The file's name, stamped with the definitions' version (a CSV has no other place
    for it): ``acme-health-2026-Q3-report-definitions-2026.1.csv``."""
    to_date = f"-to-{data['period']['to']}" if data["in_progress"] else ""
    return (
        f"{data['organization']['slug']}-{data['quarter']}{to_date}-report-"
        f"definitions-{data['definitions_version']}.{fmt}"
    )


def report_render(*, report: QuarterlyReport, fmt: str) -> tuple[str, bytes]:
    """One format of a report's frozen figures: (file name, content)."""
    return report_filename(data=report.data, fmt=fmt), RENDERERS[fmt](report.data)


def may_recompute(*, organization: Organization, user: AbstractBaseUser | None) -> bool:
    """Only an organization admin may replace a quarter's frozen figures."""
    if user is None or not user.is_authenticated:
        return False
    return may_administer(
        Membership.objects.filter(organization=organization, user=user)
        .values_list("role", flat=True)
        .first()
    )


@transaction.atomic
def report_export_create(
    *,
    organization: Organization,
    user: AbstractBaseUser | None,
    quarter: str,
    formats: Iterable[str] | None = None,
    recompute: bool = False,
    request: HttpRequest | None = None,
) -> ReportExport:
    """Record an export (and, in the audit log, who started it) and queue its build
    for when the transaction commits.

    Raises ValidationError for a bad or future quarter or an unknown format, and
    PermissionDenied when someone other than an admin asks to recompute.
    """
    report_period(organization=organization, quarter=quarter)
    cleaned = report_formats_clean(formats)
    if recompute and not may_recompute(organization=organization, user=user):
        raise PermissionDenied(RECOMPUTE_ROLE_MESSAGE)
    export = ReportExport.objects.create(
        organization=organization,
        quarter=quarter,
        formats=cleaned,
        recompute=recompute,
        requested_by=user if user is not None and user.is_authenticated else None,
    )
    audit_record(
        organization=organization,
        actor=user,
        action=AuditAction.REPORT_EXPORT_STARTED,
        target=f"{quarter} report",
        detail={
            "export_id": export.pk,
            "quarter": quarter,
            "formats": cleaned,
            "recompute": recompute,
        },
        request=request,
    )
    from metrics.tasks import report_export_build

    report_export_build.delay_on_commit(organization.pk, export.pk)
    return export


def report_exports_recent(
    *, organization: Organization, limit: int = RECENT_EXPORTS
) -> list[ReportExport]:
    """The organization's latest exports, newest first."""
    return list(
        ReportExport.objects.filter(organization=organization)
        .select_related("requested_by")
        .order_by("-created_at", "-id")[:limit]
    )


def report_files_ready(
    *, organization: Organization, exports: Iterable[ReportExport]
) -> dict[int, list[str]]:
    """The formats whose file is stored, by export id (one query, without the contents)."""
    ready: dict[int, list[str]] = {}
    rows = ReportFile.objects.filter(
        organization=organization, export__in=[e.pk for e in exports]
    ).values_list("export_id", "format")
    for export_id, fmt in rows:
        ready.setdefault(export_id, []).append(fmt)
    return {k: [f for f in ReportFormat.values if f in v] for k, v in ready.items()}


def report_file_get(*, organization: Organization, export: ReportExport, fmt: str) -> ReportFile:
    """The stored file of a finished export; ReportFile.DoesNotExist when there is none."""
    if export.status != ExportStatus.DONE:
        raise ReportFile.DoesNotExist(f"the export is {export.status}")
    return ReportFile.objects.get(organization=organization, export=export, format=fmt)


@transaction.atomic
def report_file_download(
    *,
    organization: Organization,
    export: ReportExport,
    fmt: str,
    actor: AbstractBaseUser | None,
    request: HttpRequest | None = None,
) -> ReportFile:
    """The stored file of a finished export, for ``actor`` to take away: the
    download is recorded in the audit log. ReportFile.DoesNotExist when there is none."""
    file = report_file_get(organization=organization, export=export, fmt=fmt)
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditAction.REPORT_DOWNLOADED,
        target=file.filename,
        detail={"export_id": export.pk, "quarter": export.quarter, "format": fmt},
        request=request,
    )
    return file


# --- The worker's side -------------------------------------------------------------


def _files_drop(export: ReportExport) -> None:
    ReportFile.objects.filter(organization_id=export.organization_id, export=export).delete()


def _claim(organization_id: int, export_id: int) -> ReportExport | None:
    """Mark the export running (committed at once); None when there is nothing to do.

    An export found running is one whose worker died: it is built again from the
    start, without the files a first attempt may have stored."""
    return job_claim(
        ReportExport,
        organization_id=organization_id,
        pk=export_id,
        progress=PROGRESS_CLAIMED,
        before=_files_drop,
        step="Computing the quarter's figures",
        message="",
    )


def _files_build(organization: Organization, export: ReportExport, report: QuarterlyReport) -> None:
    """Render each format of the export from ``report``'s figures and store it (each
    file committed on its own, so the page polling the export sees it move)."""
    share = (PROGRESS_DONE - PROGRESS_FIGURES) // max(len(export.formats), 1)
    for n, fmt in enumerate(export.formats):
        job_update(export, step=f"Building the {ReportFormat(fmt).label} file")
        filename, content = report_render(report=report, fmt=fmt)
        with organization_context(organization.pk):
            ReportFile.objects.update_or_create(
                organization=organization,
                export=export,
                format=fmt,
                defaults={"filename": filename, "content": content, "size": len(content)},
            )
        job_update(export, progress=PROGRESS_FIGURES + share * (n + 1))


def report_export_run(*, organization_id: int, export_id: int) -> str | None:
    """Build one export; answers its final status, or None when it had nothing to do.

    Idempotent: a finished export is left alone, and a run that starts again after
    a killed worker replaces whatever files the first one stored. An invalid export
    (a quarter that can no longer be reported) fails with the reason; an unexpected
    error fails with a short message, the traceback going to the log.
    """
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return None
    export = _claim(organization_id, export_id)
    if export is None:
        return None
    try:
        with organization_context(organization_id):
            report = quarterly_report_figures(
                organization=organization,
                quarter=export.quarter,
                user=export.requested_by,
                recompute=export.recompute,
            )
        while True:
            job_update(export, progress=PROGRESS_FIGURES, step="Figures ready")
            _files_build(organization, export, report)
            with organization_context(organization_id):
                # The freeze, with the export's end: fresh figures are stored only now
                # that every file drawn from them is built, so a failed export has
                # frozen nothing.
                kept = (
                    report
                    if report.pk is not None
                    else quarterly_report_keep(report=report, recompute=export.recompute)
                )
                if kept.frozen_at == report.frozen_at:
                    job_finish(export, ExportStatus.DONE, step="Done", frozen_at=report.frozen_at)
                    return ExportStatus.DONE
            # Another export froze the quarter while these files were built: draw them
            # again from its figures, as every later export does (stored ones: this is
            # the last round).
            report = kept
    except Exception as exc:
        if isinstance(exc, ValidationError):
            message = " ".join(exc.messages)
        else:
            logger.exception(
                "report export %s of organization %s failed", export_id, organization_id
            )
            message = FAILED_MESSAGE
        with organization_context(organization_id):
            ReportFile.objects.filter(organization_id=organization_id, export_id=export_id).delete()
        job_fail(export, message, step="Failed")
        return ExportStatus.FAILED
