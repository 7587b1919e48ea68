"""Time series of a value stream for charts: the dashboard's and the quarterly report's.

Each function is one set-based query over the stream and its descendants
(docs/metrics.md#roll-up), filtered by ``organization_id``, and returns plain lists
and dicts that ``metrics.charts`` draws. Weeks are Monday weeks and days are
calendar days in the period's (the organization's) time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from metrics.definitions import FLOW_TYPES
from metrics.engine import Period, _params, _rows, _with_tree
from portfolio.models import Organization

# The categories a cumulative flow diagram stacks, bottom to top. Canceled work
# is neither in progress nor delivered (docs/metrics.md#flow-items-and-transitions),
# so it is left out.
CFD_STATES = ("done", "waiting", "active", "new")


@dataclass(frozen=True)
class WeeklySeries:
    weeks: list[dt.date]  # each week's Monday
    velocity: dict[str, list[int]]  # flow type -> items done that week
    median_days: list[float | None]
    p85_days: list[float | None]


@dataclass(frozen=True)
class DailySeries:
    days: list[dt.date]
    states: dict[str, list[int]]  # CFD_STATES -> items in that state at the end of the day

    @property
    def wip(self) -> list[int]:
        """Flow load at the end of each day: active + waiting, as the engine's flow_load."""
        return [a + w for a, w in zip(self.states["active"], self.states["waiting"], strict=True)]


def _weeks_of(period: Period) -> list[dt.date]:
    monday = period.date_from - dt.timedelta(days=period.date_from.weekday())
    weeks = []
    while monday <= period.date_to:
        weeks.append(monday)
        monday += dt.timedelta(days=7)
    return weeks


# Items done in P by the local Monday of their done_at's week, per type, with the
# week's flow time percentiles (percentile_cont, as the engine).
_WEEKLY_SQL = _with_tree(
    """,
done AS (
    SELECT date_trunc('week', i.done_at AT TIME ZONE %(tz)s)::date AS week, i.type,
           EXTRACT(EPOCH FROM i.done_at - COALESCE(i.started_at, i.done_at))::float8 AS secs
    FROM tree t
    JOIN streams_flowitem i ON i.organization_id = %(org)s AND i.value_stream_id = t.vs_id
    WHERE i.done_at >= %(start)s AND i.done_at < %(end)s
)
SELECT week, type, count(*) AS items, NULL::float8 AS median, NULL::float8 AS p85
FROM done GROUP BY week, type
UNION ALL
SELECT week, NULL, count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY secs),
       percentile_cont(0.85) WITHIN GROUP (ORDER BY secs)
FROM done GROUP BY week
"""
)


def weekly_series(
    *, organization: Organization, value_stream_id: int, period: Period
) -> WeeklySeries:
    """Weekly flow velocity by type and weekly flow time (median, p85) over P."""
    params = _params(organization, [value_stream_id], period, merge=True)
    weeks = _weeks_of(period)
    index = {w: n for n, w in enumerate(weeks)}
    velocity = {t: [0] * len(weeks) for t in FLOW_TYPES}
    median: list[float | None] = [None] * len(weeks)
    p85: list[float | None] = [None] * len(weeks)
    for row in _rows(_WEEKLY_SQL, params):
        n = index[row["week"]]
        if row["type"] is None:
            median[n] = row["median"] / 86400
            p85[n] = row["p85"] / 86400
        else:
            velocity[row["type"]][n] = row["items"]
    return WeeklySeries(weeks, velocity, median, p85)


# The state of each item at the end of each local day of P is the state of its last
# transition before that instant (docs/metrics.md#flow-items-and-transitions), "new"
# from created_at until the first one. Each transition is the span (at, next_at] of
# instants it decides, so one range join counts them per day. Done counts only work
# finished within P, so the chart shows P's delivery, not all history.
_DAILY_SQL = _with_tree(
    """,
day_ends AS (
    SELECT g.n, ((%(date_from)s::date + g.n + 1)::timestamp AT TIME ZONE %(tz)s) AS at
    FROM generate_series(0, %(days)s - 1) AS g(n)
),
items AS (
    SELECT i.id, i.created_at
    FROM tree t
    JOIN streams_flowitem i ON i.organization_id = %(org)s AND i.value_stream_id = t.vs_id
    -- An item done before P stays done (done_at is its last transition) and is
    -- not charted: leave its history unread.
    WHERE i.created_at < %(end)s AND (i.done_at IS NULL OR i.done_at >= %(start)s)
),
spans AS (
    SELECT tr.state, tr.at, lead(tr.at) OVER (PARTITION BY tr.item_id ORDER BY tr.at) AS next_at
    FROM items i
    JOIN streams_flowtransition tr ON tr.organization_id = %(org)s AND tr.item_id = i.id
    UNION ALL
    SELECT 'new', i.created_at,
           (SELECT min(tr.at) FROM streams_flowtransition tr
            WHERE tr.organization_id = %(org)s AND tr.item_id = i.id)
    FROM items i
)
SELECT d.n, s.state, count(*) AS items
FROM spans s
JOIN day_ends d ON s.at < d.at AND (s.next_at IS NULL OR s.next_at >= d.at)
WHERE s.state IN ('new', 'active', 'waiting')
   OR (s.state = 'done' AND s.at >= %(start)s)
GROUP BY d.n, s.state
"""
)


def daily_series(
    *, organization: Organization, value_stream_id: int, period: Period
) -> DailySeries:
    """Items per state category at the end of each day of P (the cumulative flow)."""
    params = _params(organization, [value_stream_id], period, merge=True)
    days = [period.date_from + dt.timedelta(days=n) for n in range(period.days)]
    states = {s: [0] * len(days) for s in CFD_STATES}
    for row in _rows(_DAILY_SQL, params):
        states[row["state"]][row["n"]] = row["items"]
    return DailySeries(days, states)


_COVERAGE_SQL = _with_tree(
    """
SELECT
    (SELECT count(*) FROM tree t JOIN streams_flowitem i
        ON i.organization_id = %(org)s AND i.value_stream_id = t.vs_id
     WHERE i.created_at < %(end)s) AS items,
    (SELECT count(*) FROM tree t JOIN streams_flowitem i
        ON i.organization_id = %(org)s AND i.value_stream_id = t.vs_id
     WHERE i.created_at < %(end)s AND EXISTS (
        SELECT 1 FROM streams_flowtransition tr
        WHERE tr.organization_id = %(org)s AND tr.item_id = i.id)) AS items_with_history,
    (SELECT count(*) FROM tree t JOIN streams_deployment d
        ON d.organization_id = %(org)s AND d.value_stream_id = t.vs_id
     WHERE d.environment = %(production)s
       AND d.deployed_at >= %(start)s AND d.deployed_at < %(end)s) AS deployments,
    (SELECT count(*) FROM tree t JOIN streams_deployment d
        ON d.organization_id = %(org)s AND d.value_stream_id = t.vs_id
     WHERE d.environment = %(production)s
       AND d.deployed_at >= %(start)s AND d.deployed_at < %(end)s
       AND EXISTS (SELECT 1 FROM streams_change c
                   WHERE c.organization_id = %(org)s AND c.deployment_id = d.id))
        AS deployments_with_changes,
    (SELECT count(*) FROM tree t JOIN streams_incident x
        ON x.organization_id = %(org)s AND x.value_stream_id = t.vs_id
     WHERE x.opened_at >= %(start)s AND x.opened_at < %(end)s) AS incidents,
    (SELECT count(*) FROM tree t JOIN streams_incident x
        ON x.organization_id = %(org)s AND x.value_stream_id = t.vs_id
     WHERE x.opened_at >= %(start)s AND x.opened_at < %(end)s
       AND x.resolved_at IS NOT NULL) AS incidents_resolved
"""
)


def data_coverage(
    *, organization: Organization, value_stream_id: int, period: Period
) -> dict[str, Any]:
    """How complete the stream's data is: items (created before P.end) with a transition
    history, production deployments in P that shipped a change, incidents opened in P
    that are resolved. Each share is a percent, or None when there is nothing to count.

    Every change names its deployment (the schema requires it), so the meaningful
    link share is the other way round: deployments that carry changes.
    """
    params = _params(organization, [value_stream_id], period, merge=True)
    row = _rows(_COVERAGE_SQL, params)[0]

    def share(part: str, whole: str) -> float | None:
        return 100 * row[part] / row[whole] if row[whole] else None

    return {
        **row,
        "items_with_history_pct": share("items_with_history", "items"),
        "deployments_with_changes_pct": share("deployments_with_changes", "deployments"),
        "incidents_resolved_pct": share("incidents_resolved", "incidents"),
    }


_TREE_IDS_SQL = _with_tree("SELECT vs_id FROM tree")


def stream_and_descendant_ids(*, organization: Organization, value_stream_id: int) -> list[int]:
    """The stream's id and all its descendants' (the records a metric of it covers)."""
    today = dt.date.today()
    params = _params(organization, [value_stream_id], Period(today, today), merge=True)
    return [r["vs_id"] for r in _rows(_TREE_IDS_SQL, params)]
