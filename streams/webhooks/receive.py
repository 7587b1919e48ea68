"""Receiving a delivery: its signature, the delivery log that deduplicates it, and
the provider's mapping that applies it."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portfolio.models import Organization
from portfolio.text_input import JSON_BODY, InputRefused, json_parse, text_check
from streams.models import DeliveryOutcome, WebhookDelivery, WebhookProvider
from streams.webhooks.apply import Applied, DeliveryIgnored, DeliveryRejected
from streams.webhooks.github import github_apply
from streams.webhooks.jira import jira_apply
from streams.webhooks.payload import nul_replace

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20  # 1 MiB: GitHub caps payloads at 25 MB, but ours are a few kB
DELIVERY_ID_MAX = WebhookDelivery._meta.get_field("delivery_id").max_length
MESSAGE_MAX = WebhookDelivery._meta.get_field("message").max_length
EVENT_MAX = WebhookDelivery._meta.get_field("event").max_length
# The log is what makes a replay a duplicate. An event older than the staleness
# window is refused anyway, so rows are kept for twice that (at least 30 days,
# for the admins' page) and then pruned.
MIN_LOG_DAYS = 30


@dataclass(frozen=True)
class ProviderSpec:
    signature_header: str  # as in the request's META
    signature_name: str  # as the sender spells it, for messages
    delivery_header: str
    delivery_name: str
    apply: Callable[..., Applied]


PROVIDERS: dict[str, ProviderSpec] = {
    WebhookProvider.GITHUB: ProviderSpec(
        signature_header="HTTP_X_HUB_SIGNATURE_256",
        signature_name="X-Hub-Signature-256",
        delivery_header="HTTP_X_GITHUB_DELIVERY",
        delivery_name="X-GitHub-Delivery",
        apply=github_apply,
    ),
    # Jira Cloud signs a webhook that has a secret the same way, in X-Hub-Signature.
    WebhookProvider.JIRA: ProviderSpec(
        signature_header="HTTP_X_HUB_SIGNATURE",
        signature_name="X-Hub-Signature",
        delivery_header="HTTP_X_ATLASSIAN_WEBHOOK_IDENTIFIER",
        delivery_name="X-Atlassian-Webhook-Identifier",
        apply=jira_apply,
    ),
}


@dataclass(frozen=True)
class Receipt:
    """The answer to a delivery: its HTTP status, outcome and the reason in words."""

    status: int
    outcome: str  # a DeliveryOutcome, or "duplicate"
    message: str

    def as_json(self) -> dict[str, str]:
        return {"outcome": self.outcome, "detail": self.message}


def signature_valid(*, secret: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is ``sha256=<hex HMAC-SHA256 of body>`` under ``secret``.

    Compared in constant time (``hmac.compare_digest``), so the time taken tells
    nothing about how much of a guess was right.
    """
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def signature_refused(provider: str) -> Receipt:
    """The one answer for a bad or missing signature, an unknown organization and an
    endpoint without a secret: they must be indistinguishable."""
    name = PROVIDERS[provider].signature_name
    return Receipt(
        status=403,
        outcome=DeliveryOutcome.REJECTED,
        message=(
            f"signature check failed: expected {name}: sha256=<hex HMAC-SHA256 of the body> "
            "made with this endpoint's secret (set on the organization's webhooks page)"
        ),
    )


def _event_name(event: str, payload: dict) -> str:
    """The event as the log shows it: GitHub's with its action (``issues.closed``)."""
    action = payload.get("action")
    name = f"{event}.{action}" if isinstance(action, str) and action else event
    return name[:EVENT_MAX]


@transaction.atomic
def webhook_delivery_receive(
    *,
    organization: Organization,
    provider: str,
    delivery_id: str,
    event: str,
    content_type: str,
    body: bytes,
    now: datetime | None = None,
) -> Receipt:
    """Log and apply one delivery whose signature has been checked.

    A delivery id already logged as applied, unchanged or ignored is a
    duplicate: answered 200 ("already received") and nothing changes. One
    logged as rejected is tried again (GitHub's "Redeliver" keeps the id, so
    a delivery refused for a missing status mapping can be replayed after
    the mapping is added). Concurrent copies of one delivery queue on the
    log's unique key: the second sees the first's outcome.
    """
    spec = PROVIDERS[provider]
    now = now or timezone.now()
    delivery_id = delivery_id.strip()
    if not delivery_id:
        return Receipt(400, DeliveryOutcome.REJECTED, f"the {spec.delivery_name} header is missing")
    if len(delivery_id) > DELIVERY_ID_MAX:
        return Receipt(
            400,
            DeliveryOutcome.REJECTED,
            f"the {spec.delivery_name} header is {len(delivery_id)} characters long; "
            f"expected at most {DELIVERY_ID_MAX}",
        )
    delivery, created = WebhookDelivery.objects.select_for_update().get_or_create(
        organization=organization,
        provider=provider,
        delivery_id=delivery_id,
        defaults={"received_at": now, "outcome": DeliveryOutcome.REJECTED, "status_code": 500},
    )
    if not created and delivery.outcome != DeliveryOutcome.REJECTED:
        return Receipt(
            200,
            "duplicate",
            f"delivery {delivery_id} was already received at "
            f"{delivery.received_at.isoformat()} ({delivery.outcome}); nothing changed",
        )
    receipt, event_name = _receive(
        organization, provider, spec, delivery_id, event, content_type, body, now=now
    )
    delivery.event = event_name
    delivery.received_at = now
    delivery.outcome = receipt.outcome
    delivery.status_code = receipt.status
    delivery.message = receipt.message[:MESSAGE_MAX]
    delivery.save()
    _log_prune(organization, now)
    logger.info(
        "webhook %s delivery %s for organization %s: %s %s",
        provider,
        delivery_id,
        organization.pk,
        receipt.status,
        receipt.outcome,
    )
    return receipt


def _receive(
    organization: Organization,
    provider: str,
    spec: ProviderSpec,
    delivery_id: str,
    event: str,
    content_type: str,
    body: bytes,
    *,
    now: datetime,
) -> tuple[Receipt, str]:
    """The delivery's receipt, and its event's name for the log. What of the payload
    was changed to fit its columns (NUL replaced, a title cut) is logged, and said
    at the end of the receipt whatever its outcome."""

    def bad_request(message: str) -> tuple[Receipt, str]:
        return Receipt(400, DeliveryOutcome.REJECTED, message), event[:EVENT_MAX]

    media_type = content_type.split(";")[0].strip().lower()
    if media_type != "application/json":
        return bad_request(
            f"content type '{media_type or '(none)'}' is not application/json; set the "
            "webhook's content type to application/json"
        )
    try:
        # The checks and the parser of every JSON body: not UTF-8, not JSON, or
        # nested too deeply to read, each refused in one line.
        text_check(name="the body", chunks=[body], fmt=JSON_BODY)
        payload = json_parse(body.decode("utf-8-sig"), name="the body")
    except InputRefused as exc:
        return bad_request(str(exc.message).removesuffix("."))
    if not isinstance(payload, dict):
        return bad_request(f"the body is a JSON {type(payload).__name__}; expected an object")
    # Every text of the payload may reach a column (or a query): none may hold NUL.
    payload, replaced = nul_replace(payload)
    adjusted = [f"NUL characters replaced in {', '.join(replaced)}"] if replaced else []
    if provider == WebhookProvider.JIRA:
        # Jira names the event in the body, not in a header.
        event = payload.get("webhookEvent") if isinstance(payload.get("webhookEvent"), str) else ""
    elif not event:
        return bad_request("the X-GitHub-Event header is missing")
    event_name = _event_name(event, payload)
    try:
        # A savepoint: a rejected delivery leaves nothing behind but its log row.
        with transaction.atomic():
            applied = spec.apply(organization=organization, event=event, payload=payload, now=now)
    except DeliveryIgnored as exc:
        receipt = Receipt(200, DeliveryOutcome.IGNORED, exc.message)
    except DeliveryRejected as exc:
        receipt = Receipt(exc.status, DeliveryOutcome.REJECTED, exc.message)
    else:
        outcome = DeliveryOutcome.APPLIED if applied.changed else DeliveryOutcome.UNCHANGED
        adjusted += applied.adjusted
        receipt = Receipt(200, outcome, applied.summary())
    for note in adjusted:
        logger.warning("%s delivery %s: %s", provider, delivery_id, note)
    if adjusted:
        receipt = Receipt(receipt.status, receipt.outcome, "; ".join([receipt.message, *adjusted]))
    return receipt, event_name


def _log_prune(organization: Organization, now: datetime) -> None:
    window = timedelta(seconds=settings.WEBHOOK_MAX_AGE_SECONDS)
    keep = max(timedelta(days=MIN_LOG_DAYS), 2 * window)
    WebhookDelivery.objects.filter(organization=organization, received_at__lt=now - keep).delete()
