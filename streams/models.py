"""Value streams: ordered stages touching components, cascading from business to team level."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from portfolio.models import Component, ModelEntity, org_unique, slug_validator


class StreamKind(models.TextChoices):
    BUSINESS = "business", "Business"
    TEAM = "team", "Team"


class StateCategory(models.TextChoices):
    """The Flow Framework's state categories (DOMAIN.md, Flow Framework)."""

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
