"""A journey's KPIs per stage and per touchpoint, for the journey-to-delivery view.

The journey side of that view, in the style of ``metrics.journey_kpis``: set-based
queries over ``journeys_journeyevent`` that filter every table by
``organization_id`` (row-level security is the second wall), all stages and
touchpoints of the named journeys at once, exact values, and ``None`` for an
empty denominator. P is ``engine.Period``'s half-open ``[start, end)``.

Per touchpoint, for P:
- ``responses``: survey events at the touchpoint with ``at`` in P;
- ``nps``: 100 * (#value >= 9 - #value <= 6) / responses (docs/metrics.md#nps).

Per stage, for P:
- ``responses`` and ``nps``: the same over the surveys in the stage: those that
  name the stage, or name no stage but a touchpoint of it;
- ``stage_conversion``: cohort = instances whose first ``stage_entered`` event in
  the stage is in P (repeat entries do not count, as for the journey's
  conversion rate); 100 * (those with a ``stage_entered`` event in a later stage,
  at or after that first entry and before P.end) / cohort. ``None`` for the last
  stage, which has no later stage to move on to;
- ``time_in_stage_median_days``: over the instances that moved on in P (their
  first later-stage event at or after their first entry in the stage is in P):
  the median of (that event - their first entry in the stage).

"Later" is by the stages' order in the journey (position, then id). Instances
are the ``ref`` of ``stage_entered`` events where given, else the ``customer``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from metrics.engine import Period, Value, _ratio, _rows
from metrics.journey_kpis import journey_params, nps, nps_counts
from metrics.journey_series import stage_moves
from portfolio.models import Organization

TOUCHPOINT_KEYS = ("nps", "responses")
STAGE_KEYS = ("nps", "responses", "stage_conversion", "time_in_stage_median_days")


# Every touchpoint and every stage of the journeys, each with its survey counts in
# P (zero when it has none): one pass over the surveys, then one row per subject.
_SURVEYS_SQL = f"""
WITH surveys AS (
    SELECT e.touchpoint_id, COALESCE(e.stage_id, tp.stage_id) AS stage_id, e.value
    FROM journeys_journeyevent e
    LEFT JOIN journeys_touchpoint tp
        ON tp.organization_id = %(org)s AND tp.id = e.touchpoint_id
    WHERE e.organization_id = %(org)s AND e.journey_id = ANY(%(journeys)s)
      AND e.type = 'survey' AND e.at >= %(start)s AND e.at < %(end)s
)
SELECT 'touchpoint' AS level, tp.id,
       count(s.value) AS responses,
       {nps_counts("s.value")}
FROM journeys_touchpoint tp
LEFT JOIN surveys s ON s.touchpoint_id = tp.id
WHERE tp.organization_id = %(org)s AND tp.journey_id = ANY(%(journeys)s)
GROUP BY tp.id
UNION ALL
SELECT 'stage', st.id,
       count(s.value),
       {nps_counts("s.value")}
FROM journeys_journeystage st
LEFT JOIN surveys s ON s.stage_id = st.id
WHERE st.organization_id = %(org)s AND st.journey_id = ANY(%(journeys)s)
GROUP BY st.id
"""  # noqa: S608 - only this module's SQL constants are interpolated


@dataclass(frozen=True)
class StageTouchpointMetrics:
    """Exact values by stage id and by touchpoint id: every stage and touchpoint of
    the journeys is present, with every key of STAGE_KEYS or TOUCHPOINT_KEYS."""

    stages: dict[int, dict[str, Value]]
    touchpoints: dict[int, dict[str, Value]]


def stage_touchpoint_metrics(
    *, organization: Organization, journey_ids: Iterable[int], period: Period
) -> StageTouchpointMetrics:
    """The journeys' KPIs per stage and per touchpoint for P (module docstring), in
    two queries however many stages, touchpoints and events there are."""
    ids = list(journey_ids)
    stages: dict[int, dict[str, Value]] = {}
    touchpoints: dict[int, dict[str, Value]] = {}
    for row in _rows(_SURVEYS_SQL, journey_params(organization, ids, period)):
        values = {
            "nps": nps(row["promoters"], row["detractors"], row["responses"]),
            "responses": row["responses"],
        }
        if row["level"] == "touchpoint":
            touchpoints[row["id"]] = values
        else:
            stages[row["id"]] = values
    for stage_id, moves in stage_moves(
        organization=organization, journey_ids=ids, period=period
    ).items():
        stages[stage_id] |= {
            "stage_conversion": _ratio(moves.moved_on, moves.entered, 100)
            if moves.has_later
            else None,
            "time_in_stage_median_days": moves.median_days,
        }
    return StageTouchpointMetrics(stages=stages, touchpoints=touchpoints)
