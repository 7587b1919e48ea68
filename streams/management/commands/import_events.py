from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from django.utils.translation import ngettext

from portfolio.management.base import OrgCommand
from portfolio.models import Organization
from portfolio.text_input import InputRefused
from streams.ingest import KINDS, ImportRejected, events_import
from streams.uploads import event_file_check

CHUNK_BYTES = 1 << 20


class Command(OrgCommand):
    help = (
        "Upserts events of one kind from a CSV file by their key (docs/formats.md, Event CSVs). "
        "Idempotent; all or nothing: one bad row rejects the file, and every bad row is "
        "reported as 'line N: reason'."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--kind", required=True, choices=list(KINDS), help="the kind of events")
        parser.add_argument("file", metavar="FILE", help="the CSV file, with a header row")

    def handle_org(self, organization: Organization, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            # The upload page's checks first (UTF-8, no NUL byte, not empty, not a
            # binary file, the header), read once in chunks: the import then reads the text.
            with path.open("rb") as raw:
                event_file_check(
                    name=str(path),
                    kind=options["kind"],
                    chunks=iter(lambda: raw.read(CHUNK_BYTES), b""),
                )
            # utf-8-sig: spreadsheets often save CSV with a byte-order mark.
            with path.open(newline="", encoding="utf-8-sig") as stream:
                result = events_import(
                    organization=organization, kind=options["kind"], rows=stream, source="csv"
                )
        except OSError as exc:
            raise CommandError(f"{path}: cannot read the file ({exc.strerror})") from exc
        except InputRefused as exc:
            raise CommandError(exc.message) from exc
        except ImportRejected as exc:
            # Every bad row on its own line, then the one-line reason.
            for message in exc.messages:
                self.stderr.write(message)
            count = len(exc.messages)
            rows = ngettext("%(n)d bad row", "%(n)d bad rows", count) % {"n": count}
            raise CommandError(f"{path}: {rows} (above); nothing was imported") from exc
        self.stdout.write(result.summary())
