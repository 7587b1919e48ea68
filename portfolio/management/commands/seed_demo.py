from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from portfolio import services
from portfolio.models import Membership, Organization, Role
from portfolio.tenancy import organization_context

DEMO_SLUG = "demo"
DEMO_ADMIN_EMAIL = "admin@demo.example"
DEMO_ADMIN_PASSWORD = "throughline-demo"  # noqa: S105 - a published demo login
DEMO_MEMBERS = [("editor@demo.example", Role.EDITOR), ("viewer@demo.example", Role.VIEWER)]


class Command(BaseCommand):
    help = "Creates or refreshes the demo organization and its members. Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            admin, _ = services.user_get_or_create(
                email=DEMO_ADMIN_EMAIL, password=DEMO_ADMIN_PASSWORD
            )
            org = Organization.objects.filter(slug=DEMO_SLUG).first()
            if org is None:
                org = services.organization_create(
                    slug=DEMO_SLUG,
                    name="Demo Health Insurance",
                    admin=admin,
                    time_zone="Australia/Sydney",
                )
            with organization_context(org.pk):
                for email, role in [(DEMO_ADMIN_EMAIL, Role.ADMIN), *DEMO_MEMBERS]:
                    user, _ = services.user_get_or_create(email=email, password=DEMO_ADMIN_PASSWORD)
                    Membership.objects.update_or_create(
                        organization=org, user=user, defaults={"role": role}
                    )
        self.stdout.write(
            f"demo organization '{org.slug}': sign in as {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}"
        )
