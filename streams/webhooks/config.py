"""An organization's webhook set-up: one secret per provider, and routes from a
GitHub repository or a Jira project to a value stream."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from portfolio.audit import audit_record
from portfolio.models import Organization
from streams.models import (
    ValueStream,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookProvider,
    WebhookRoute,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import HttpRequest

SECRET_BYTES = 32  # 256 bits, as many as the HMAC-SHA256 key's block can use well

# GitHub: owner (letters, digits, inner hyphens) / repository (also dots and underscores).
GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
# Jira: a project key starts with a letter; then letters, digits or underscores.
JIRA_PROJECT = re.compile(r"^[A-Z][A-Z0-9_]{0,254}$")


def _provider(provider: str) -> WebhookProvider:
    if provider not in WebhookProvider.values:
        raise ValidationError(
            f"provider '{provider}' is not one of {', '.join(WebhookProvider.values)}"
        )
    return WebhookProvider(provider)


# --- Selectors -----------------------------------------------------------------------


def webhook_secret_for(*, organization_id: int | None, provider: str) -> str | None:
    """The provider's secret for this organization, or None when it has none (or
    there is no such organization): the receiving view treats both alike."""
    return (
        WebhookEndpoint.objects.filter(organization_id=organization_id, provider=provider)
        .values_list("secret", flat=True)
        .first()
    )


def webhook_endpoints(*, organization: Organization) -> dict[str, WebhookEndpoint]:
    """The organization's configured endpoints, by provider (with their secrets:
    never render those)."""
    rows = WebhookEndpoint.objects.filter(organization=organization).select_related("rotated_by")
    return {row.provider: row for row in rows}


def webhook_routes(*, organization: Organization) -> QuerySet[WebhookRoute]:
    return (
        WebhookRoute.objects.filter(organization=organization)
        .select_related("value_stream")
        .order_by("provider", "source", "id")
    )


def webhook_route_for(
    *, organization: Organization, provider: str, source: str
) -> WebhookRoute | None:
    """The route of one repository or project (names compared without case)."""
    return (
        WebhookRoute.objects.filter(
            organization=organization, provider=provider, source__iexact=source
        )
        .select_related("value_stream")
        .first()
    )


def webhook_deliveries(*, organization: Organization) -> QuerySet[WebhookDelivery]:
    """The delivery log, newest first."""
    return WebhookDelivery.objects.filter(organization=organization).order_by("-received_at", "-id")


# --- Services ------------------------------------------------------------------------


@transaction.atomic
def webhook_secret_rotate(
    *,
    organization: Organization,
    provider: str,
    actor: AbstractBaseUser | None,
    request: HttpRequest | None = None,
) -> str:
    """Give the provider's endpoint a new random secret and answer it (shown once).

    The first rotation configures the endpoint; until then every delivery to it
    is refused. The previous secret stops working at once: paste the new one
    into GitHub or Jira straight away.
    """
    provider = _provider(provider)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    WebhookEndpoint.objects.update_or_create(
        organization=organization,
        provider=provider,
        defaults={"secret": secret, "rotated_at": timezone.now(), "rotated_by": actor},
    )
    audit_record(
        organization=organization,
        actor=actor,
        action="webhook.secret_rotated",
        target=f"{provider.label} webhook",
        detail={"provider": provider.value},
        request=request,
    )
    return secret


def _clean_source(provider: WebhookProvider, source: str) -> str:
    source = (source or "").strip()
    if provider == WebhookProvider.GITHUB:
        source = source.removeprefix("https://github.com/").strip("/")
        if not GITHUB_REPOSITORY.match(source):
            raise ValidationError(
                {"source": f"'{source}' is not a GitHub repository; expected owner/name"}
            )
        return source
    source = source.upper()
    if not JIRA_PROJECT.match(source):
        raise ValidationError(
            {"source": f"'{source}' is not a Jira project key; expected e.g. CLM or WEB2"}
        )
    return source


@transaction.atomic
def webhook_route_create(
    *, organization: Organization, provider: str, source: str, value_stream: ValueStream
) -> WebhookRoute:
    """Route deliveries about one repository (GitHub) or project (Jira) to a value stream."""
    provider = _provider(provider)
    if value_stream.organization_id != organization.pk:
        raise ValidationError({"value_stream": "Choose a value stream of this organization."})
    source = _clean_source(provider, source)
    existing = webhook_route_for(organization=organization, provider=provider, source=source)
    if existing is not None:
        raise ValidationError(
            {
                "source": f"{provider.label} '{existing.source}' already feeds value stream "
                f"'{existing.value_stream.name}'; delete that route first"
            }
        )
    return WebhookRoute.objects.create(
        organization=organization, provider=provider, source=source, value_stream=value_stream
    )


@transaction.atomic
def webhook_route_delete(*, organization: Organization, route: WebhookRoute) -> None:
    """Stop routing a source. The events it brought stay; new deliveries are ignored."""
    WebhookRoute.objects.filter(organization=organization, pk=route.pk).delete()
