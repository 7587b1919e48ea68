"""Customer journeys: ordered stages with touchpoints, emotions, pain points and opportunities."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from portfolio.models import (
    Component,
    ModelEntity,
    OrgOwned,
    Product,
    event_organization,
    org_unique,
    slug_validator,
)

EMOTION_VALIDATORS = [MinValueValidator(-2), MaxValueValidator(2)]


class Channel(models.TextChoices):
    WEB = "web", "Web"
    APP = "app", "App"
    PHONE = "phone", "Phone"
    BRANCH = "branch", "Branch"
    EMAIL = "email", "Email"
    LETTER = "letter", "Letter"
    AGENT = "agent", "Agent"
    CHAT = "chat", "Chat"
    OTHER = "other", "Other"


class Journey(ModelEntity):
    slug = models.SlugField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=200)
    persona = models.CharField(max_length=200, blank=True)
    product = models.ForeignKey(
        Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="journeys"
    )
    # The stage flags someone set on purpose (is_entry, is_work_start,
    # is_conversion); the others follow the defaults (docs/metrics.md#customer-journeys)
    # as stages change.
    explicit_flags = ArrayField(models.CharField(max_length=20), default=list, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [org_unique("slug", name="journey_org_slug_uniq")]

    def __str__(self) -> str:
        return self.name


class JourneyStage(ModelEntity):
    """A stage of a journey. Exactly one stage each is the entry, work-start and
    conversion stage (docs/metrics.md#customer-journeys: by default the first,
    second and last)."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="stages")
    slug = models.SlugField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)
    emotion = models.SmallIntegerField(null=True, blank=True, validators=EMOTION_VALIDATORS)
    pain_points = ArrayField(models.TextField(), default=list, blank=True)
    opportunities = ArrayField(models.TextField(), default=list, blank=True)
    is_entry = models.BooleanField(default=False)
    is_work_start = models.BooleanField(default=False)
    is_conversion = models.BooleanField(default=False)

    class Meta:
        ordering = ["journey", "position", "id"]
        constraints = [
            org_unique("journey", "slug", name="journeystage_org_journey_slug_uniq"),
            # At most one of each flag per journey; the services make it exactly one.
            models.UniqueConstraint(
                fields=["organization", "journey"],
                condition=models.Q(is_entry=True),
                name="journeystage_one_entry",
            ),
            models.UniqueConstraint(
                fields=["organization", "journey"],
                condition=models.Q(is_work_start=True),
                name="journeystage_one_work_start",
            ),
            models.UniqueConstraint(
                fields=["organization", "journey"],
                condition=models.Q(is_conversion=True),
                name="journeystage_one_conversion",
            ),
            models.CheckConstraint(
                condition=models.Q(emotion__gte=-2, emotion__lte=2) | models.Q(emotion=None),
                name="journeystage_emotion_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Touchpoint(ModelEntity):
    """Where the customer meets the organization in a stage; served by components
    and by a stage of a value stream."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="touchpoints")
    stage = models.ForeignKey(JourneyStage, on_delete=models.CASCADE, related_name="touchpoints")
    slug = models.SlugField(max_length=50, validators=[slug_validator])
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    emotion = models.SmallIntegerField(null=True, blank=True, validators=EMOTION_VALIDATORS)
    position = models.PositiveIntegerField(default=0)
    value_stream_stage = models.ForeignKey(
        "streams.Stage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="touchpoints",
    )
    components = models.ManyToManyField(
        Component, through="TouchpointComponent", related_name="touchpoints"
    )

    class Meta:
        ordering = ["stage__position", "position", "id"]
        constraints = [
            org_unique("journey", "slug", name="touchpoint_org_journey_slug_uniq"),
            models.CheckConstraint(
                condition=models.Q(emotion__gte=-2, emotion__lte=2) | models.Q(emotion=None),
                name="touchpoint_emotion_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TouchpointComponent(ModelEntity):
    touchpoint = models.ForeignKey(Touchpoint, on_delete=models.CASCADE)
    component = models.ForeignKey(Component, on_delete=models.CASCADE)

    class Meta:
        constraints = [org_unique("touchpoint", "component", name="touchpointcomponent_uniq")]

    def __str__(self) -> str:
        return f"touchpoint {self.touchpoint_id} → component {self.component_id}"


# --- Journey events (ingested; not part of the model's history) ---------------------


class JourneyEventType(models.TextChoices):
    """The events journey KPIs are computed from (docs/metrics.md#journey-events)."""

    SURVEY = "survey", "Survey response"  # value: 0..10
    STAGE_ENTERED = "stage_entered", "Stage entered"  # stage; instance = ref, else customer
    CASE_RESOLVED = "case_resolved", "Case resolved"  # value: contacts it took
    RENEWAL_DUE = "renewal_due", "Renewal due"  # ref: the contract
    RENEWED = "renewed", "Renewed"  # ref: the contract
    ACQUIRED = "acquired", "Customer acquired"  # customer
    CHURNED = "churned", "Customer churned"  # customer
    ACQUISITION_COST = "acquisition_cost", "Acquisition cost"  # value: amount
    CLAIM_PAID = "claim_paid", "Claim paid"  # value: amount


class JourneyEvent(OrgOwned):
    """One event of a customer on a journey, as imported (docs/formats.md#journey_events)."""

    organization = event_organization()
    key = models.CharField(max_length=200)
    journey = models.ForeignKey(
        Journey,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    type = models.CharField(max_length=20, choices=JourneyEventType.choices)
    at = models.DateTimeField()
    customer = models.CharField(max_length=200, blank=True)
    ref = models.CharField(max_length=200, blank=True)
    value = models.DecimalField(max_digits=18, decimal_places=4, null=True)
    # A stage or touchpoint removed from the journey keeps its events (the
    # journey's NPS, costs and renewals still count them).
    stage = models.ForeignKey(
        JourneyStage,
        on_delete=models.SET_NULL,
        null=True,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    touchpoint = models.ForeignKey(
        Touchpoint,
        on_delete=models.SET_NULL,
        null=True,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "key"], name="journeyevent_org_key_uniq"
            )
        ]
        indexes = [
            # Every journey KPI reads one journey's events of one type in a period.
            models.Index(
                fields=["organization", "journey", "type", "at"], name="journeyevent_type_at_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.key}"
