"""``export_report --org SLUG --quarter YYYY-QN --format pdf|xlsx|csv -o FILE``."""

from __future__ import annotations

import os
import tempfile
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from metrics.models import ReportFormat
from metrics.reports.data import quarterly_report_freeze
from metrics.reports.exports import report_render
from portfolio.audit import audit_record
from portfolio.management.base import OrgCommand
from portfolio.models import AuditAction, Organization


class Command(OrgCommand):
    help = (
        "Writes the quarterly report of one quarter as PDF, XLSX or CSV (docs/formats.md). A "
        "finished quarter's figures are frozen by its first export and reused by every later "
        "one; --recompute computes them again from the events."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--quarter", required=True, metavar="YYYY-QN", help="e.g. 2026-Q3")
        parser.add_argument(
            "--format", required=True, choices=ReportFormat.values, help="the file's format"
        )
        parser.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write")
        parser.add_argument(
            "--recompute",
            action="store_true",
            help="replace the quarter's frozen figures with figures computed now",
        )

    def handle_org(self, organization: Organization, *args: Any, **options: Any) -> None:
        path = Path(options["output"])
        if path.is_dir():
            raise CommandError(f"-o: {path} is a directory; name the file to write")
        if not path.parent.is_dir():
            raise CommandError(f"-o: the folder {path.parent} does not exist")
        try:
            report = quarterly_report_freeze(
                organization=organization,
                quarter=options["quarter"],
                recompute=options["recompute"],
            )
        except ValidationError as exc:
            raise CommandError(f"--quarter: {' '.join(exc.messages)}") from exc
        fmt = options["format"]
        filename, content = report_render(report=report, fmt=fmt)
        _write_atomically(path, content)
        # The command builds the file and hands it over at once: the audit log gets
        # both of the page's events, by the system (no user runs a command).
        detail = {"quarter": report.quarter, "via": "command"}
        audit_record(
            organization=organization,
            actor=None,
            action=AuditAction.REPORT_EXPORT_STARTED,
            target=f"{report.quarter} report",
            detail={**detail, "formats": [fmt], "recompute": options["recompute"]},
        )
        audit_record(
            organization=organization,
            actor=None,
            action=AuditAction.REPORT_DOWNLOADED,
            target=filename,
            detail={**detail, "format": fmt, "output": str(path.resolve())},
        )
        state = "to date, not frozen yet" if report.in_progress else "frozen"
        self.stdout.write(
            f"wrote {path} ({len(content):,} bytes): {organization.slug} {report.quarter}, "
            f"figures {state} at {report.frozen_at:%Y-%m-%d %H:%M} UTC"
        )


def _write_atomically(path: Path, content: bytes) -> None:
    """Write the whole file or nothing: a temporary file beside it, then renamed."""
    partial: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".part") as tmp:
            partial = Path(tmp.name)
            tmp.write(content)
        os.replace(partial, path)
    except OSError as exc:
        if partial is not None:
            partial.unlink(missing_ok=True)
        raise CommandError(f"-o: cannot write {path} ({exc.strerror})") from exc
