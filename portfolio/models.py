"""The tenant (Organization), its members, and the abstract base every tenant table inherits."""

from __future__ import annotations

import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1 to 50 lowercase letters, digits and inner hyphens.",
)


# The numbers people and files give the OKRs and the manual KPIs (a key result's
# baseline, target and weight, a check-in's value, a manual KPI value) are floats.
# Any real measure lies well within ±10^15 (a million billion); keeping them
# there keeps what is computed from them (progress, weighted sums, chart axes,
# report cells) far from the float's limits, where PostgreSQL answers "value
# out of range: overflow". Pages, the API and both imports refuse any other.
QUANTITY_MAX = 1e15


def quantity_range(minimum: float | None = None) -> str:
    """The allowed range as messages name it: ``from -1e15 to 1e15``, or from a
    quantity's own ``minimum`` (a weight's 0)."""
    low = "-1e15" if minimum is None else f"{minimum:g}"
    return f"from {low} to 1e15"


def quantity_shown(value: float) -> str:
    """A number as a message quotes it: as written, or in 6 digits when long (a
    whole number of 400 digits is too big for a float, so not formatted as one)."""
    text = str(value)
    return text if len(text) <= 24 else f"{Decimal(value):.6g}"


def quantity_in_range(value: float) -> bool:
    """Whether ``value`` is from -10^15 to 10^15 (``QUANTITY_MAX``): False for an
    infinity, NaN, or a whole number past any float."""
    # Written so that NaN fails too: every comparison with it is false. A Python
    # int compares exactly, however many digits it has.
    return -QUANTITY_MAX <= value <= QUANTITY_MAX


def validate_quantity(value: float) -> None:
    """The validator of every such number's field, form field and file reader."""
    if not quantity_in_range(value):
        raise ValidationError(f"Enter a number {quantity_range()}.", code="out_of_range")


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not a known IANA time zone (e.g. Europe/Berlin).")


class Organization(models.Model):
    """The tenant. Its own table is the registry of tenants: every read of tenant
    data goes through a Membership (under row-level security) or an org id."""

    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # Which DORA State of DevOps report's bands to show (metrics.bands).
    dora_report_year = models.PositiveSmallIntegerField(
        default=2023, choices=[(2023, "2023 report"), (2021, "2021 report")]
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrgOwned(models.Model):
    """Abstract base of every tenant table.

    Every subclass's table gets a row-level security policy on
    ``organization_id`` (portfolio.rls, applied after each migrate), and its
    unique constraints and indexes start with ``organization`` so that the
    schema can be distributed by organization.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


def event_organization() -> models.ForeignKey:
    """The ``organization`` of a row of an ingested event table (flow items and
    transitions, journey events: millions of rows).

    Such a row reaches its organization through its same-organization key
    (portfolio.org_keys: ``(organization_id, value_stream_id)``,
    ``(organization_id, item_id)`` or ``(organization_id, journey_id)``), whose
    target row references the organization in turn; a second referential check
    per row, and an index on ``organization_id`` alone, would only slow every
    import down (the table's unique keys lead with ``organization_id``).
    """
    return models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )


class ModelEntity(OrgOwned):
    """Abstract base of the organization's model (portfolio, value streams,
    journeys, OKRs): every change is kept in a history table (who, what, when)."""

    history = HistoricalRecords(inherit=True)

    class Meta:
        abstract = True


def org_unique(*fields: str, name: str) -> models.UniqueConstraint:
    """A uniqueness rule within one organization (the constraint leads with it)."""
    return models.UniqueConstraint(fields=["organization", *fields], name=name)


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}


def role_at_least(role: str, required: str) -> bool:
    return ROLE_RANK[Role(role)] >= ROLE_RANK[Role(required)]


# The one rule of who may do what. Pages, the API, tasks and templates (through
# portfolio.context_processors: ``can_edit``/``can_admin``) all ask these two
# rather than compare roles themselves, so the rule cannot drift between them.
def _role_of(who: Membership | str | None) -> str | None:
    return getattr(who, "role", who)


def may_edit(who: Membership | str | None) -> bool:
    """Whether a member (or a role) may change the organization's model: editors and admins."""
    role = _role_of(who)
    return role is not None and role_at_least(role, Role.EDITOR)


def may_administer(who: Membership | str | None) -> bool:
    """Whether a member (or a role) may manage members, tokens, webhooks and imports: admins."""
    role = _role_of(who)
    return role is not None and role_at_least(role, Role.ADMIN)


class Membership(OrgOwned):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="membership_org_user_uniq"
            ),
        ]
        indexes = [models.Index(fields=["organization", "role"], name="membership_org_role_idx")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization_id} as {self.role}"


class Invitation(OrgOwned):
    """An invitation by email. Only the SHA-256 of its token is stored."""

    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    token_hash = models.CharField(max_length=64)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    email_sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "token_hash"], name="invitation_org_token_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "email"], name="invitation_org_email_idx"),
            # Accepting a link looks the hash up before the organization is known.
            models.Index(fields=["token_hash"], name="invitation_token_idx"),
        ]

    def __str__(self) -> str:
        return f"invitation of {self.email}"

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )


class ApiToken(OrgOwned):
    """A user's API token for one organization. Only the SHA-256 of the key is stored;
    the key itself is shown once, when it is created."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "key_hash"], name="apitoken_org_key_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "user"], name="apitoken_org_user_idx"),
            # Authentication looks the hash up before the organization is known.
            models.Index(fields=["key_hash"], name="apitoken_key_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# --- The portfolio -------------------------------------------------------------

DEFAULT_LAYERS = [
    "Business products",
    "Business services",
    "Experience",
    "IT portfolio",
    "Common services",
    "Platforms",
    "IT4IT and infrastructure",
]


class Layer(ModelEntity):
    """A row of the portfolio map, ordered top (business) to bottom (infrastructure)."""

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [org_unique("name", name="layer_org_name_uniq")]

    def __str__(self) -> str:
        return self.name


class Team(ModelEntity):
    slug = models.SlugField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name", "id"]
        constraints = [org_unique("slug", name="team_org_slug_uniq")]

    def __str__(self) -> str:
        return self.name


class ProductFamily(ModelEntity):
    slug = models.SlugField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "product families"
        constraints = [org_unique("slug", name="productfamily_org_slug_uniq")]

    def __str__(self) -> str:
        return self.name


class Product(ModelEntity):
    family = models.ForeignKey(ProductFamily, on_delete=models.PROTECT, related_name="products")
    slug = models.SlugField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=200)
    layer = models.ForeignKey(Layer, on_delete=models.PROTECT, related_name="products")

    class Meta:
        ordering = ["name", "id"]
        constraints = [org_unique("slug", name="product_org_slug_uniq")]
        indexes = [models.Index(fields=["organization", "family"], name="product_org_family_idx")]

    def __str__(self) -> str:
        return self.name


class ComponentKind(models.TextChoices):
    APP = "app", "App"
    SERVICE = "service", "Service"
    PLATFORM = "platform", "Platform"


class Component(ModelEntity):
    """An app, service or platform on a layer, owned by a team, optionally part of a product."""

    slug = models.SlugField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=ComponentKind.choices, default=ComponentKind.APP)
    layer = models.ForeignKey(Layer, on_delete=models.PROTECT, related_name="components")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="components")
    product = models.ForeignKey(
        Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="components"
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [org_unique("slug", name="component_org_slug_uniq")]
        indexes = [
            models.Index(fields=["organization", "layer"], name="component_org_layer_idx"),
            models.Index(fields=["organization", "team"], name="component_org_team_idx"),
        ]

    def __str__(self) -> str:
        return self.name


# --- OKRs ------------------------------------------------------------------------

quarter_validator = RegexValidator(r"^\d{4}-Q[1-4]$", "Use a quarter such as 2026-Q3.")


class Objective(ModelEntity):
    slug = models.SlugField(max_length=50, validators=[slug_validator])
    title = models.CharField(max_length=300)
    quarter = models.CharField(max_length=7, validators=[quarter_validator])
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    # A person, by email (see ValueStream.owner_email).
    owner_email = models.EmailField(blank=True)
    value_streams = models.ManyToManyField(
        "streams.ValueStream", through="ObjectiveValueStream", related_name="objectives"
    )
    journeys = models.ManyToManyField(
        "journeys.Journey", through="ObjectiveJourney", related_name="objectives"
    )

    class Meta:
        ordering = ["quarter", "title", "id"]
        constraints = [org_unique("slug", name="objective_org_slug_uniq")]
        indexes = [
            models.Index(fields=["organization", "quarter"], name="objective_org_quarter_idx")
        ]

    def __str__(self) -> str:
        return self.title


class ObjectiveValueStream(ModelEntity):
    objective = models.ForeignKey(Objective, on_delete=models.CASCADE)
    value_stream = models.ForeignKey("streams.ValueStream", on_delete=models.CASCADE)

    class Meta:
        constraints = [
            org_unique("objective", "value_stream", name="objectivevaluestream_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.objective_id} → value stream {self.value_stream_id}"


class ObjectiveJourney(ModelEntity):
    objective = models.ForeignKey(Objective, on_delete=models.CASCADE)
    journey = models.ForeignKey("journeys.Journey", on_delete=models.CASCADE)

    class Meta:
        constraints = [org_unique("objective", "journey", name="objectivejourney_uniq")]

    def __str__(self) -> str:
        return f"{self.objective_id} → journey {self.journey_id}"


class KeyResult(ModelEntity):
    """A key result: manual check-ins, or a linked metric of a value stream or journey."""

    objective = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="key_results")
    slug = models.SlugField(max_length=50, validators=[slug_validator])
    title = models.CharField(max_length=300)
    baseline = models.FloatField(validators=[validate_quantity])
    target = models.FloatField(validators=[validate_quantity])
    unit = models.CharField(max_length=30, blank=True)
    weight = models.FloatField(default=1.0, validators=[MinValueValidator(0.0), validate_quantity])
    metric_value_stream = models.ForeignKey(
        "streams.ValueStream", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    metric_journey = models.ForeignKey(
        "journeys.Journey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    metric_key = models.CharField(max_length=60, blank=True)
    # The value progress is measured from (portfolio.okrs): the latest manual
    # check-in's, or the linked metric's for the quarter to date as the workers
    # last measured it. Kept here so a board reads progress without the history.
    current_value = models.FloatField(null=True, blank=True, editable=False)
    current_as_of = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["objective", "id"]
        constraints = [
            org_unique("objective", "slug", name="keyresult_org_objective_slug_uniq"),
            models.CheckConstraint(
                condition=models.Q(metric_value_stream__isnull=True)
                | models.Q(metric_journey__isnull=True),
                name="keyresult_one_metric_subject",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class CheckInSource(models.TextChoices):
    MANUAL = "manual", "Check-in"
    METRIC = "metric", "Measured"


class CheckIn(OrgOwned):
    """One point of a key result's history: a person's check-in on a manual key
    result, or a worker's new reading of a linked key result's metric."""

    key_result = models.ForeignKey(KeyResult, on_delete=models.CASCADE, related_name="check_ins")
    at = models.DateTimeField(default=timezone.now)
    # Null only for a reading whose metric is undefined (an empty denominator).
    value = models.FloatField(null=True, blank=True, validators=[validate_quantity])
    # How sure the author is that the target will be met, 0 (not at all) to 10.
    confidence = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(10)]
    )
    note = models.TextField(blank=True, max_length=2000)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(
        max_length=10, choices=CheckInSource.choices, default=CheckInSource.MANUAL
    )

    class Meta:
        ordering = ["key_result", "at", "id"]
        indexes = [
            models.Index(fields=["organization", "key_result", "at"], name="checkin_org_kr_at_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(source="metric") | models.Q(value__isnull=False),
                name="checkin_manual_has_value",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key_result_id} = {self.value} at {self.at:%Y-%m-%d %H:%M}"


# --- The security audit log -------------------------------------------------------


class AuditAction(models.TextChoices):
    """The closed vocabulary of the audit log (portfolio.audit.audit_record refuses others)."""

    LOGIN = "login", "Signed in"
    LOGIN_FAILED = "login.failed", "Failed sign-in"
    MEMBER_ROLE_CHANGED = "member.role_changed", "Role changed"
    MEMBER_REMOVED = "member.removed", "Member removed"
    INVITATION_CREATED = "invitation.created", "Invitation created"
    INVITATION_REVOKED = "invitation.revoked", "Invitation revoked"
    INVITATION_ACCEPTED = "invitation.accepted", "Invitation accepted"
    TOKEN_CREATED = "token.created", "API token created"
    TOKEN_REVOKED = "token.revoked", "API token revoked"
    REPORT_EXPORT_STARTED = "report.export_started", "Report export started"
    REPORT_DOWNLOADED = "report.downloaded", "Report downloaded"
    MODEL_EXPORTED = "model.exported", "Model exported"
    ORG_EXPORTED = "org.exported", "Organization exported"
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated", "Webhook secret rotated"


class AuditEvent(OrgOwned):
    """One security-relevant event in an organization, written by portfolio.audit only.

    Append-only: the app role may insert and read these rows but neither update
    nor delete them (portfolio.rls revokes both for every ``APPEND_ONLY`` model).
    """

    APPEND_ONLY = True

    # Deleting an organization must still remove its log, but the app role may
    # not delete audit rows: the database cascades instead (its referential
    # actions run as the table's owner), so Django's collector never issues a
    # DELETE on this table.
    organization = models.ForeignKey(Organization, on_delete=models.DB_CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    # One of AuditAction, checked by audit_record. Not a field ``choices``: a
    # new action then needs no migration.
    action = models.CharField(max_length=40)
    # No database constraint and no action on delete: deleting a user must
    # neither rewrite (update) nor remove the events they caused. The email is
    # copied so the event still names them afterwards; pages show the copy.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_email = models.EmailField(blank=True)
    # What the action was about, for people: "viewer@example.com", "token ci (tl_ab12…)".
    target = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-at", "-id"], name="auditevent_org_at_idx"),
            models.Index(
                fields=["organization", "action", "-at"], name="auditevent_org_action_at_idx"
            ),
            models.Index(
                fields=["organization", "actor_email", "-at"], name="auditevent_org_actor_at_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_email or 'system'} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def action_label(self) -> str:
        try:
            return AuditAction(self.action).label
        except ValueError:
            return self.action
