from typing import Any

from portfolio.management.base import OrgCommand
from portfolio.model_io import model_export_json
from portfolio.models import Organization


class Command(OrgCommand):
    help = "Prints the organization's model as JSON that import_model reads back unchanged."

    def handle_org(self, organization: Organization, *args: Any, **options: Any) -> None:
        self.stdout.write(model_export_json(organization=organization), ending="")
