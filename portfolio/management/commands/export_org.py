"""``export_org --org SLUG [-o FILE]``: the organization's whole data as backup JSON."""

from __future__ import annotations

import os
import tempfile
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from django.db import connection, transaction

from portfolio.audit import audit_record
from portfolio.management.base import OrgCommand
from portfolio.models import AuditAction, Organization
from portfolio.org_io import org_export


class _Text:
    """Django's stdout wrapper as a plain text stream (it would end every write with a
    line break)."""

    def __init__(self, wrapper: Any) -> None:
        self._wrapper = wrapper

    def write(self, text: str) -> None:
        self._wrapper.write(text, ending="")


class Command(OrgCommand):
    help = (
        "Writes the organization's whole data (members, model, events, OKR history, manual "
        "KPI values, frozen quarterly reports) as backup JSON that import_org restores "
        "(docs/backup.md). Streams: memory stays flat whatever the organization's size."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "-o", "--output", metavar="FILE", help="where to write (default: standard output)"
        )

    def handle(self, *args: Any, **options: Any) -> str | None:
        if connection.in_atomic_block:
            # Inside a caller's transaction (a test): its snapshot rules.
            return super().handle(*args, **options)
        # One snapshot for the whole file, so that a live organization's sections
        # agree (no transition of an item that arrived after the items were written).
        # It must be chosen before the transaction's first query.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            return super().handle(*args, **options)

    def handle_org(self, organization: Organization, *args: Any, **options: Any) -> None:
        if options["output"] is None:
            summary = org_export(organization=organization, out=_Text(self.stdout))
            self._audit(organization, "standard output", summary.counts)
            return
        path = Path(options["output"])
        if path.is_dir():
            raise CommandError(f"-o: {path} is a directory; name the file to write")
        if not path.parent.is_dir():
            raise CommandError(f"-o: the folder {path.parent} does not exist")
        partial: Path | None = None
        try:
            # The whole file or nothing: written beside it, then renamed.
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=path.parent, delete=False, suffix=".part"
            ) as tmp:
                partial = Path(tmp.name)
                summary = org_export(organization=organization, out=tmp)
            os.replace(partial, path)
        except OSError as exc:
            raise CommandError(f"-o: cannot write {path} ({exc.strerror})") from exc
        finally:
            if partial is not None and partial.exists():
                partial.unlink()
        self._audit(organization, str(path), summary.counts)
        counts = ", ".join(f"{name} {count:,}" for name, count in summary.counts.items())
        self.stdout.write(
            f"wrote {path} ({path.stat().st_size:,} bytes): {organization.slug}: {counts}"
        )

    def _audit(self, organization: Organization, target: str, counts: dict[str, int]) -> None:
        # A backup holds every member's email and all of the data: who took one
        # belongs in the security log like any other export.
        audit_record(
            organization=organization,
            actor=None,  # the system: no user runs a command
            action=AuditAction.ORG_EXPORTED,
            target=target,
            detail={"via": "command", "counts": dict(counts)},
        )
