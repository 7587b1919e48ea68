"""Value streams: ordered stages touching components, cascading from business to team level."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from portfolio.jobs import Job
from portfolio.models import (
    Component,
    ModelEntity,
    OrgOwned,
    event_organization,
    org_unique,
    slug_validator,
)


class StreamKind(models.TextChoices):
    BUSINESS = "business", "Business"
    TEAM = "team", "Team"


class StateCategory(models.TextChoices):
    """The Flow Framework's state categories (docs/metrics.md#flow-items-and-transitions)."""

    NEW = "new", "New"
    ACTIVE = "active", "Active"
    WAITING = "waiting", "Waiting"
    DONE = "done", "Done"
    CANCELED = "canceled", "Canceled"


class ValueStream(ModelEntity):
    slug = models.SlugField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=StreamKind.choices, default=StreamKind.TEAM)
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    # A person, by email: often a member, but ownership grants no access, so an
    # owner need not be one (and a model moves between organizations intact).
    owner_email = models.EmailField(blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [org_unique("slug", name="valuestream_org_slug_uniq")]
        indexes = [
            models.Index(fields=["organization", "parent"], name="valuestream_org_parent_idx")
        ]

    def __str__(self) -> str:
        return self.name


class Stage(ModelEntity):
    """An ordered stage of a value stream; it touches components on several layers."""

    value_stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="stages")
    slug = models.SlugField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)
    components = models.ManyToManyField(Component, through="StageComponent", related_name="stages")

    class Meta:
        ordering = ["value_stream", "position", "id"]
        constraints = [org_unique("value_stream", "slug", name="stage_org_stream_slug_uniq")]

    def __str__(self) -> str:
        return self.name


class StageComponent(ModelEntity):
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE)
    component = models.ForeignKey(Component, on_delete=models.CASCADE)

    class Meta:
        constraints = [org_unique("stage", "component", name="stagecomponent_uniq")]

    def __str__(self) -> str:
        return f"stage {self.stage_id} → component {self.component_id}"


class StatusMapping(ModelEntity):
    """How one tool status (e.g. "In Review") maps to a state category, per value stream."""

    value_stream = models.ForeignKey(
        ValueStream, on_delete=models.CASCADE, related_name="status_mappings"
    )
    tool_status = models.CharField(max_length=100)
    category = models.CharField(max_length=10, choices=StateCategory.choices)

    class Meta:
        ordering = ["value_stream", "tool_status"]
        constraints = [
            models.UniqueConstraint(
                "organization",
                "value_stream",
                Lower("tool_status"),
                name="statusmapping_org_stream_status_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tool_status} → {self.category}"


# --- Delivery events (ingested; not part of the model's history) --------------------


class FlowType(models.TextChoices):
    """The Flow Framework's item types (docs/metrics.md#flow-items-and-transitions)."""

    FEATURE = "feature", "Feature"
    DEFECT = "defect", "Defect"
    RISK = "risk", "Risk"
    DEBT = "debt", "Debt"


class FlowItem(OrgOwned):
    """A work item of a tool, as one flow item of a value stream.

    The derived facts (``state`` ... ``waiting_seconds``) follow from the item's
    transitions by the definitions of docs/metrics.md#flow-items-and-transitions;
    ingestion keeps them current, so metric queries read them instead of re-windowing
    every transition.
    """

    organization = event_organization()
    # Checked by the same-organization key; looked up by flowitem_done_idx.
    value_stream = models.ForeignKey(
        ValueStream,
        on_delete=models.CASCADE,
        related_name="flow_items",
        db_index=False,
        db_constraint=False,
    )
    key = models.CharField(max_length=200)
    type = models.CharField(max_length=10, choices=FlowType.choices)
    title = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    # Derived from the transitions (docs/metrics.md#flow-items-and-transitions):
    state = models.CharField(
        max_length=10, choices=StateCategory.choices, default=StateCategory.NEW
    )  # the state of the last transition, "new" before any
    started_at = models.DateTimeField(null=True)  # first transition to a state other than new
    done_at = models.DateTimeField(null=True)  # last transition, when its state is done
    active_seconds = models.BigIntegerField(default=0)  # time in active, start..done_at
    waiting_seconds = models.BigIntegerField(default=0)  # time in waiting, start..done_at

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="flowitem_org_key_uniq")
        ]
        indexes = [
            # Covers the items done in a period with what flow metrics read of
            # them, so the engine's scan never visits the table (index-only).
            models.Index(
                fields=["organization", "value_stream", "done_at"],
                include=["started_at", "type", "active_seconds"],
                name="flowitem_done_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.key


class FlowTransition(OrgOwned):
    organization = event_organization()
    # Checked by the same-organization key; looked up by flowtransition_item_at_uniq.
    item = models.ForeignKey(
        FlowItem,
        on_delete=models.CASCADE,
        related_name="transitions",
        db_index=False,
        db_constraint=False,
    )
    at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=StateCategory.choices)

    class Meta:
        constraints = [
            # docs/metrics.md#flow-items-and-transitions: transitions of one item
            # never share an instant.
            models.UniqueConstraint(
                fields=["organization", "item", "at"], name="flowtransition_item_at_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} {self.state} at {self.at:%Y-%m-%d %H:%M}"


class FlowWipSpan(OrgOwned):
    """A derived fact: one stretch of time a flow item is work in progress.

    docs/metrics.md#flow-items-and-transitions: an item is WIP at instant t when the
    state of its last transition with at < t is active or waiting. A run of such
    transitions from ``started_at`` up to the next transition out of them (``ended_at``, null
    while the run lasts) makes the item WIP at exactly the instants t with
    started_at < t <= ended_at. Kept by metrics.engine with the item's other
    facts, under the value stream the item belonged to when they were computed.
    """

    # Written only by the engine, from items and transitions already checked:
    # no referential checks (portfolio.org_keys skips DERIVED_FACTS models).
    DERIVED_FACTS = True

    organization = event_organization()
    item = models.ForeignKey(
        FlowItem, on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    value_stream = models.ForeignKey(
        ValueStream, on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "item"], name="flowwipspan_item_idx")]

    def __str__(self) -> str:
        return f"{self.item_id} in progress from {self.started_at:%Y-%m-%d %H:%M}"


class FlowWipChange(OrgOwned):
    """A derived fact: how a value stream's WIP changes within one 15-minute step.

    ``change`` = the spans (FlowWipSpan) of the stream that start in [at, at +
    15 min) minus those that end in it. Every local midnight of every time zone
    in use today falls on a 15-minute step of UTC, so the stream's WIP at such
    an instant E is the sum of ``change`` over the steps before E: flow load
    reads a few rows per day of history instead of every item.
    """

    STEP_SECONDS = 900

    organization = event_organization()
    value_stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, db_index=False)
    at = models.DateTimeField()
    change = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "value_stream", "at"], name="flowwipchange_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.value_stream_id} WIP {self.change:+d} at {self.at:%Y-%m-%d %H:%M}"


class DeploymentStatus(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class Deployment(OrgOwned):
    value_stream = models.ForeignKey(
        ValueStream, on_delete=models.CASCADE, related_name="deployments"
    )
    key = models.CharField(max_length=200)
    environment = models.CharField(max_length=100)
    deployed_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=DeploymentStatus.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="deployment_org_key_uniq")
        ]
        indexes = [
            models.Index(
                fields=["organization", "value_stream", "deployed_at"], name="deployment_at_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.key


class Change(OrgOwned):
    """A commit or merged pull request, and the deployment that shipped it."""

    value_stream = models.ForeignKey(ValueStream, on_delete=models.CASCADE, related_name="changes")
    key = models.CharField(max_length=200)
    committed_at = models.DateTimeField()
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="changes")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="change_org_key_uniq")
        ]
        indexes = [
            models.Index(fields=["organization", "deployment"], name="change_deployment_idx")
        ]

    def __str__(self) -> str:
        return self.key


class Incident(OrgOwned):
    value_stream = models.ForeignKey(
        ValueStream, on_delete=models.CASCADE, related_name="incidents"
    )
    key = models.CharField(max_length=200)
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    deployment = models.ForeignKey(
        Deployment, on_delete=models.SET_NULL, null=True, blank=True, related_name="incidents"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="incident_org_key_uniq")
        ]
        indexes = [
            models.Index(
                fields=["organization", "value_stream", "resolved_at"], name="incident_resolved_idx"
            ),
            models.Index(fields=["organization", "deployment"], name="incident_deployment_idx"),
        ]

    def __str__(self) -> str:
        return self.key


class EventKind(models.TextChoices):
    """The kinds of event CSV (docs/formats.md#event-csvs), as streams.ingest.KINDS names them."""

    FLOW_ITEMS = "flow_items", "Flow items"
    FLOW_TRANSITIONS = "flow_transitions", "Flow transitions"
    DEPLOYMENTS = "deployments", "Deployments"
    CHANGES = "changes", "Changes"
    INCIDENTS = "incidents", "Incidents"
    JOURNEY_EVENTS = "journey_events", "Journey events"


class UploadStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"


def _event_upload_path(instance: EventUpload, filename: str) -> str:
    # The stored name is random: the original one is kept in its own field.
    return f"uploads/{instance.organization_id}/{uuid.uuid4().hex}.csv"


class EventUpload(Job):
    """An event CSV uploaded on the import page, and how its import went (streams.uploads);
    a background job (portfolio.jobs) that may also end rejected."""

    FINISHED: ClassVar[frozenset[str]] = frozenset(
        {UploadStatus.DONE, UploadStatus.REJECTED, UploadStatus.FAILED}
    )

    kind = models.CharField(max_length=20, choices=EventKind.choices)
    original_name = models.CharField(max_length=255)
    file = models.FileField(upload_to=_event_upload_path, max_length=255)
    size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=UploadStatus.choices, default=UploadStatus.QUEUED
    )
    # ImportResult's counts: {"created": n, "updated": n, "unchanged": n}.
    counts = models.JSONField(default=dict, blank=True)
    # The first ERRORS_KEPT "line N: reason" messages of a rejection; error_count has them all.
    errors = models.JSONField(default=list, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="eventupload_org_created_idx")
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.kind})"

    @property
    def errors_omitted(self) -> int:
        return max(self.error_count - len(self.errors), 0)


# --- Webhooks (streams.webhooks): GitHub and Jira deliveries feeding the events above ---


class WebhookProvider(models.TextChoices):
    GITHUB = "github", "GitHub"
    JIRA = "jira", "Jira"


class WebhookEndpoint(OrgOwned):
    """One provider's webhook endpoint of an organization: its shared secret.

    The secret is kept as is (not hashed): every delivery's HMAC-SHA256 is
    computed with it. It is shown once, when rotated, and never again.
    """

    provider = models.CharField(max_length=10, choices=WebhookProvider.choices)
    secret = models.CharField(max_length=100)
    rotated_at = models.DateTimeField()
    rotated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["provider"]
        constraints = [org_unique("provider", name="webhookendpoint_org_provider_uniq")]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} webhook"


class WebhookRoute(OrgOwned):
    """Deliveries about one source (a GitHub repository ``owner/name``, a Jira
    project key) feed one value stream."""

    provider = models.CharField(max_length=10, choices=WebhookProvider.choices)
    source = models.CharField(max_length=200)
    value_stream = models.ForeignKey(
        ValueStream, on_delete=models.CASCADE, related_name="webhook_routes"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["provider", "source"]
        constraints = [
            # GitHub names and Jira keys are both case-insensitive.
            models.UniqueConstraint(
                "organization", "provider", Lower("source"), name="webhookroute_org_source_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.source} → {self.value_stream_id}"


class DeliveryOutcome(models.TextChoices):
    APPLIED = "applied", "Applied"  # the delivery changed events
    UNCHANGED = "unchanged", "Unchanged"  # valid, but every fact in it was already known
    IGNORED = "ignored", "Ignored"  # nothing to ingest (a ping, an unrouted repository...)
    REJECTED = "rejected", "Rejected"  # stale or not ingestible; a redelivery is tried again


class WebhookDelivery(OrgOwned):
    """The log of received deliveries: what makes a replayed delivery id a duplicate."""

    provider = models.CharField(max_length=10, choices=WebhookProvider.choices)
    delivery_id = models.CharField(max_length=100)
    event = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=DeliveryOutcome.choices)
    status_code = models.PositiveSmallIntegerField()
    message = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            org_unique("provider", "delivery_id", name="webhookdelivery_org_delivery_uniq")
        ]
        indexes = [
            models.Index(
                fields=["organization", "-received_at"], name="webhookdelivery_received_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} delivery {self.delivery_id} ({self.outcome})"


class WebhookItem(OrgOwned):
    """The winning version of a flow item's attributes among the deliveries about it.

    Attributes are last-writer-wins by the payload's own ``updated_at``, not by
    arrival, so deliveries applied in any order leave the same item.
    """

    provider = models.CharField(max_length=10, choices=WebhookProvider.choices)
    key = models.CharField(max_length=200)  # the flow item's key
    updated_at = models.DateTimeField()
    type = models.CharField(max_length=10, choices=FlowType.choices)
    title = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [org_unique("provider", "key", name="webhookitem_org_key_uniq")]

    def __str__(self) -> str:
        return self.key


class WebhookPullRequest(OrgOwned):
    """A GitHub pull request into the default branch: a change once merged and shipped."""

    repository = models.CharField(max_length=200)  # owner/name, as GitHub spells it
    number = models.PositiveIntegerField()
    opened_at = models.DateTimeField()  # stands for the first commit's time (docs/webhooks.md)
    merged_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            org_unique("repository", "number", name="webhookpullrequest_org_number_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.repository}#{self.number}"


class WebhookDeployment(OrgOwned):
    """A GitHub deployment and its final status (the latest success or failure)."""

    repository = models.CharField(max_length=200)  # owner/name, as GitHub spells it
    deployment_id = models.BigIntegerField()
    environment = models.CharField(max_length=100)
    created_at = models.DateTimeField()  # when the deployment (of a ref) was requested
    status = models.CharField(max_length=10, choices=DeploymentStatus.choices)
    status_id = models.BigIntegerField()
    status_at = models.DateTimeField()  # when that final status was set: deployed_at

    class Meta:
        constraints = [
            org_unique("repository", "deployment_id", name="webhookdeployment_org_id_uniq")
        ]
        indexes = [
            models.Index(
                fields=["organization", "repository", "status_at"],
                name="webhookdeployment_repo_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.repository} deployment {self.deployment_id}"
