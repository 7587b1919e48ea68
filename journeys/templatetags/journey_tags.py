"""Template filters for the journey pages."""

from __future__ import annotations

from django import template

from journeys import selectors
from journeys.models import Touchpoint
from portfolio.models import Team

register = template.Library()


@register.filter
def emotion_label(value: int | None) -> str:
    """very negative .. very positive, or "not scored" (-2 .. +2,
    docs/metrics.md#customer-journeys)."""
    return selectors.emotion_label(value)


@register.filter
def emotion_score(value: int | None) -> str:
    """The score with its sign, as the curve writes it (+1, 0, minus 2); empty if not scored."""
    return selectors.emotion_score(value)


@register.filter
def teams_of(touchpoint: Touchpoint) -> list[Team]:
    """The teams owning the touchpoint's components, each once, by name.

    Reads the prefetched components (journeys.selectors.touchpoints_for_map):
    no query per touchpoint.
    """
    teams = {c.team_id: c.team for c in touchpoint.components.all()}
    return sorted(teams.values(), key=lambda team: (team.name, team.pk))
