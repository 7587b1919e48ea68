"""Jira deliveries: a created or updated issue becomes a flow item, and each status
change of its changelog a transition (docs/webhooks.md has the whole mapping)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portfolio.models import Organization
from streams.models import StateCategory, WebhookProvider
from streams.webhooks.apply import (
    KEY_MAX,
    TITLE_MAX,
    Applied,
    DeliveryIgnored,
    ItemVersion,
    ToolTransition,
    check_fresh,
    item_apply,
)
from streams.webhooks.config import webhook_route_for
from streams.webhooks.payload import epoch_ms_field, field, flow_type, text_fit, time_field

INGESTED = ("jira:issue_created", "jira:issue_updated")

# Jira's own status categories (fields.status.statusCategory.key), used for a
# status the value stream's mapping does not name. "Won't do" is in Jira's done
# category: map it to canceled to keep it out of velocity.
DEFAULT_CATEGORIES = {
    "new": StateCategory.NEW,
    "indeterminate": StateCategory.ACTIVE,
    "done": StateCategory.DONE,
}


def jira_apply(
    *, organization: Organization, event: str, payload: dict[str, Any], now: datetime
) -> Applied:
    """Apply one Jira delivery of ``event`` (the payload's ``webhookEvent``)."""
    if event not in INGESTED:
        raise DeliveryIgnored(
            f"event '{event or '(none)'}' is not ingested; send {', '.join(INGESTED)}"
        )
    at = epoch_ms_field(payload, "timestamp", now=now)
    check_fresh(at, now=now, what="timestamp")
    key = field(payload, "issue.key", str, max_length=KEY_MAX)
    project = field(payload, "issue.fields.project.key", str)
    route = webhook_route_for(
        organization=organization, provider=WebhookProvider.JIRA, source=project
    )
    if route is None:
        raise DeliveryIgnored(
            f"project '{project}' is not routed to a value stream; add a route on the "
            "webhooks page to ingest it"
        )
    fields = field(payload, "issue.fields", dict)
    labels = field(fields, "labels", list, required=False) or []
    issue_type = field(fields, "issuetype.name", str)
    applied = Applied()
    title = field(fields, "summary", str, required=False) or ""
    version = ItemVersion(
        key=key,
        updated_at=time_field(payload, "issue.fields.updated", now=now),
        type=flow_type([issue_type, *(label for label in labels if isinstance(label, str))]),
        title=text_fit(title, "issue.fields.summary", TITLE_MAX, applied.adjusted),
        created_at=time_field(payload, "issue.fields.created", now=now),
    )
    # The issue's current status carries its Jira category; a changelog entry
    # names only the status, which is the current one unless several changes
    # were folded into one delivery.
    current = field(fields, "status.name", str)
    current_category = field(fields, "status.statusCategory.key", str, required=False)

    def transition(status: str) -> ToolTransition:
        default = DEFAULT_CATEGORIES.get(current_category) if status == current else None
        return ToolTransition(at=at, tool_status=status, default=default)

    if event == "jira:issue_created":
        transitions = [transition(current)]
    else:
        items = field(payload, "changelog.items", list, required=False) or []
        statuses = [
            field(item, "toString", str)
            for item in items
            if isinstance(item, dict) and item.get("field") == "status"
        ]
        # Two status changes in one delivery share its timestamp: the last is the
        # one the issue is left in.
        transitions = [transition(statuses[-1])] if statuses else []
    item_apply(
        organization=organization,
        provider=WebhookProvider.JIRA,
        value_stream=route.value_stream,
        version=version,
        transitions=transitions,
        applied=applied,
    )
    return applied
