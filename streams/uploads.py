"""Event CSV uploads: the import page's file, checked, stored, then imported by a worker.

An upload goes queued -> running -> done | rejected | failed. The worker
(streams.tasks.event_upload_process) runs ``event_upload_run``, which imports
the stored file with ``events_import``, the same service as the
``import_events`` command and the bulk API. Each step commits on its own, so
the page polling the upload sees it move.
"""

from __future__ import annotations

import codecs
import io
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from portfolio.models import Organization
from portfolio.tenancy import organization_context
from streams.ingest import ImportRejected, events_import
from streams.models import UPLOAD_FINISHED, EventKind, EventUpload, UploadStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# A rejection keeps this many "line N: reason" messages; the count keeps them all.
ERRORS_KEPT = 1000
RECENT_UPLOADS = 20

PROGRESS_QUEUED = 0
PROGRESS_PARSING = 10
PROGRESS_DONE = 100

FAILED_MESSAGE = (
    "The import stopped on an unexpected error; nothing was imported. Upload the file again."
)
MISSING_FILE_MESSAGE = "The stored file is missing; nothing was imported. Upload the file again."


class UploadRefused(ValidationError):
    """The file was not accepted; ``status`` is the HTTP status the page answers with."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def event_upload_check(*, name: str, size: int, chunks: Iterable[bytes]) -> None:
    """Refuse a file that is too large, empty, not UTF-8 or holds a NUL byte.

    Reads the file once, in chunks, so a 50 MB file never sits in memory.
    """
    if size > MAX_UPLOAD_BYTES:
        raise UploadRefused(
            f"{name} is {_mb(size)}; the limit is {MAX_UPLOAD_BYTES // 1024 // 1024} MB.",
            status=413,
        )
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    lines = 1  # the line the next chunk starts on
    blank = True
    for chunk in chunks:
        if b"\x00" in chunk:
            line = lines + chunk[: chunk.index(b"\x00")].count(b"\n")
            raise UploadRefused(f"{name}: line {line} contains a NUL byte; expected CSV text.")
        pending = len(decoder.getstate()[0])  # bytes of a character the last chunk began
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            at = max(exc.start - pending, 0)
            line = lines + chunk[:at].count(b"\n")
            raise UploadRefused(
                f"{name}: line {line} is not UTF-8 text (byte 0x{exc.object[exc.start]:02X}); "
                "expected a CSV file saved as UTF-8."
            ) from exc
        blank = blank and not text.strip()
        lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise UploadRefused(
            f"{name}: line {lines} ends inside a UTF-8 character; "
            "expected a CSV file saved as UTF-8."
        ) from exc
    if blank:
        raise UploadRefused(f"{name} is empty; expected a CSV file with a header row.")


@transaction.atomic
def event_upload_create(
    *,
    organization: Organization,
    user: AbstractBaseUser | None,
    kind: str,
    file: UploadedFile,
) -> EventUpload:
    """Check and store an uploaded CSV, and queue its import for when the transaction commits.

    Raises ``UploadRefused`` (and stores nothing) for a file the import could never read.
    """
    if kind not in EventKind.values:
        raise UploadRefused(f"kind '{kind}' is not one of {', '.join(EventKind.values)}.")
    name = file.name or "upload.csv"
    event_upload_check(name=name, size=file.size or 0, chunks=file.chunks())
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
    """Mark the upload running (committed at once); None when there is nothing to run."""
    with organization_context(organization_id):
        upload = (
            EventUpload.objects.select_for_update()
            .filter(organization_id=organization_id, pk=upload_id)
            .first()
        )
        if upload is None or upload.status in UPLOAD_FINISHED:
            return None
        # A running upload is one whose worker died: importing the same file
        # again changes nothing that the first attempt committed.
        upload.status = UploadStatus.RUNNING
        upload.progress = PROGRESS_PARSING
        upload.started_at = timezone.now()
        upload.save(update_fields=["status", "progress", "started_at"])
        return upload


def _finish(upload: EventUpload, status: str, **fields: object) -> None:
    upload.status = status
    upload.progress = PROGRESS_DONE
    upload.finished_at = timezone.now()
    for name, value in fields.items():
        setattr(upload, name, value)
    upload.save(update_fields=["status", "progress", "finished_at", *fields])


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
                _finish(
                    upload,
                    UploadStatus.REJECTED,
                    errors=messages[:ERRORS_KEPT],
                    error_count=len(messages),
                )
                return UploadStatus.REJECTED
            except FileNotFoundError:
                _finish(upload, UploadStatus.FAILED, message=MISSING_FILE_MESSAGE)
                return UploadStatus.FAILED
            counts = {
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
            }
            _finish(upload, UploadStatus.DONE, counts=counts)
            return UploadStatus.DONE
    except Exception:
        logger.exception("event upload %s of organization %s failed", upload_id, organization_id)
        with organization_context(organization_id):
            upload = EventUpload.objects.get(organization_id=organization_id, pk=upload_id)
            _finish(upload, UploadStatus.FAILED, message=FAILED_MESSAGE)
        return UploadStatus.FAILED
