"""Background jobs: the one mechanism for work a worker does for an organization
while a page polls it (event uploads, report exports, and connector syncs next).

A job goes queued -> running -> done | failed (a kind may add its own finished
states, e.g. an upload's "rejected"). ``Job`` holds the fields every kind shares;
``job_claim``/``job_update``/``job_finish``/``job_fail`` are the only code that
moves a job, each step committed on its own inside the organization's context so
the polling page sees it move. ``templates/portfolio/_job_progress.html`` shows
its progress.

A concrete job keeps its own table, columns and status choices (same values);
this module adds no column of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.db import models
from django.utils import timezone

from portfolio.models import OrgOwned
from portfolio.tenancy import organization_context

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"

PROGRESS_DONE = 100
MESSAGE_MAX = 300


class Job(OrgOwned):
    """Abstract base of a background job. Subclasses declare ``status`` with their
    own choices (whose values include the four above) and list their finished
    states in ``FINISHED``."""

    FINISHED: ClassVar[frozenset[str]] = frozenset({DONE, FAILED})

    progress = models.PositiveSmallIntegerField(default=0)  # percent, 0..100
    # Why a failed job failed, in words fit for the page (never a traceback).
    message = models.CharField(max_length=MESSAGE_MAX, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED


def job_claim[J: Job](
    model: type[J],
    *,
    organization_id: int,
    pk: int,
    progress: int = 0,
    before: Callable[[J], None] | None = None,
    **fields: Any,
) -> J | None:
    """Mark the job running (committed at once); None when it is gone or finished.

    A job found running is one whose worker died (the broker hands the task out
    again): it is claimed again, so a job is never stuck running. ``before`` runs
    under the row lock first, to clear what a dead attempt left behind.
    """
    with organization_context(organization_id):
        job = (
            model._default_manager.select_for_update()
            .filter(organization_id=organization_id, pk=pk)
            .first()
        )
        if job is None or job.finished:
            return None
        if before is not None:
            before(job)
        job.status = RUNNING
        job.progress = progress
        job.started_at = timezone.now()
        for name, value in fields.items():
            setattr(job, name, value)
        job.save(update_fields=["status", "progress", "started_at", *fields])
        return job


def job_update(job: Job, **fields: Any) -> None:
    """Record a running job's progress (and any fields of its kind), committed at once."""
    with organization_context(job.organization_id):
        for name, value in fields.items():
            setattr(job, name, value)
        job.save(update_fields=list(fields))


def job_finish(job: Job, status: str = DONE, **fields: Any) -> None:
    """End the job with ``status`` (one of its FINISHED states), at 100%."""
    if status not in job.FINISHED:
        raise ValueError(f"{status!r} is not a finished state of {type(job).__name__}")
    job_update(job, status=status, progress=PROGRESS_DONE, finished_at=timezone.now(), **fields)


def job_fail(job: Job, message: str, **fields: Any) -> None:
    """End the job failed, with ``message`` (cut to fit) for the page."""
    job_finish(job, FAILED, message=message[:MESSAGE_MAX], **fields)
