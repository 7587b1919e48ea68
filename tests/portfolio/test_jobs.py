"""The one background-job mechanism (portfolio.jobs), which event uploads and report
exports both run on: claim, progress, finish, fail, and the claim again of a job
whose worker died."""

from __future__ import annotations

import pytest

from metrics.models import ExportStatus, ReportExport
from portfolio.jobs import Job, job_claim, job_fail, job_finish, job_update
from streams.models import EventUpload, UploadStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def export(tenant_a, in_org) -> ReportExport:
    with in_org(tenant_a.org):
        return ReportExport.objects.create(
            organization=tenant_a.org, quarter="2026-Q1", formats=["csv"]
        )


def _fresh(job: Job) -> Job:
    return type(job).objects.get(pk=job.pk)


def test_uploads_and_exports_are_jobs() -> None:
    assert issubclass(EventUpload, Job) and issubclass(ReportExport, Job)
    assert {UploadStatus.DONE, UploadStatus.REJECTED, UploadStatus.FAILED} == EventUpload.FINISHED
    assert {ExportStatus.DONE, ExportStatus.FAILED} == ReportExport.FINISHED


def test_claim_progress_finish(export: ReportExport, in_org) -> None:
    org_id = export.organization_id
    cleared = []
    job = job_claim(
        ReportExport,
        organization_id=org_id,
        pk=export.pk,
        progress=5,
        before=cleared.append,
        step="Starting",
    )
    assert cleared == [job]
    with in_org(export.organization):
        row = _fresh(export)
    assert (row.status, row.progress, row.step) == ("running", 5, "Starting")
    assert row.started_at is not None and row.finished_at is None and not row.finished

    job_update(job, progress=40, step="Half way")
    with in_org(export.organization):
        assert (_fresh(export).progress, _fresh(export).step) == (40, "Half way")

    job_finish(job, step="Done")
    with in_org(export.organization):
        row = _fresh(export)
    assert (row.status, row.progress, row.step) == ("done", 100, "Done")
    assert row.finished and row.finished_at >= row.started_at
    # A finished job is never claimed again.
    assert job_claim(ReportExport, organization_id=org_id, pk=export.pk) is None


def test_a_running_job_whose_worker_died_is_claimed_again(export: ReportExport) -> None:
    org_id = export.organization_id
    first = job_claim(ReportExport, organization_id=org_id, pk=export.pk, progress=5)
    job_update(first, progress=70)
    again = job_claim(ReportExport, organization_id=org_id, pk=export.pk, progress=5)
    assert again is not None and (again.status, again.progress) == ("running", 5)


def test_fail_keeps_a_short_message(export: ReportExport, in_org) -> None:
    job = job_claim(ReportExport, organization_id=export.organization_id, pk=export.pk)
    job_fail(job, "x" * 500)
    with in_org(export.organization):
        row = _fresh(export)
    assert (row.status, row.progress, row.message) == ("failed", 100, "x" * 300)
    assert row.finished_at is not None


def test_finish_refuses_a_state_the_job_cannot_end_in(export: ReportExport, in_org) -> None:
    job = job_claim(ReportExport, organization_id=export.organization_id, pk=export.pk)
    with pytest.raises(ValueError, match="not a finished state"):
        job_finish(job, UploadStatus.REJECTED)
    with in_org(export.organization):
        assert _fresh(export).status == "running"


def test_another_organizations_job_is_not_claimed(export: ReportExport, tenant_b) -> None:
    assert job_claim(ReportExport, organization_id=tenant_b.org.pk, pk=export.pk) is None
