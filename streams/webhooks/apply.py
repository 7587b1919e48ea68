"""Turning one delivery's facts into events, through streams.ingest.

Every write goes through ``events_import`` with the rows of the event kinds
of docs/formats.md#event-csvs, so a delivery obeys the same rules as a CSV import (keys,
all-or-nothing, status mapping, derived facts, a recompute queued when
something changed). What is kept here is only what makes deliveries order
independent: the winning version of each item's attributes, and the pull
requests and deployments a repository's changes are linked from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Lower
from django.utils.translation import ngettext

from portfolio.models import Organization
from streams.ingest import ImportRejected, ImportResult, events_import
from streams.models import (
    Change,
    DeploymentStatus,
    StatusMapping,
    ValueStream,
    WebhookDeployment,
    WebhookItem,
    WebhookPullRequest,
)

# The one environment DORA counts (docs/metrics.md#deployments-changes-and-incidents).
PRODUCTION = "production"
# The columns a work item's attributes are kept in (and its flow item's: the same).
KEY_MAX = WebhookItem._meta.get_field("key").max_length
TITLE_MAX = WebhookItem._meta.get_field("title").max_length


class DeliveryRejected(Exception):
    """The delivery cannot be ingested (stale, or not what was expected): answered 4xx,
    logged, and nothing of it is kept. A redelivery is tried again."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class DeliveryIgnored(Exception):
    """Nothing in the delivery is for Throughline (a ping, an unrouted repository):
    answered 200 so the sender does not retry, and logged with the reason."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Applied:
    """What a delivery changed: the imports' results, and changes unlinked."""

    results: list[ImportResult] = field(default_factory=list)
    changes_deleted: int = 0
    notes: list[str] = field(default_factory=list)
    # What of the payload was changed to fit its column (a title cut): the
    # receipt ends with it, and it is logged (streams.webhooks.receive).
    adjusted: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.changes_deleted > 0 or any(r.created or r.updated for r in self.results)

    def summary(self) -> str:
        parts = [r.summary() for r in self.results if r.created or r.updated]
        if self.changes_deleted:
            parts.append(f"changes: {self.changes_deleted} unlinked")
        parts = parts or ["nothing new"]
        return "; ".join([*parts, *self.notes])


# --- Helpers for reading payloads --------------------------------------------------


def iso(at: datetime) -> str:
    return at.isoformat()


def check_fresh(at: datetime, *, now: datetime, what: str) -> None:
    """Reject an event older than WEBHOOK_MAX_AGE_SECONDS (a replay, or a backlog)."""
    max_age = settings.WEBHOOK_MAX_AGE_SECONDS
    age = (now - at).total_seconds()
    if age > max_age:
        hours = max_age / 3600
        # ngettext wants an integer: 1.5 hours is plural, only exactly 1 is not.
        limit = ngettext("%(n)s hour", "%(n)s hours", 1 if hours == 1 else 2) % {"n": f"{hours:g}"}
        raise DeliveryRejected(
            f"stale delivery: {what} is {iso(at)}, {age / 3600:.1f} hours ago; deliveries "
            f"older than {limit} are refused (WEBHOOK_MAX_AGE_SECONDS)"
        )


def _import(
    organization: Organization, kind: str, rows: list[Mapping[str, Any]], applied: Applied
) -> None:
    try:
        applied.results.append(
            events_import(organization=organization, kind=kind, rows=rows, source="json")
        )
    except ImportRejected as exc:
        # The ingest names rows "item N"; the delivery has one list per kind.
        raise DeliveryRejected("; ".join(f"{kind} {m}" for m in exc.messages)) from exc


# --- Flow items and transitions ------------------------------------------------------


@dataclass(frozen=True)
class ItemVersion:
    """A flow item's attributes as one payload saw them at ``updated_at``."""

    key: str
    updated_at: datetime
    type: str
    title: str
    created_at: datetime

    def rank(self) -> tuple:
        # Last writer wins by the payload's own clock; on a tie the attributes
        # themselves decide, so the winner never depends on arrival order.
        return (self.updated_at, self.type, self.title, self.created_at)


@dataclass(frozen=True)
class ToolTransition:
    """An item entered a tool status at an instant. ``default`` is the category used
    when the value stream maps no such status (None: such a delivery is rejected)."""

    at: datetime
    tool_status: str
    default: str | None


def _item_version_settle(
    organization: Organization, provider: str, version: ItemVersion
) -> ItemVersion:
    """Keep the winning version of the item's attributes; answer it."""
    stored, created = WebhookItem.objects.select_for_update().get_or_create(
        organization=organization,
        provider=provider,
        key=version.key,
        defaults={
            "updated_at": version.updated_at,
            "type": version.type,
            "title": version.title,
            "created_at": version.created_at,
        },
    )
    if created:
        return version
    current = ItemVersion(
        key=stored.key,
        updated_at=stored.updated_at,
        type=stored.type,
        title=stored.title,
        created_at=stored.created_at,
    )
    if version.rank() <= current.rank():
        return current
    stored.updated_at, stored.type = version.updated_at, version.type
    stored.title, stored.created_at = version.title, version.created_at
    stored.save(update_fields=["updated_at", "type", "title", "created_at"])
    return version


def _states(
    organization: Organization, value_stream: ValueStream, key: str, transitions: list
) -> list[str]:
    """The ``state`` cell of each transition: the tool status itself when the value
    stream maps it (ingest resolves it through StatusMapping), else its default."""
    wanted = {t.tool_status.lower() for t in transitions}
    mapped = set(
        StatusMapping.objects.filter(organization=organization, value_stream=value_stream)
        .annotate(status=Lower("tool_status"))
        .filter(status__in=wanted)
        .values_list("status", flat=True)
    )
    states = []
    for t in transitions:
        if t.tool_status.lower() in mapped:
            states.append(t.tool_status)
        elif t.default is not None:
            states.append(t.default)
        else:
            raise DeliveryRejected(
                f"{key}: status '{t.tool_status}' is not mapped in value stream "
                f"'{value_stream.slug}'; map it to new, active, waiting, done or canceled "
                "on the value stream's page, then redeliver"
            )
    return states


def item_apply(
    *,
    organization: Organization,
    provider: str,
    value_stream: ValueStream,
    version: ItemVersion,
    transitions: Iterable[ToolTransition],
    applied: Applied,
) -> None:
    """Upsert the item with its winning attributes, and add the transitions.

    Transitions are keyed by (item, at): the set they form is the same whatever
    order deliveries arrive in, and ingestion recomputes the item's derived facts.
    """
    winner = _item_version_settle(organization, provider, version)
    item_row = {
        "key": winner.key,
        "type": winner.type,
        "title": winner.title,
        "value_stream": value_stream.slug,
        "created_at": iso(winner.created_at),
    }
    _import(organization, "flow_items", [item_row], applied)
    # One transition per instant: a payload may name the same one twice.
    unique = list({t.at: t for t in sorted(transitions, key=lambda t: t.at)}.values())
    if unique:
        states = _states(organization, value_stream, winner.key, unique)
        rows = [
            {"key": winner.key, "at": iso(t.at), "state": state}
            for t, state in zip(unique, states, strict=True)
        ]
        _import(organization, "flow_transitions", rows, applied)


# --- GitHub: deployments, pull requests and the changes linking them ---------------------


def pull_request_key(repository: str, number: int) -> str:
    return f"{repository}/pull/{number}"


def deployment_key(repository: str, deployment_id: int) -> str:
    return f"{repository}/deployments/{deployment_id}"


def pull_request_record(
    *,
    organization: Organization,
    repository: str,
    number: int,
    opened_at: datetime,
    merged_at: datetime | None,
) -> None:
    """Remember a pull request. A merge is final: once merged it stays merged,
    whatever later (or earlier) delivery arrives; times keep their minimum, so
    the record is the same in every arrival order."""
    stored, created = WebhookPullRequest.objects.select_for_update().get_or_create(
        organization=organization,
        repository=repository,
        number=number,
        defaults={"opened_at": opened_at, "merged_at": merged_at},
    )
    if created:
        return
    merged = [m for m in (stored.merged_at, merged_at) if m is not None]
    new = (min(stored.opened_at, opened_at), min(merged) if merged else None)
    if new != (stored.opened_at, stored.merged_at):
        stored.opened_at, stored.merged_at = new
        stored.save(update_fields=["opened_at", "merged_at"])


def deployment_apply(
    *,
    organization: Organization,
    value_stream: ValueStream,
    repository: str,
    deployment_id: int,
    environment: str,
    created_at: datetime,
    status: str,
    status_id: int,
    status_at: datetime,
    applied: Applied,
) -> None:
    """Keep the deployment's latest final status (by the status's own time, then
    id) and upsert it as a deployment event."""
    incoming = (status_at, status_id)
    stored, created = WebhookDeployment.objects.select_for_update().get_or_create(
        organization=organization,
        repository=repository,
        deployment_id=deployment_id,
        defaults={
            "environment": environment,
            "created_at": created_at,
            "status": status,
            "status_id": status_id,
            "status_at": status_at,
        },
    )
    if not created and incoming > (stored.status_at, stored.status_id):
        stored.environment, stored.created_at = environment, created_at
        stored.status, stored.status_id, stored.status_at = status, status_id, status_at
        stored.save()
    row = {
        "key": deployment_key(repository, deployment_id),
        "value_stream": value_stream.slug,
        "environment": stored.environment,
        "deployed_at": iso(stored.status_at),
        "status": stored.status,
    }
    _import(organization, "deployments", [row], applied)


def changes_relink(
    *,
    organization: Organization,
    value_stream: ValueStream,
    repository: str,
    applied: Applied,
) -> None:
    """Recompute every change of the repository from its merged pull requests.

    A merged pull request is a change shipped by the earliest successful
    production deployment of the same repository requested at or after its merge
    (the first that can contain it). One query links them all, so the result
    depends only on which pull requests and deployments are known, never on
    the order they arrived in. A change whose deployment no longer qualifies
    (its status turned to failure) moves to the next one, or is removed.
    """
    first_success = (
        WebhookDeployment.objects.filter(
            organization=organization,
            repository=OuterRef("repository"),
            environment=PRODUCTION,
            status=DeploymentStatus.SUCCESS,
            created_at__gte=OuterRef("merged_at"),
        )
        .order_by("status_at", "deployment_id")
        .values("deployment_id")[:1]
    )
    pulls = (
        WebhookPullRequest.objects.filter(organization=organization, repository=repository)
        .annotate(shipped_by=Subquery(first_success))
        .order_by("number")
        .values_list("number", "opened_at", "merged_at", "shipped_by")
    )
    rows, unshipped = [], []
    for number, opened_at, merged_at, shipped_by in pulls:
        key = pull_request_key(repository, number)
        if merged_at is None or shipped_by is None:
            unshipped.append(key)
            continue
        rows.append(
            {
                "key": key,
                "value_stream": value_stream.slug,
                "committed_at": iso(opened_at),
                "deployment": deployment_key(repository, shipped_by),
            }
        )
    if rows:
        _import(organization, "changes", rows, applied)
    if unshipped:
        deleted, _ = Change.objects.filter(organization=organization, key__in=unshipped).delete()
        if deleted:
            from metrics.tasks import kpis_recompute_soon

            applied.changes_deleted += deleted
            kpis_recompute_soon(organization=organization)
