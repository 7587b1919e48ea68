"""A journey to import events into, for the journey tests."""

from __future__ import annotations

from journeys.models import Journey, JourneyStage, Touchpoint
from journeys.services import journey_save, journey_stage_save, touchpoint_save
from portfolio.tenancy import organization_context


def build_journey(org, slug: str = "claim") -> Journey:
    """A claim journey: submit (entry) -> assess (work start) -> paid (conversion),
    with the touchpoint 'form' in submit and 'call' in assess."""
    with organization_context(org.pk):
        journey = journey_save(organization=org, journey=Journey(slug=slug, name=slug.title()))
        stages = {}
        for name in ("submit", "assess", "paid"):
            stages[name] = journey_stage_save(
                organization=org, stage=JourneyStage(journey=journey, slug=name, name=name)
            )
        for slug_, stage in (("form", "submit"), ("call", "assess")):
            touchpoint_save(
                organization=org,
                touchpoint=Touchpoint(journey=journey, stage=stages[stage], slug=slug_, name=slug_),
            )
        return journey
