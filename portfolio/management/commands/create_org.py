from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portfolio import services


class Command(BaseCommand):
    help = "Creates an organization and its first org admin (the user is created if new)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password", default=None)
        parser.add_argument("--time-zone", default="UTC")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                admin, created = services.user_get_or_create(
                    email=options["admin_email"], password=options["admin_password"]
                )
                org = services.organization_create(
                    slug=options["slug"],
                    name=options["name"],
                    admin=admin,
                    time_zone=options["time_zone"],
                )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        who = "new user" if created else "existing user"
        self.stdout.write(f"created organization {org.slug} with admin {admin.email} ({who})")
