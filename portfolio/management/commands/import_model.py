from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from portfolio.management.base import OrgCommand
from portfolio.model_io import ModelImportError, model_import, model_parse
from portfolio.models import Organization


class Command(OrgCommand):
    help = (
        "Upserts the organization's model (portfolio, value streams, journeys, objectives) "
        "from a JSON file (the model JSON of docs/formats.md). Idempotent; all or nothing."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("file", metavar="FILE", help="the model JSON file")

    def handle_org(self, organization: Organization, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: cannot read the file ({exc.strerror})") from exc
        try:
            summary = model_import(organization=organization, data=model_parse(raw))
        except ModelImportError as exc:
            if len(exc.errors) == 1:
                raise CommandError(f"{path}: {exc.errors[0]}; nothing was imported") from exc
            # Every error on its own line, then the one-line reason.
            for error in exc.errors:
                self.stderr.write(error)
            raise CommandError(
                f"{path}: {len(exc.errors)} errors (above); nothing was imported"
            ) from exc
        for line in summary.lines():
            self.stdout.write(line)
