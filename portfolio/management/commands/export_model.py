from typing import Any

from portfolio.audit import audit_record
from portfolio.management.base import OrgCommand
from portfolio.model_io import model_export_json
from portfolio.models import AuditAction, Organization


class Command(OrgCommand):
    help = "Prints the organization's model as JSON that import_model reads back unchanged."

    def handle_org(self, organization: Organization, *args: Any, **options: Any) -> None:
        content = model_export_json(organization=organization)
        audit_record(
            organization=organization,
            actor=None,  # the system: no user runs a command
            action=AuditAction.MODEL_EXPORTED,
            target=f"{organization.slug}-model.json",
            detail={"via": "command"},
        )
        self.stdout.write(content, ending="")
