import json
from argparse import ArgumentParser
from typing import Any

from metrics.engine import kpis_for_period, parse_date_range
from portfolio.management.base import OrgCommand
from portfolio.models import Organization


class Command(OrgCommand):
    help = (
        "Prints the metrics of every value stream and journey for an inclusive date range "
        "(in the organization's time zone) as the kpis JSON of docs/formats.md."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD")

    def handle_org(self, organization: Organization, *args: Any, **options: Any) -> None:
        date_from, date_to = parse_date_range(options["date_from"], options["date_to"])
        # A bad date raises ValidationError, which OrgCommand reports as a CommandError.
        data = kpis_for_period(organization=organization, date_from=date_from, date_to=date_to)
        self.stdout.write(json.dumps(data, indent=2))
