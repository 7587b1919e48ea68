"""GitHub deliveries: issues become flow items, merged pull requests changes, and
deployment statuses deployments (docs/webhooks.md has the whole mapping)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from portfolio.models import Organization
from streams.models import (
    DeploymentStatus,
    StateCategory,
    WebhookDeployment,
    WebhookProvider,
    WebhookPullRequest,
    WebhookRoute,
)
from streams.webhooks.apply import (
    PRODUCTION,
    TITLE_MAX,
    Applied,
    DeliveryIgnored,
    DeliveryRejected,
    ItemVersion,
    ToolTransition,
    changes_relink,
    check_fresh,
    deployment_apply,
    item_apply,
    pull_request_record,
)
from streams.webhooks.config import webhook_route_for
from streams.webhooks.payload import field, flow_type, integer_field, text_fit, time_field

INGESTED = ("issues", "pull_request", "deployment_status")

# Tool statuses of a GitHub issue, and their state category when the value
# stream's status mapping names no such status.
DEFAULT_CATEGORIES = {
    "open": StateCategory.ACTIVE,
    "closed": StateCategory.DONE,
    "not_planned": StateCategory.CANCELED,
    "duplicate": StateCategory.CANCELED,
}
# The columns GitHub's integers are kept in. Issues and pull requests share one
# sequence of numbers per repository: an issue's number has a pull request's range.
NUMBER = WebhookPullRequest._meta.get_field("number")
DEPLOYMENT_ID = WebhookDeployment._meta.get_field("deployment_id")
STATUS_ID = WebhookDeployment._meta.get_field("status_id")
FIRST = 1  # GitHub counts numbers and ids from 1

# Issue actions that say the issue is gone from the repository, not how it moved.
NOT_INGESTED_ACTIONS = {"deleted", "transferred"}

# Deployment status states: the final ones and what they make; others are steps.
FINAL_STATES = {
    "success": DeploymentStatus.SUCCESS,
    "failure": DeploymentStatus.FAILURE,
    "error": DeploymentStatus.FAILURE,
}


def _route(organization: Organization, payload: dict) -> tuple[str, WebhookRoute]:
    repository = field(payload, "repository.full_name", str)
    route = webhook_route_for(
        organization=organization, provider=WebhookProvider.GITHUB, source=repository
    )
    if route is None:
        raise DeliveryIgnored(
            f"repository '{repository}' is not routed to a value stream; add a route on "
            "the webhooks page to ingest it"
        )
    return repository, route


def _transition(at: datetime, status: str) -> ToolTransition:
    return ToolTransition(at=at, tool_status=status, default=DEFAULT_CATEGORIES[status])


def _issues(organization: Organization, payload: dict, now: datetime) -> Applied:
    action = field(payload, "action", str)
    if action in NOT_INGESTED_ACTIONS:
        raise DeliveryIgnored(f"issue {action}: the flow item and its history are kept")
    repository, route = _route(organization, payload)
    number = integer_field(payload, "issue.number", NUMBER, minimum=FIRST)
    updated_at = time_field(payload, "issue.updated_at", now=now)
    check_fresh(updated_at, now=now, what="issue.updated_at")
    created_at = time_field(payload, "issue.created_at", now=now)
    state = field(payload, "issue.state", str)
    labels = [field(label, "name", str) for label in field(payload, "issue.labels", list)]
    issue_type = field(payload, "issue.type.name", str, required=False)
    key = f"{repository}/issues/{number}"
    applied = Applied()
    title = field(payload, "issue.title", str)
    version = ItemVersion(
        key=key,
        updated_at=updated_at,
        type=flow_type([*labels, *([issue_type] if issue_type else [])]),
        title=text_fit(title, "issue.title", TITLE_MAX, applied.adjusted),
        created_at=created_at,
    )
    # Only facts this payload proves: opened at creation; closed at closed_at
    # while closed (a reopened issue's closed_at tells no state_reason); reopened
    # at updated_at by the reopening event itself.
    transitions = [_transition(created_at, "open")]
    if state == "closed":
        closed_at = time_field(payload, "issue.closed_at", now=now)
        reason = field(payload, "issue.state_reason", str, required=False)
        status = reason if reason in ("not_planned", "duplicate") else "closed"
        transitions.append(_transition(closed_at, status))
    elif state != "open":
        raise DeliveryRejected(f"payload field 'issue.state' is '{state}'; expected open or closed")
    if action == "reopened":
        transitions.append(_transition(updated_at, "open"))
    item_apply(
        organization=organization,
        provider=WebhookProvider.GITHUB,
        value_stream=route.value_stream,
        version=version,
        transitions=transitions,
        applied=applied,
    )
    return applied


def _pull_request(organization: Organization, payload: dict, now: datetime) -> Applied:
    repository, route = _route(organization, payload)
    number = integer_field(payload, "pull_request.number", NUMBER, minimum=FIRST)
    updated_at = time_field(payload, "pull_request.updated_at", now=now)
    check_fresh(updated_at, now=now, what="pull_request.updated_at")
    base = field(payload, "pull_request.base.ref", str)
    default_branch = field(payload, "repository.default_branch", str)
    if base != default_branch:
        raise DeliveryIgnored(
            f"pull request #{number} targets '{base}', not the default branch "
            f"'{default_branch}': only merges into the default branch are deployed"
        )
    merged_at = time_field(payload, "pull_request.merged_at", now=now, required=False)
    pull_request_record(
        organization=organization,
        repository=repository,
        number=number,
        # GitHub's pull_request payload has no first-commit time: the pull
        # request's opening stands for it (docs/webhooks.md, "Approximations").
        opened_at=time_field(payload, "pull_request.created_at", now=now),
        merged_at=merged_at,
    )
    applied = Applied()
    if merged_at is None:
        applied.notes.append(f"pull request #{number} is not merged: no change yet")
    changes_relink(
        organization=organization,
        value_stream=route.value_stream,
        repository=repository,
        applied=applied,
    )
    return applied


def _deployment_environment(payload: dict) -> str:
    """``production`` for a production deployment (so DORA counts it), else its name.

    GitHub names environments freely; a deployment counts as production when its
    environment is called so (in any case) or the deployer flagged it
    ``production_environment``.
    """
    environment = field(payload, "deployment.environment", str)
    flagged = field(payload, "deployment.production_environment", bool, required=False)
    if flagged or environment.strip().lower() == PRODUCTION:
        return PRODUCTION
    return environment.strip()[:100]


def _deployment_status(organization: Organization, payload: dict, now: datetime) -> Applied:
    state = field(payload, "deployment_status.state", str)
    status_at = time_field(payload, "deployment_status.created_at", now=now)
    if state not in FINAL_STATES:
        raise DeliveryIgnored(
            f"deployment status '{state}' is not final; a deployment counts once it ends "
            "in success, failure or error"
        )
    repository, route = _route(organization, payload)
    updated_at = time_field(payload, "deployment_status.updated_at", now=now, required=False)
    check_fresh(updated_at or status_at, now=now, what="deployment_status.updated_at")
    applied = Applied()
    deployment_apply(
        organization=organization,
        value_stream=route.value_stream,
        repository=repository,
        deployment_id=integer_field(payload, "deployment.id", DEPLOYMENT_ID, minimum=FIRST),
        environment=_deployment_environment(payload),
        created_at=time_field(payload, "deployment.created_at", now=now),
        status=FINAL_STATES[state],
        status_id=integer_field(payload, "deployment_status.id", STATUS_ID, minimum=FIRST),
        status_at=status_at,
        applied=applied,
    )
    changes_relink(
        organization=organization,
        value_stream=route.value_stream,
        repository=repository,
        applied=applied,
    )
    return applied


def _ping(organization: Organization, payload: dict, now: datetime) -> Applied:
    events = field(payload, "hook.events", list, required=False) or []
    missing = [e for e in INGESTED if e not in events and "*" not in events]
    note = f"; this hook does not send {', '.join(missing)}" if missing and events else ""
    raise DeliveryIgnored(f"ping: the webhook reaches Throughline{note}")


def _deployment(organization: Organization, payload: dict, now: datetime) -> Applied:
    raise DeliveryIgnored(
        "deployment events carry no outcome; Throughline counts a deployment from its "
        "deployment_status (success, failure or error)"
    )


HANDLERS: dict[str, Callable[[Organization, dict, datetime], Applied]] = {
    "issues": _issues,
    "pull_request": _pull_request,
    "deployment_status": _deployment_status,
    "deployment": _deployment,
    "ping": _ping,
}


def github_apply(
    *, organization: Organization, event: str, payload: dict[str, Any], now: datetime
) -> Applied:
    """Apply one GitHub delivery of ``event`` (the X-GitHub-Event header)."""
    handler = HANDLERS.get(event)
    if handler is None:
        raise DeliveryIgnored(
            f"event '{event}' is not ingested; subscribe to {', '.join(INGESTED)}"
        )
    return handler(organization, payload, now)
