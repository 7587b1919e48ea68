"""The commands' tenancy choke point: ``--org SLUG`` resolved once, its context set."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from portfolio.models import Organization
from portfolio.tenancy import organization_context


class OrgCommand(BaseCommand):
    """A command acting on one organization: ``handle_org`` runs in one transaction
    with the organization set for row-level security, so a failure changes nothing."""

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--org", required=True, metavar="SLUG", help="the organization's slug")

    def handle(self, *args: Any, **options: Any) -> str | None:
        slug = options["org"]
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            raise CommandError(f"--org: no organization has the slug '{slug}'")
        try:
            with organization_context(org.pk):
                return self.handle_org(org, *args, **options)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc

    def handle_org(self, organization: Organization, *args: Any, **options: Any) -> str | None:
        raise NotImplementedError
