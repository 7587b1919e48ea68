"""A journey's KPIs per stage and per touchpoint, for the journey-to-delivery view.

The journey side of that view, in the style of ``metrics.journey_kpis``: set-based
queries over ``journeys_journeyevent`` that filter every table by
``organization_id`` (row-level security is the second wall), all stages and
touchpoints of the named journeys at once, exact values, and ``None`` for an
empty denominator. P is ``engine.Period``'s half-open ``[start, end)``.

Per touchpoint, for P:
- ``responses``: survey events at the touchpoint with ``at`` in P;
- ``nps``: 100 * (#value >= 9 - #value <= 6) / responses (DOMAIN.md "Journey KPIs").

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
from typing import Any

from metrics.engine import Period, Value, _ratio, _rows
from portfolio.models import Organization

TOUCHPOINT_KEYS = ("nps", "responses")
STAGE_KEYS = ("nps", "responses", "stage_conversion", "time_in_stage_median_days")


def _params(organization: Organization, journey_ids: list[int], period: Period) -> dict[str, Any]:
    return {
        "org": organization.pk,
        "journeys": journey_ids,
        "start": period.start,
        "end": period.end,
    }


# Every touchpoint and every stage of the journeys, each with its survey counts in
# P (zero when it has none): one pass over the surveys, then one row per subject.
_SURVEYS_SQL = """
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
       count(*) FILTER (WHERE s.value >= 9) AS promoters,
       count(*) FILTER (WHERE s.value <= 6) AS detractors
FROM journeys_touchpoint tp
LEFT JOIN surveys s ON s.touchpoint_id = tp.id
WHERE tp.organization_id = %(org)s AND tp.journey_id = ANY(%(journeys)s)
GROUP BY tp.id
UNION ALL
SELECT 'stage', st.id,
       count(s.value),
       count(*) FILTER (WHERE s.value >= 9),
       count(*) FILTER (WHERE s.value <= 6)
FROM journeys_journeystage st
LEFT JOIN surveys s ON s.stage_id = st.id
WHERE st.organization_id = %(org)s AND st.journey_id = ANY(%(journeys)s)
GROUP BY st.id
"""

# Per instance and stage, from the stage_entered events before P.end (an event
# from P.end on cannot decide anything about P): its first entry in the stage,
# and the first event in a later stage at or after it (when it moved on). The
# last stage of a journey has no later stage: has_later says so.
_STAGES_SQL = """
WITH stages AS (
    SELECT s.id, s.journey_id,
           row_number() OVER (PARTITION BY s.journey_id ORDER BY s.position, s.id) AS ord,
           count(*) OVER (PARTITION BY s.journey_id) AS n
    FROM journeys_journeystage s
    WHERE s.organization_id = %(org)s AND s.journey_id = ANY(%(journeys)s)
),
entries AS (
    SELECT e.journey_id, COALESCE(NULLIF(e.ref, ''), e.customer) AS instance,
           s.id AS stage_id, s.ord, e.at
    FROM journeys_journeyevent e
    JOIN stages s ON s.id = e.stage_id
    WHERE e.organization_id = %(org)s AND e.journey_id = ANY(%(journeys)s)
      AND e.type = 'stage_entered' AND e.at < %(end)s
),
firsts AS (
    SELECT journey_id, instance, stage_id, ord, min(at) AS entered_at
    FROM entries
    GROUP BY journey_id, instance, stage_id, ord
),
moves AS (
    SELECT f.stage_id, f.entered_at, min(x.at) AS left_at
    FROM firsts f
    LEFT JOIN entries x
        ON x.journey_id = f.journey_id AND x.instance = f.instance
       AND x.ord > f.ord AND x.at >= f.entered_at
    GROUP BY f.journey_id, f.instance, f.stage_id, f.entered_at
)
SELECT s.id AS stage_id, s.ord < s.n AS has_later,
       count(m.entered_at) FILTER (WHERE m.entered_at >= %(start)s) AS cohort,
       count(m.left_at) FILTER (WHERE m.entered_at >= %(start)s) AS moved_on,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY date_part('epoch', m.left_at - m.entered_at))
           FILTER (WHERE m.left_at >= %(start)s) AS stay_seconds
FROM stages s
LEFT JOIN moves m ON m.stage_id = s.id
GROUP BY s.id, s.ord, s.n
"""


def _nps(row: dict[str, Any]) -> Value:
    return _ratio(row["promoters"] - row["detractors"], row["responses"], 100)


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
    params = _params(organization, list(journey_ids), period)
    stages: dict[int, dict[str, Value]] = {}
    touchpoints: dict[int, dict[str, Value]] = {}
    for row in _rows(_SURVEYS_SQL, params):
        values = {"nps": _nps(row), "responses": row["responses"]}
        if row["level"] == "touchpoint":
            touchpoints[row["id"]] = values
        else:
            stages[row["id"]] = values
    for row in _rows(_STAGES_SQL, params):
        stages[row["stage_id"]] |= {
            "stage_conversion": _ratio(row["moved_on"], row["cohort"], 100)
            if row["has_later"]
            else None,
            "time_in_stage_median_days": _ratio(row["stay_seconds"], 86400),
        }
    return StageTouchpointMetrics(stages=stages, touchpoints=touchpoints)
