"""``import_org FILE [--org NEW_SLUG]``: restore an organization from export_org's JSON."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from portfolio.org_io import OrgImportError, org_import


class Command(BaseCommand):
    help = (
        "Restores an organization from a backup written by export_org (docs/backup.md), "
        "under the file's slug or --org NEW_SLUG, which must not exist yet. All or nothing; "
        "ends by recomputing the KPI snapshots."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", metavar="FILE", help="the backup JSON file")
        parser.add_argument(
            "--org", metavar="NEW_SLUG", help="restore under this slug instead of the file's"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            # utf-8-sig: tolerate a byte-order mark an editor may have added.
            with path.open(encoding="utf-8-sig") as stream:
                summary = org_import(stream=stream, slug=options["org"])
        except OSError as exc:
            raise CommandError(f"{path}: cannot read the file ({exc.strerror})") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"{path}: not UTF-8 text ({exc.reason}); expected the JSON export_org writes"
            ) from exc
        except OrgImportError as exc:
            if len(exc.errors) == 1:
                raise CommandError(f"{path}: {exc.errors[0]}; nothing was imported") from exc
            # Every error on its own line, then the one-line reason.
            for error in exc.errors:
                self.stderr.write(error)
            raise CommandError(
                f"{path}: {len(exc.errors)} errors (above); nothing was imported"
            ) from exc
        except ValidationError as exc:
            raise CommandError(f"{path}: {'; '.join(exc.messages)}; nothing was imported") from exc
        for line in summary.lines():
            self.stdout.write(line)
