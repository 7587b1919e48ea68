"""Workers that keep the KPI snapshots current and build quarterly report exports."""

from __future__ import annotations

from celery import shared_task

from metrics.reports.exports import report_export_run
from metrics.snapshots import recompute_mark_dirty, recompute_take_dirty, snapshots_recompute
from portfolio.models import Organization
from portfolio.okrs import key_results_measure
from portfolio.tenancy import org_task

# Imports arriving within this many seconds of each other share one recompute.
DEBOUNCE_SECONDS = 10


@org_task()
def kpis_recompute(organization_id: int, *, only_if_dirty: bool = False) -> dict:
    """Recompute every snapshot of the organization, then measure its linked key
    results. Idempotent: running it twice, or twenty times at once, leaves the same rows."""
    org = Organization.objects.get(pk=organization_id)
    if only_if_dirty and not recompute_take_dirty(organization=org):
        return {"skipped": True}
    result = snapshots_recompute(organization=org)
    # Linked key results follow their metrics: measured again whenever the
    # snapshots are (portfolio.okrs; a reading is recorded only when it changes).
    measured = key_results_measure(organization=org)
    return {
        "periods": result.periods,
        "snapshots": result.snapshots,
        "key_results_measured": measured.measured,
        "key_results_changed": measured.changed,
    }


def kpis_recompute_soon(*, organization: Organization) -> None:
    """After an ingest: mark the snapshots stale and queue one debounced recompute
    for when the transaction commits."""
    recompute_mark_dirty(organization=organization)
    kpis_recompute.apply_async_on_commit(
        args=[organization.pk], kwargs={"only_if_dirty": True}, countdown=DEBOUNCE_SECONDS
    )


@shared_task
def kpis_recompute_nightly() -> int:
    """Beat's nightly run: every organization's snapshots, each in its own context."""
    org_ids = list(Organization.objects.values_list("pk", flat=True))
    for org_id in org_ids:
        kpis_recompute.delay(org_id)
    return len(org_ids)


@shared_task
def report_export_build(organization_id: int, export_id: int) -> str | None:
    """Build a quarterly report export (metrics.reports.exports). Idempotent: a finished
    export is skipped; one whose worker died is built again from the start.

    Not an ``org_task``: that runs the whole body in one transaction, and the page
    polling the export would see none of its progress until the end.
    ``report_export_run`` enters the organization's context for each step (claim,
    figures, each file, outcome), as ``org_task`` would for one.
    """
    return report_export_run(organization_id=organization_id, export_id=export_id)
