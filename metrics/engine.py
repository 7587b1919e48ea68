"""The metric engine: the flow and DORA definitions of docs/metrics.md, computed in
PostgreSQL.

One home for the computation of every value-stream metric key of
``metrics.definitions``. Each query is set-based (aggregates, ``percentile_cont``,
``generate_series``), parameterized, filters every table by ``organization_id``
and must run inside the organization's context (row-level security is the
second wall behind those filters).

A subject's records are its own plus those of all its descendant value streams
(docs/metrics.md#roll-up), found with one recursive CTE over ``parent_id``.
Values are exact inside the computation; only ``kpis_for_period`` rounds them
for display.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection, connections

from metrics.definitions import FLOW_KEYS, FLOW_TYPES
from portfolio.models import Organization

Value = int | float | None

ROUND_DIGITS = 4
# Only this environment counts (docs/metrics.md#deployments-changes-and-incidents).
PRODUCTION = "production"


@dataclass(frozen=True)
class Period:
    """docs/metrics.md#periods: the inclusive local dates ``from..to`` are the
    half-open instants [from 00:00, to+1 day 00:00) in the organization's time zone."""

    date_from: dt.date
    date_to: dt.date
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        if self.date_to < self.date_from:
            raise ValidationError(
                f"to: {self.date_to.isoformat()} is before from: {self.date_from.isoformat()}"
            )

    @classmethod
    def for_organization(
        cls, organization: Organization, date_from: dt.date, date_to: dt.date
    ) -> Period:
        return cls(date_from, date_to, organization.time_zone)

    def _midnight(self, day: dt.date) -> dt.datetime:
        local = dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(self.time_zone))
        return local.astimezone(dt.UTC)

    @property
    def start(self) -> dt.datetime:
        return self._midnight(self.date_from)

    @property
    def end(self) -> dt.datetime:
        return self._midnight(self.date_to + dt.timedelta(days=1))

    @property
    def days(self) -> int:
        """Calendar days in P (a 23- or 25-hour DST day is still one day)."""
        return (self.date_to - self.date_from).days + 1


DATE_RANGE_MIN, DATE_RANGE_MAX = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


def parse_date_range(date_from: str | None, date_to: str | None) -> tuple[dt.date, dt.date]:
    """Both dates of a ``from..to`` range as typed by a user; ValidationError names the bad one."""
    dates = []
    for name, raw in (("from", date_from), ("to", date_to)):
        if not raw:
            raise ValidationError(f"{name}: a date is required (YYYY-MM-DD)")
        try:
            # fromisoformat alone would also take "20260701"; docs/interfaces.md says YYYY-MM-DD.
            if len(raw) != 10:
                raise ValueError(raw)
            day = dt.date.fromisoformat(raw)
        except ValueError:
            raise ValidationError(f"{name}: '{raw}' is not a date; expected YYYY-MM-DD") from None
        # A period's instants must exist in every time zone (there is no year 0 or
        # 10000), and a range of millennia would be a day-by-day series of millions.
        if not DATE_RANGE_MIN <= day <= DATE_RANGE_MAX:
            raise ValidationError(
                f"{name}: {raw} is outside the years {DATE_RANGE_MIN.year} to {DATE_RANGE_MAX.year}"
            )
        dates.append(day)
    if dates[1] < dates[0]:
        raise ValidationError(f"to: {date_to} is before from: {date_from}")
    return dates[0], dates[1]


# --- Subjects: a value stream with its descendants (docs/metrics.md#roll-up) --------

# ``subject`` is the root's id, or 0 when the roots are merged into one subject.
# UNION (not UNION ALL) keeps each (subject, stream) pair once, which also stops
# the recursion should a parent cycle ever exist.
_TREE = """
tree(subject, vs_id) AS (
    SELECT CASE WHEN %(merge)s THEN 0 ELSE vs.id END, vs.id
    FROM streams_valuestream vs
    WHERE vs.organization_id = %(org)s AND vs.id = ANY(%(roots)s::bigint[])
    UNION
    SELECT t.subject, c.id
    FROM tree t
    JOIN streams_valuestream c ON c.organization_id = %(org)s AND c.parent_id = t.vs_id
)
"""


def _with_tree(sql: str) -> str:
    """``sql`` preceded by the subject tree: it reads ``tree``, and may add CTEs after a comma."""
    return "WITH RECURSIVE " + _TREE + sql


def _rows(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _params(
    organization: Organization, roots: Iterable[int], period: Period, *, merge: bool
) -> dict[str, Any]:
    return {
        "org": organization.pk,
        "roots": list(roots),
        "merge": merge,
        "start": period.start,
        "end": period.end,
        "date_from": period.date_from,
        "days": period.days,
        "tz": period.time_zone,
        "production": PRODUCTION,
    }


def _ratio(numerator: Any, denominator: Any, scale: int = 1) -> float | None:
    """numerator / denominator * scale, or None for an empty (zero) denominator."""
    if denominator is None or denominator == 0 or numerator is None:
        return None
    return float(Decimal(numerator) * scale / Decimal(denominator))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# --- Flow ---------------------------------------------------------------------------

# Items done in P, read from their derived facts: an index-only scan of
# flowitem_done_idx per subject, each a plain aggregate (no sort by subject).
# Flow time = done_at - start, in seconds as float8 (date_part), exact to the
# microsecond for any flow time.
_DONE_SQL = _with_tree(
    """,
subjects AS (SELECT subject, array_agg(vs_id) AS streams FROM tree GROUP BY subject)
SELECT s.subject, d.*
FROM subjects s
CROSS JOIN LATERAL (
    SELECT count(*) AS flow_velocity,
           count(*) FILTER (WHERE type = 'feature') AS flow_velocity_feature,
           count(*) FILTER (WHERE type = 'defect') AS flow_velocity_defect,
           count(*) FILTER (WHERE type = 'risk') AS flow_velocity_risk,
           count(*) FILTER (WHERE type = 'debt') AS flow_velocity_debt,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY flow_seconds) AS median_seconds,
           percentile_cont(0.85) WITHIN GROUP (ORDER BY flow_seconds) AS p85_seconds,
           avg(flow_seconds) AS mean_seconds,
           sum(active_seconds) AS active_seconds,
           sum(flow_seconds) AS flow_seconds
    FROM (
        SELECT i.type, i.active_seconds,
               date_part('epoch', i.done_at - COALESCE(i.started_at, i.done_at)) AS flow_seconds
        FROM streams_flowitem i
        WHERE i.organization_id = %(org)s AND i.value_stream_id = ANY(s.streams)
          AND i.done_at >= %(start)s AND i.done_at < %(end)s
    ) done
) d
"""
)

# Flow load (docs/metrics.md#flow_load): an item is WIP at instant t when the state of its last
# transition with at < t is active or waiting, that is when one of its WIP spans
# (streams.FlowWipSpan) has started_at < t <= ended_at. The day ends of P are
# E_n = local midnight of (from + n + 1), n = 0 .. days - 1; the last is P.end.
#
# From the 15-minute WIP changes (streams.FlowWipChange): when every E_n falls
# on a 15-minute step, WIP(E_n) = sum of the changes of the steps at < E_n, and
# a step at b counts for the day ends n >= date(b) - from (local dates), that is
# for days - max(date(b) - from, 0) of them. One pass over the subject's steps
# before P.end: a few rows per day of history, however many items there are.
_LOAD_STEPS_SQL = _with_tree(
    """
SELECT t.subject,
       sum(c.change) AS flow_load,
       sum(c.change * (
           %(days)s - greatest((c.at AT TIME ZONE %(tz)s)::date - %(date_from)s::date, 0)
       )) AS wip_day_sum
FROM tree t
JOIN streams_flowwipchange c ON c.organization_id = %(org)s AND c.value_stream_id = t.vs_id
WHERE c.at < %(end)s
GROUP BY t.subject
"""
)

# The same from the spans themselves, for a time zone whose midnights in P do not
# fall on 15-minute steps (local mean times before standard time): a span covers
# the day ends n = date(started_at) - from .. date(ended_at) - from - 1 (local
# dates; up to the last day while it is open).
_LOAD_SPANS_SQL = _with_tree(
    """,
spans AS (
    SELECT t.subject, w.started_at, w.ended_at,
           (w.started_at AT TIME ZONE %(tz)s)::date - %(date_from)s::date AS first_n,
           (w.ended_at AT TIME ZONE %(tz)s)::date - %(date_from)s::date - 1 AS last_n
    FROM tree t
    JOIN streams_flowwipspan w ON w.organization_id = %(org)s AND w.value_stream_id = t.vs_id
    WHERE w.started_at < %(end)s AND (w.ended_at IS NULL OR w.ended_at >= %(start)s)
)
SELECT subject,
       count(*) FILTER (WHERE ended_at IS NULL OR ended_at >= %(end)s) AS flow_load,
       sum(greatest(
           least(COALESCE(last_n, %(days)s - 1), %(days)s - 1) - greatest(first_n, 0) + 1, 0
       )) AS wip_day_sum
FROM spans
GROUP BY subject
"""
)


def _day_ends_on_steps(period: Period) -> bool:
    """Whether every day end of P falls on a 15-minute step of UTC (FlowWipChange)."""
    from streams.models import FlowWipChange

    step = FlowWipChange.STEP_SECONDS
    zone = ZoneInfo(period.time_zone)
    return all(
        int(
            dt.datetime.combine(
                period.date_from + dt.timedelta(days=n + 1), dt.time(0), zone
            ).timestamp()
        )
        % step
        == 0
        for n in range(period.days)
    )


def _flow(
    organization: Organization, roots: Sequence[int], period: Period, *, merge: bool
) -> dict[int, dict[str, Value]]:
    params = _params(organization, roots, period, merge=merge)
    done = {r["subject"]: r for r in _rows(_DONE_SQL, params)}
    load_sql = _LOAD_STEPS_SQL if _day_ends_on_steps(period) else _LOAD_SPANS_SQL
    load = {r["subject"]: r for r in _rows(load_sql, params)}
    result: dict[int, dict[str, Value]] = {}
    for subject in [0] if merge else roots:
        d = done.get(subject, {})
        w = load.get(subject, {})
        velocity = d.get("flow_velocity", 0)
        values: dict[str, Value] = {"flow_velocity": velocity}
        for t in FLOW_TYPES:
            values[f"flow_velocity_{t}"] = d.get(f"flow_velocity_{t}", 0)
        for t in FLOW_TYPES:
            values[f"flow_distribution_{t}"] = _ratio(values[f"flow_velocity_{t}"], velocity, 100)
        values["flow_time_median_days"] = _ratio(d.get("median_seconds"), 86400)
        values["flow_time_p85_days"] = _ratio(d.get("p85_seconds"), 86400)
        values["flow_time_mean_days"] = _ratio(d.get("mean_seconds"), 86400)
        values["flow_load"] = int(w.get("flow_load", 0))
        # Every day of P is in the denominator, also the days with no WIP at all.
        values["flow_load_avg"] = _ratio(w.get("wip_day_sum", 0), period.days)
        values["flow_efficiency"] = _ratio(d.get("active_seconds"), d.get("flow_seconds"), 100)
        result[subject] = {k: values[k] for k in FLOW_KEYS}
    return result


def flow_metrics(
    *, organization: Organization, value_stream_ids: Iterable[int], period: Period
) -> dict[str, Value]:
    """Every flow key of docs/metrics.md#flow-metrics for P, over the named value
    streams and all their descendants taken together (exact, unrounded)."""
    return _flow(organization, list(value_stream_ids), period, merge=True)[0]


# --- DORA ---------------------------------------------------------------------------

# Production deployments of the subject in P; a deployment is a failure for the
# change failure rate when it failed or any incident names it as its cause.
_DEPLOY_SQL = _with_tree(
    """
SELECT t.subject,
       count(*) FILTER (WHERE d.status = 'success') AS successes,
       count(*) AS deployments,
       count(*) FILTER (
           WHERE d.status = 'failure' OR EXISTS (
               SELECT 1 FROM streams_incident x
               WHERE x.organization_id = %(org)s AND x.deployment_id = d.id
           )
       ) AS failures
FROM tree t
JOIN streams_deployment d ON d.organization_id = %(org)s AND d.value_stream_id = t.vs_id
WHERE d.environment = %(production)s AND d.deployed_at >= %(start)s AND d.deployed_at < %(end)s
GROUP BY t.subject
"""
)

# A change is the subject's record by its own value stream; it counts when the
# deployment that shipped it is a successful production deployment in P.
_LEAD_SQL = _with_tree(
    """
SELECT t.subject,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY EXTRACT(EPOCH FROM d.deployed_at - c.committed_at)::float8
       ) AS median_seconds
FROM tree t
JOIN streams_change c ON c.organization_id = %(org)s AND c.value_stream_id = t.vs_id
JOIN streams_deployment d ON d.organization_id = %(org)s AND d.id = c.deployment_id
WHERE d.environment = %(production)s AND d.status = 'success'
  AND d.deployed_at >= %(start)s AND d.deployed_at < %(end)s
GROUP BY t.subject
"""
)

_RESTORE_SQL = _with_tree(
    """
SELECT t.subject,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY EXTRACT(EPOCH FROM x.resolved_at - x.opened_at)::float8
       ) AS median_seconds
FROM tree t
JOIN streams_incident x ON x.organization_id = %(org)s AND x.value_stream_id = t.vs_id
WHERE x.resolved_at >= %(start)s AND x.resolved_at < %(end)s
GROUP BY t.subject
"""
)


def _dora(
    organization: Organization, roots: Sequence[int], period: Period, *, merge: bool
) -> dict[int, dict[str, Value]]:
    params = _params(organization, roots, period, merge=merge)
    deploys = {r["subject"]: r for r in _rows(_DEPLOY_SQL, params)}
    lead = {r["subject"]: r["median_seconds"] for r in _rows(_LEAD_SQL, params)}
    restore = {r["subject"]: r["median_seconds"] for r in _rows(_RESTORE_SQL, params)}
    result: dict[int, dict[str, Value]] = {}
    for subject in [0] if merge else roots:
        d = deploys.get(subject, {})
        result[subject] = {
            # Days in P are never zero, so a period without deployments gives 0.
            "deployment_frequency_per_day": _ratio(d.get("successes", 0), period.days),
            "lead_time_for_changes_median_hours": _ratio(lead.get(subject), 3600),
            "change_failure_rate": _ratio(d.get("failures"), d.get("deployments"), 100),
            "time_to_restore_median_hours": _ratio(restore.get(subject), 3600),
        }
    return result


# The subjects with a production deployment on record before P.end, in any period.
_DEPLOYED_SQL = _with_tree(
    """
SELECT DISTINCT t.subject
FROM tree t
WHERE EXISTS (
    SELECT 1 FROM streams_deployment d
    WHERE d.organization_id = %(org)s AND d.value_stream_id = t.vs_id
      AND d.environment = %(production)s AND d.deployed_at < %(end)s
)
"""
)


def streams_with_deployments(
    *, organization: Organization, value_stream_ids: Iterable[int], period: Period
) -> set[int]:
    """The named value streams that (with their descendants) have a production
    deployment on record before the end of P, in P or earlier.

    Deployment frequency is 0, not null, over a period without deployments (its
    denominator, the days of P, is never empty): this tells a stream that deploys
    less often than P from one that has never recorded a deployment, whose 0 is no
    measurement (``metrics.bands``)."""
    ids = list(value_stream_ids)
    if not ids:
        return set()
    params = _params(organization, ids, period, merge=False)
    return {r["subject"] for r in _rows(_DEPLOYED_SQL, params)}


def dora_metrics(
    *, organization: Organization, value_stream_ids: Iterable[int], period: Period
) -> dict[str, Value]:
    """Every DORA key of docs/metrics.md#dora-metrics for P, over the named value
    streams and all their descendants taken together (exact, unrounded)."""
    return _dora(organization, list(value_stream_ids), period, merge=True)[0]


def value_stream_metrics(
    *, organization: Organization, value_stream_ids: Sequence[int], period: Period
) -> dict[int, dict[str, Value]]:
    """Each named value stream's flow and DORA metrics, each rolled up over its own
    descendants, in a fixed number of queries however many streams there are."""
    ids = list(value_stream_ids)
    flow = _flow(organization, ids, period, merge=False)
    dora = _dora(organization, ids, period, merge=False)
    return {vs: {**flow[vs], **dora[vs]} for vs in ids}


# --- The kpis JSON (docs/formats.md#the-kpis-json) -----------------------------------


def _rounded(value: Value) -> Value:
    return round(value, ROUND_DIGITS) if isinstance(value, float) else value


def kpis_for_period(
    *, organization: Organization, date_from: dt.date, date_to: dt.date
) -> dict[str, Any]:
    """The ``kpis`` JSON (docs/formats.md#the-kpis-json): every value stream's and journey's
    metrics for the inclusive local dates ``date_from..date_to``, every key present, null
    where undefined."""
    from journeys.models import Journey
    from streams.models import ValueStream

    period = Period.for_organization(organization, date_from, date_to)
    streams = list(
        ValueStream.objects.filter(organization=organization)
        .order_by("slug")
        .values_list("pk", "slug")
    )
    metrics = value_stream_metrics(
        organization=organization, value_stream_ids=[pk for pk, _ in streams], period=period
    )
    from metrics.journey_kpis import journey_metrics

    journeys = list(
        Journey.objects.filter(organization=organization).order_by("slug").values_list("pk", "slug")
    )
    journey_values = journey_metrics(
        organization=organization, journey_ids=[pk for pk, _ in journeys], period=period
    )
    return {
        "org": organization.slug,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "value_streams": {
            slug: {k: _rounded(v) for k, v in metrics[pk].items()} for pk, slug in streams
        },
        "journeys": {
            slug: {k: _rounded(v) for k, v in journey_values[pk].items()} for pk, slug in journeys
        },
    }


# --- Derived facts of flow items ----------------------------------------------------


# docs/metrics.md#flow-items-and-transitions: state = last transition's state (new before any);
# start = first transition not to new; done_at = last transition's at when it is
# done; active/waiting time = the spans [at, next at) in that state, which all lie
# between start and the last transition (done_at for a done item). The same
# facts as streams.ingest's import computes for the items an import touched.
def _facts_sql(ids: str) -> str:
    """The derived facts of flow items (docs/metrics.md#flow-items-and-transitions),
    recomputed from their transitions for the item ids that ``ids`` (a SELECT of
    ``id``) yields:

    - state: the state of the last transition, "new" before any;
    - started_at: the first transition to a state other than new;
    - done_at: the last transition's instant, if its state is done;
    - active/waiting seconds: time spent in active/waiting up to the last
      transition (for a done item, that is from start to done_at);
    - the item's WIP spans (streams.FlowWipSpan), replaced, and its value
      stream's WIP changes (streams.FlowWipChange), adjusted by the difference.

    Item rows whose facts are already right are left untouched. All CTEs read
    the statement's snapshot, so ``old_spans`` holds the spans from before.
    """
    return f"""
WITH ids AS ({ids}),
tr AS (
    SELECT item_id, at, state,
           lead(at) OVER w AS next_at,
           row_number() OVER (PARTITION BY item_id ORDER BY at DESC) AS from_last,
           -- Runs of active/waiting transitions: a run's rows share the count of
           -- other transitions before them.
           count(*) FILTER (WHERE state NOT IN ('active', 'waiting')) OVER w AS run
    FROM streams_flowtransition
    WHERE organization_id = %(org)s AND item_id IN (SELECT id FROM ids)
    WINDOW w AS (PARTITION BY item_id ORDER BY at)
),
facts AS (
    SELECT item_id,
           min(state) FILTER (WHERE from_last = 1) AS state,
           min(at) FILTER (WHERE state <> 'new') AS started_at,
           min(at) FILTER (WHERE from_last = 1 AND state = 'done') AS done_at,
           round(sum(EXTRACT(EPOCH FROM next_at - at)) FILTER (WHERE state = 'active'))
               ::bigint AS active_seconds,
           round(sum(EXTRACT(EPOCH FROM next_at - at)) FILTER (WHERE state = 'waiting'))
               ::bigint AS waiting_seconds
    FROM tr
    GROUP BY item_id
),
spans AS (
    -- WIP on (first at of the run, next transition after it]; open while none follows.
    SELECT item_id, min(at) AS started_at,
           CASE WHEN bool_and(next_at IS NOT NULL) THEN max(next_at) END AS ended_at
    FROM tr
    WHERE state IN ('active', 'waiting')
    GROUP BY item_id, run
),
old_spans AS (
    DELETE FROM streams_flowwipspan w
    WHERE w.organization_id = %(org)s AND w.item_id IN (SELECT id FROM ids)
    RETURNING w.value_stream_id, w.started_at, w.ended_at
),
new_spans AS (
    INSERT INTO streams_flowwipspan
        (organization_id, item_id, value_stream_id, started_at, ended_at)
    SELECT %(org)s, s.item_id, i.value_stream_id, s.started_at, s.ended_at
    FROM spans s
    JOIN streams_flowitem i ON i.organization_id = %(org)s AND i.id = s.item_id
    RETURNING value_stream_id, started_at, ended_at
),
steps AS (
    SELECT value_stream_id, date_bin('15 minutes', started_at, {_EPOCH}) AS at, 1 AS change
    FROM new_spans
    UNION ALL
    SELECT value_stream_id, date_bin('15 minutes', ended_at, {_EPOCH}), -1
    FROM new_spans WHERE ended_at IS NOT NULL
    UNION ALL
    SELECT value_stream_id, date_bin('15 minutes', started_at, {_EPOCH}), -1 FROM old_spans
    UNION ALL
    SELECT value_stream_id, date_bin('15 minutes', ended_at, {_EPOCH}), 1
    FROM old_spans WHERE ended_at IS NOT NULL
),
changes AS (
    INSERT INTO streams_flowwipchange AS c (organization_id, value_stream_id, at, change)
    SELECT %(org)s, value_stream_id, at, sum(change)
    FROM steps
    GROUP BY value_stream_id, at
    HAVING sum(change) <> 0
    -- In key order, so that concurrent imports lock the rows in the same order.
    ORDER BY value_stream_id, at
    ON CONFLICT (organization_id, value_stream_id, at)
    DO UPDATE SET change = c.change + EXCLUDED.change
),
fresh AS (
    SELECT x.id, COALESCE(f.state, 'new') AS state, f.started_at, f.done_at,
           COALESCE(f.active_seconds, 0) AS active_seconds,
           COALESCE(f.waiting_seconds, 0) AS waiting_seconds
    FROM ids x LEFT JOIN facts f ON f.item_id = x.id
)
UPDATE streams_flowitem i
SET state = n.state, started_at = n.started_at, done_at = n.done_at,
    active_seconds = n.active_seconds, waiting_seconds = n.waiting_seconds
FROM fresh n
WHERE i.organization_id = %(org)s AND i.id = n.id
  AND (i.state, i.started_at, i.done_at, i.active_seconds, i.waiting_seconds)
      IS DISTINCT FROM (n.state, n.started_at, n.done_at, n.active_seconds, n.waiting_seconds)
"""  # noqa: S608 - ``ids`` is SQL of this module's callers, never input


# The origin of the 15-minute steps of streams.FlowWipChange.
_EPOCH = "timestamptz '2000-01-01 00:00:00+00'"


# Above this many touched items, a refresh is planned without nested loops.
LARGE_REFRESH = 5_000


def flow_item_facts_refresh(*, organization: Organization, item_ids: Iterable[int]) -> int:
    """Recompute the derived facts of these flow items from their transitions, in one
    statement; returns the number of items whose facts changed."""
    ids = list(item_ids)
    if not ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            _facts_sql("SELECT unnest(%(ids)s::bigint[]) AS id"),
            {"org": organization.pk, "ids": ids},
        )
        return cursor.rowcount


def flow_item_facts_rebuild(*, organization_id: int, using: str = "default") -> int:
    """Recompute the derived facts of every flow item of the organization, its WIP
    spans and changes from scratch (after a migration, or to check the kept ones).

    Runs on ``using``'s connection, inside the organization's context.
    """
    params = {"org": organization_id}
    with connections[using].cursor() as cursor:
        cursor.execute("DELETE FROM streams_flowwipchange WHERE organization_id = %(org)s", params)
        cursor.execute("DELETE FROM streams_flowwipspan WHERE organization_id = %(org)s", params)
        cursor.execute(
            _facts_sql("SELECT id FROM streams_flowitem WHERE organization_id = %(org)s"), params
        )
        return cursor.rowcount


def flow_item_facts_refresh_from(*, organization: Organization, table: str) -> int:
    """The same, for the item ids in column ``id`` of a (temporary) table of this
    transaction: ingestion's list of the items an import touched."""
    if not table.isidentifier():
        raise ValueError(f"{table!r} is not a table name")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
        large = cursor.fetchone()[0] > LARGE_REFRESH
        if large:
            # The transitions this import just wrote are invisible to the table's
            # statistics until commit, so the planner expects ~1 row and picks a
            # nested loop that is quadratic in the items; hash joins stay linear.
            cursor.execute("SELECT set_config('enable_nestloop', 'off', true)")
        try:
            cursor.execute(_facts_sql(f"SELECT id FROM {table}"), {"org": organization.pk})  # noqa: S608
            return cursor.rowcount
        finally:
            if large and not connection.needs_rollback:
                cursor.execute("SELECT set_config('enable_nestloop', 'on', true)")
