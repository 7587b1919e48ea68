"""Background work for value streams' event data."""

from __future__ import annotations

from celery import shared_task

from streams.uploads import event_upload_run


@shared_task
def event_upload_process(organization_id: int, upload_id: int) -> str | None:
    """Import an uploaded event CSV (streams.uploads). Idempotent: a finished upload is skipped.

    Not an ``org_task``: that runs the whole body in one transaction, and the
    page polling the upload would see none of its steps until the end.
    ``event_upload_run`` enters the organization's context for each step
    (claim, import, outcome), as ``org_task`` would for one.
    """
    return event_upload_run(organization_id=organization_id, upload_id=upload_id)
