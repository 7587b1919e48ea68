"""``recompute_kpis --org SLUG``: the workers' recompute, run now, waiting for it."""

from typing import Any

from django.utils.translation import ngettext

from metrics.tasks import kpis_recompute
from portfolio.management.base import OrgCommand
from portfolio.models import Organization


class Command(OrgCommand):
    help = (
        "Recomputes every stored KPI snapshot of the organization through the same task the "
        "workers run, and waits for it."
    )

    def handle_org(self, organization: Organization, *args: Any, **options: Any) -> None:
        # The task's body runs here, in this process, so the command waits for it
        # and fails as it fails; it is the same code a worker runs.
        result = kpis_recompute.apply(args=[organization.pk]).get()
        snapshots = ngettext("%(n)d snapshot", "%(n)d snapshots", result["snapshots"]) % {
            "n": result["snapshots"]
        }
        periods = ngettext("%(n)d period", "%(n)d periods", result["periods"]) % {
            "n": result["periods"]
        }
        self.stdout.write(f"recomputed {snapshots} over {periods} for {organization.slug}")
