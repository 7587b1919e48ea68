"""Event CSV uploads: the import page's file, checked, stored, then imported by a worker.

An upload goes queued -> running -> done | rejected | failed. The worker
(streams.tasks.event_upload_process) runs ``event_upload_run``, which imports
the stored file with ``events_import``, the same service as the
``import_events`` command and the bulk API. Each step commits on its own, so
the page polling the upload sees it move.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from portfolio.jobs import job_claim, job_fail, job_finish
from portfolio.models import Organization
from portfolio.tenancy import organization_context
from portfolio.text_input import CSV_FILE, InputRefused, input_size_check, text_check
from streams.ingest import ImportRejected, events_header_check, events_import
from streams.models import EventKind, EventUpload, UploadStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# A rejection keeps this many "line N: reason" messages; the count keeps them all.
ERRORS_KEPT = 1000
RECENT_UPLOADS = 20

PROGRESS_QUEUED = 0
PROGRESS_PARSING = 10

FAILED_MESSAGE = (
    "The import stopped on an unexpected error; nothing was imported. Upload the file again."
)
MISSING_FILE_MESSAGE = "The stored file is missing; nothing was imported. Upload the file again."


# Enough of a file's start to hold its header row.
HEADER_BYTES = 64 * 1024


def event_file_check(*, name: str, kind: str, chunks: Iterable[bytes]) -> None:
    """Refuse (``InputRefused``, 400) a CSV file the import could never read: not
    UTF-8 text, a NUL byte, empty, a binary file, or a first line that is not the
    header of ``kind``. The upload page and ``import_events`` both call it.

    Reads the file once, in chunks, so a large file never sits in memory. The
    rows themselves are the import's to check: it names every bad line.
    """
    head = bytearray()

    def watched() -> Iterator[bytes]:
        for chunk in chunks:
            # Until a line end: LF, CRLF, or a bare CR (old Mac files).
            if len(head) < HEADER_BYTES and b"\n" not in head and b"\r" not in head:
                head.extend(chunk[: HEADER_BYTES - len(head)])
            yield chunk

    text_check(name=name, chunks=watched(), fmt=CSV_FILE)
    start = bytes(head).decode("utf-8-sig", errors="replace")
    try:
        events_header_check(kind=kind, line=start)
    except ImportRejected as exc:
        raise InputRefused(f"{name}: {exc.messages[0]}") from exc


def event_upload_check(*, name: str, size: int, kind: str, chunks: Iterable[bytes]) -> None:
    """Refuse an uploaded file over the size limit (413) or unreadable (400)."""
    input_size_check(name=name, size=size, limit=MAX_UPLOAD_BYTES)
    event_file_check(name=name, kind=kind, chunks=chunks)


@transaction.atomic
def event_upload_create(
    *,
    organization: Organization,
    user: AbstractBaseUser | None,
    kind: str,
    file: UploadedFile,
) -> EventUpload:
    """Check and store an uploaded CSV, and queue its import for when the transaction commits.

    Raises ``InputRefused`` (and stores nothing) for a file the import could never read.
    """
    if kind not in EventKind.values:
        raise InputRefused(f"kind '{kind}' is not one of {', '.join(EventKind.values)}.")
    name = file.name or "upload.csv"
    event_upload_check(name=name, size=file.size or 0, kind=kind, chunks=file.chunks())
    file.seek(0)
    upload = EventUpload(
        organization=organization,
        kind=kind,
        original_name=name[:255],
        size=file.size or 0,
        uploaded_by=user if user is not None and user.is_authenticated else None,
    )
    upload.file.save(name, file, save=False)
    upload.save()

    from streams.tasks import event_upload_process

    event_upload_process.delay_on_commit(organization.pk, upload.pk)
    return upload


def event_uploads_recent(
    *, organization: Organization, limit: int = RECENT_UPLOADS
) -> list[EventUpload]:
    """The organization's latest uploads, newest first."""
    return list(
        EventUpload.objects.filter(organization=organization)
        .select_related("uploaded_by")
        .order_by("-created_at", "-id")[:limit]
    )


def _claim(organization_id: int, upload_id: int) -> EventUpload | None:
    """Mark the upload running (committed at once); None when there is nothing to run.

    An upload found running is one whose worker died: importing the same file
    again changes nothing that the first attempt committed."""
    return job_claim(
        EventUpload, organization_id=organization_id, pk=upload_id, progress=PROGRESS_PARSING
    )


def event_upload_run(*, organization_id: int, upload_id: int) -> str | None:
    """Import one upload; answers its final status, or None when it had nothing to do.

    Idempotent: a finished upload is left alone. A rejection keeps every bad
    line (up to ``ERRORS_KEPT``) and imports nothing; an unexpected error marks
    the upload failed with a short message, and the traceback goes to the log.
    """
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return None
    upload = _claim(organization_id, upload_id)
    if upload is None:
        return None
    try:
        with organization_context(organization_id):
            try:
                with upload.file.open("rb") as raw:
                    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                    result = events_import(
                        organization=organization, kind=upload.kind, rows=text, source="csv"
                    )
            except ImportRejected as exc:
                messages = exc.messages
                job_finish(
                    upload,
                    UploadStatus.REJECTED,
                    errors=messages[:ERRORS_KEPT],
                    error_count=len(messages),
                )
                return UploadStatus.REJECTED
            except FileNotFoundError:
                job_fail(upload, MISSING_FILE_MESSAGE)
                return UploadStatus.FAILED
            counts = {
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
            }
            job_finish(upload, UploadStatus.DONE, counts=counts)
            return UploadStatus.DONE
    except Exception:
        logger.exception("event upload %s of organization %s failed", upload_id, organization_id)
        with organization_context(organization_id):
            upload = EventUpload.objects.get(organization_id=organization_id, pk=upload_id)
            job_fail(upload, FAILED_MESSAGE)
        return UploadStatus.FAILED
