"""A journey's dashboard series: the conversion funnel and the time spent in each
stage, weekly NPS and NPS per touchpoint.

The journey side of ``metrics.series``, in the same style: each function is one
set-based query over one journey's events that filters every table by
``organization_id`` (row-level security is the second wall), and returns plain
lists and dataclasses that the dashboard shows and ``metrics.charts`` draws.
Instances follow docs/metrics.md#journey-events as ``metrics.journey_kpis`` does: the
``ref`` of a ``stage_entered`` event where given, else its ``customer``. Weeks are
Monday weeks in the period's (the organization's) time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from metrics.engine import Period, _ratio, _rows
from metrics.journey_kpis import INSTANCE, journey_params, nps, nps_counts
from metrics.series import _weeks_of
from portfolio.models import Organization


def _params(organization: Organization, journey_id: int, period: Period) -> dict[str, Any]:
    return {**journey_params(organization, [journey_id], period), "journey": journey_id}


# The journey's stages in order, and each instance's stage_entered events before
# P.end (an event from P.end on decides nothing about P). Stages are ordered by
# (position, id), so two stages that share a position still have a fixed order.
_ENTERED = f"""
WITH stages AS (
    SELECT s.id, s.name, s.position, s.is_entry, s.is_work_start, s.is_conversion
    FROM journeys_journeystage s
    WHERE s.organization_id = %(org)s AND s.journey_id = %(journey)s
),
entered AS (
    SELECT {INSTANCE} AS instance, e.stage_id, e.at,
           s.position
    FROM journeys_journeyevent e
    JOIN stages s ON s.id = e.stage_id
    WHERE e.organization_id = %(org)s AND e.journey_id = %(journey)s
      AND e.type = 'stage_entered' AND e.at < %(end)s
)"""  # noqa: S608 - only this module's SQL constants are interpolated


def _with_entered(sql: str) -> str:
    """``sql`` preceded by the ``stages`` and ``entered`` CTEs; it adds its own after a comma."""
    return _ENTERED + sql


# The funnel of P: the cohort is the instances whose first entry-stage event is in
# P (as the conversion rate's); an instance reached a stage when it has an event in
# that stage at or after that first entry (and before P.end). The conversion
# stage's count is therefore exactly the conversion rate's numerator.
_FUNNEL_SQL = _with_entered(
    """,
cohort AS (
    SELECT en.instance, min(en.at) AS first_entry
    FROM entered en
    JOIN stages s ON s.id = en.stage_id AND s.is_entry
    GROUP BY en.instance
    HAVING min(en.at) >= %(start)s
),
reached AS (
    SELECT en.stage_id, count(DISTINCT en.instance) AS instances
    FROM cohort c
    JOIN entered en ON en.instance = c.instance AND en.at >= c.first_entry
    GROUP BY en.stage_id
)
SELECT s.id AS stage_id, s.name, s.is_entry, s.is_work_start, s.is_conversion,
       COALESCE(r.instances, 0) AS reached,
       (SELECT count(*) FROM cohort) AS cohort
FROM stages s
LEFT JOIN reached r ON r.stage_id = s.id
ORDER BY s.position, s.id
"""
)

# Time in a stage, and moving on from it, for every stage of the journeys: per
# instance and stage, from the stage_entered events before P.end (an event from
# P.end on decides nothing about P), its first entry into the stage, and its first
# event in a later stage (by position, then id) at or after that entry: when it
# left. Measured from the entry at or before the exit, as lead time is from the
# entry at or before the conversion, so an instance that skipped ahead and came
# back has not left a stage before it entered it. The last stage has no later one.
_STAGE_MOVES_SQL = f"""
WITH stages AS (
    SELECT s.id, s.journey_id,
           row_number() OVER (PARTITION BY s.journey_id ORDER BY s.position, s.id) AS ord,
           count(*) OVER (PARTITION BY s.journey_id) AS n
    FROM journeys_journeystage s
    WHERE s.organization_id = %(org)s AND s.journey_id = ANY(%(journeys)s)
),
entries AS (
    SELECT e.journey_id, {INSTANCE} AS instance, s.id AS stage_id, s.ord, e.at
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
       count(m.entered_at) FILTER (WHERE m.entered_at >= %(start)s) AS entered,
       count(m.left_at) FILTER (WHERE m.entered_at >= %(start)s) AS moved_on,
       count(m.left_at) FILTER (WHERE m.left_at >= %(start)s) AS exits,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY date_part('epoch', m.left_at - m.entered_at))
           FILTER (WHERE m.left_at >= %(start)s) AS stay_seconds
FROM stages s
LEFT JOIN moves m ON m.stage_id = s.id
GROUP BY s.id, s.ord, s.n
"""  # noqa: S608 - only this module's SQL constants are interpolated


@dataclass(frozen=True)
class StageMoves:
    has_later: bool  # the last stage of its journey has no later stage to move on to
    entered: int  # instances whose first entry into the stage is in P
    moved_on: int  # of those, the ones that entered a later stage before P.end
    exits: int  # instances whose exit from the stage is in P
    median_days: float | None  # their median time in the stage; None without exits


def stage_moves(
    *, organization: Organization, journey_ids: list[int], period: Period
) -> dict[int, StageMoves]:
    """Every stage of the journeys, by id: who entered it in P and moved on, and the
    median time in it of those who left it in P. One query for all the journeys."""
    rows = _rows(_STAGE_MOVES_SQL, journey_params(organization, journey_ids, period))
    return {
        r["stage_id"]: StageMoves(
            has_later=r["has_later"],
            entered=r["entered"],
            moved_on=r["moved_on"],
            exits=r["exits"],
            median_days=_ratio(r["stay_seconds"], 86400),
        )
        for r in rows
    }


@dataclass(frozen=True)
class FunnelStage:
    stage_id: int
    name: str
    is_entry: bool
    is_work_start: bool
    is_conversion: bool
    reached: int  # instances of the cohort that reached the stage
    percent: float | None  # of the cohort; None for an empty cohort


@dataclass(frozen=True)
class Funnel:
    cohort: int  # instances whose first entry-stage event is in P
    stages: list[FunnelStage]  # in stage order


def journey_funnel(*, organization: Organization, journey_id: int, period: Period) -> Funnel:
    """How many of P's cohort reached each stage, in stage order, with % of the cohort."""
    rows = _rows(_FUNNEL_SQL, _params(organization, journey_id, period))
    cohort = rows[0]["cohort"] if rows else 0
    stages = [
        FunnelStage(
            stage_id=r["stage_id"],
            name=r["name"],
            is_entry=r["is_entry"],
            is_work_start=r["is_work_start"],
            is_conversion=r["is_conversion"],
            reached=r["reached"],
            percent=_ratio(r["reached"], cohort, 100),
        )
        for r in rows
    ]
    return Funnel(cohort, stages)


@dataclass(frozen=True)
class StageTime:
    exits: int  # instances whose exit from the stage is in P
    median_days: float | None


def journey_stage_times(
    *, organization: Organization, journey_id: int, period: Period
) -> dict[int, StageTime]:
    """The median time in each stage (days) over the instances that left it in P, by
    stage id; a stage nobody left in P is absent."""
    moves = stage_moves(organization=organization, journey_ids=[journey_id], period=period)
    return {stage_id: StageTime(m.exits, m.median_days) for stage_id, m in moves.items() if m.exits}


# Survey responses in P by the local Monday of their week.
_WEEKLY_NPS_SQL = f"""
SELECT date_trunc('week', e.at AT TIME ZONE %(tz)s)::date AS week,
       count(*) AS responses,
       {nps_counts("e.value")}
FROM journeys_journeyevent e
WHERE e.organization_id = %(org)s AND e.journey_id = %(journey)s
  AND e.type = 'survey' AND e.at >= %(start)s AND e.at < %(end)s
GROUP BY week
"""  # noqa: S608 - only this module's SQL constants are interpolated


@dataclass(frozen=True)
class WeeklyNps:
    weeks: list[dt.date]  # each week's Monday (the first and last may be cut by P)
    nps: list[float | None]  # None for a week without responses: a gap, not a zero
    responses: list[int]


def weekly_nps(*, organization: Organization, journey_id: int, period: Period) -> WeeklyNps:
    """NPS of each week of P, over the responses of that week within P."""
    weeks = _weeks_of(period)
    index = {w: n for n, w in enumerate(weeks)}
    scores: list[float | None] = [None] * len(weeks)
    responses = [0] * len(weeks)
    for row in _rows(_WEEKLY_NPS_SQL, _params(organization, journey_id, period)):
        n = index[row["week"]]
        scores[n] = nps(row["promoters"], row["detractors"], row["responses"])
        responses[n] = row["responses"]
    return WeeklyNps(weeks, scores, responses)


# Every touchpoint of the journey with its responses in P, and one row (touchpoint
# NULL) for the responses that name no touchpoint, or one since deleted.
_TOUCHPOINT_NPS_SQL = f"""
WITH answers AS (
    SELECT e.touchpoint_id,
           count(*) AS responses,
           {nps_counts("e.value")}
    FROM journeys_journeyevent e
    WHERE e.organization_id = %(org)s AND e.journey_id = %(journey)s
      AND e.type = 'survey' AND e.at >= %(start)s AND e.at < %(end)s
    GROUP BY e.touchpoint_id
)
SELECT t.id AS touchpoint_id, t.name, t.channel, s.name AS stage_name,
       COALESCE(a.responses, 0) AS responses, COALESCE(a.promoters, 0) AS promoters,
       COALESCE(a.detractors, 0) AS detractors
FROM journeys_touchpoint t
JOIN journeys_journeystage s ON s.organization_id = %(org)s AND s.id = t.stage_id
LEFT JOIN answers a ON a.touchpoint_id = t.id
WHERE t.organization_id = %(org)s AND t.journey_id = %(journey)s
UNION ALL
SELECT NULL, NULL, NULL, NULL, a.responses, a.promoters, a.detractors
FROM answers a
WHERE a.touchpoint_id IS NULL
"""  # noqa: S608 - only this module's SQL constants are interpolated


@dataclass(frozen=True)
class TouchpointNps:
    touchpoint_id: int | None  # None: responses that name no touchpoint
    name: str
    channel: str
    stage_name: str
    responses: int
    promoters: int
    detractors: int
    nps: float | None


def nps_by_touchpoint(
    *, organization: Organization, journey_id: int, period: Period
) -> list[TouchpointNps]:
    """NPS of each touchpoint over its responses in P, worst first; touchpoints without
    a response come last (there is nothing to rank them by)."""
    rows = [
        TouchpointNps(
            touchpoint_id=r["touchpoint_id"],
            name=r["name"] or "",
            channel=r["channel"] or "",
            stage_name=r["stage_name"] or "",
            responses=r["responses"],
            promoters=r["promoters"],
            detractors=r["detractors"],
            nps=nps(r["promoters"], r["detractors"], r["responses"]),
        )
        for r in _rows(_TOUCHPOINT_NPS_SQL, _params(organization, journey_id, period))
    ]
    # Worst first; among equals the one heard from most, then by name for a stable order.
    return sorted(
        rows,
        key=lambda r: (r.nps is None, r.nps or 0, -r.responses, r.touchpoint_id is None, r.name),
    )
