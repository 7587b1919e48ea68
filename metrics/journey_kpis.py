"""The journey KPIs of docs/metrics.md#journey-kpis, computed in PostgreSQL from journey
events.

The journey side of ``metrics.engine``, in the same style: one home for each
definition, set-based queries over ``journeys_journeyevent`` that filter by
``organization_id`` (row-level security is the second wall), every journey of
a call at once, exact values (``kpis_for_period`` rounds them for display),
and ``None`` for an empty denominator.

P is the half-open interval of instants ``[start, end)`` of ``engine.Period``:
local dates in the organization's time zone. A journey's instances (for
conversion, lead and cycle time) are the ``ref`` of its ``stage_entered``
events where given, else the ``customer``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from metrics.definitions import JOURNEY_KEYS
from metrics.engine import Period, Value, _ratio, _rows
from portfolio.models import Organization

# A journey instance (docs/metrics.md#journey-events): the ref of a stage_entered event
# where given (an application, a claim), else its customer. SQL over an event aliased
# ``e``.
INSTANCE = "COALESCE(NULLIF(e.ref, ''), e.customer)"


def journey_params(
    organization: Organization, journey_ids: list[int], period: Period
) -> dict[str, Any]:
    """The parameters every journey query takes: %(org)s, %(journeys)s, %(start)s, %(end)s
    and %(tz)s."""
    return {
        "org": organization.pk,
        "journeys": journey_ids,
        "start": period.start,
        "end": period.end,
        "tz": period.time_zone,
    }


def nps_counts(value: str, only: str = "TRUE") -> str:
    """SQL of the ``promoters`` and ``detractors`` of the survey values ``value``
    (docs/metrics.md#nps: promoters answer 9 or 10, detractors 0 to 6), among the rows
    where ``only``."""
    return (
        f"count(*) FILTER (WHERE {only} AND {value} >= 9) AS promoters, "
        f"count(*) FILTER (WHERE {only} AND {value} <= 6) AS detractors"
    )


def nps(promoters: int, detractors: int, responses: int | None) -> Value:
    """docs/metrics.md#nps: 100 * (promoters - detractors) / responses; None without responses."""
    return _ratio(promoters - detractors, responses, 100)


# Events in P that one aggregate each turns into NPS, FCR, cost per acquisition
# and the average claim cost.
_IN_PERIOD_SQL = f"""
SELECT e.journey_id,
       count(*) FILTER (WHERE e.type = 'survey') AS responses,
       {nps_counts("e.value", only="e.type = 'survey'")},
       count(*) FILTER (WHERE e.type = 'case_resolved') AS cases,
       count(*) FILTER (WHERE e.type = 'case_resolved' AND e.value = 1) AS first_contact,
       COALESCE(sum(e.value) FILTER (WHERE e.type = 'acquisition_cost'), 0) AS acquisition_cost,
       count(*) FILTER (WHERE e.type = 'acquired') AS acquired,
       avg(e.value) FILTER (WHERE e.type = 'claim_paid') AS claim_cost_avg
FROM journeys_journeyevent e
WHERE e.organization_id = %(org)s AND e.journey_id = ANY(%(journeys)s)
  AND e.at >= %(start)s AND e.at < %(end)s
GROUP BY e.journey_id
"""  # noqa: S608 - only this module's SQL constants are interpolated

# Conversion, lead and cycle time, per instance from its stage_entered events
# before P.end (an event from P.end on cannot decide anything about P):
# - first_entry: its first event in the entry stage; the conversion cohort of P
#   is the instances whose first_entry is in P (repeat entries do not count);
# - converted: an event in the conversion stage at or after first_entry (and
#   before P.end: a conversion after the period's end does not count);
# - first_conversion: its first event in the conversion stage; lead and cycle
#   time are measured over the instances whose first_conversion is in P, from
#   their first entry-stage (work-start-stage) event at or before it. The
#   earliest such event overall is at or before first_conversion exactly when
#   any is, so the first one overall is the one to measure from.
_INSTANCES_SQL = f"""
WITH flags AS (
    SELECT s.journey_id,
           min(s.id) FILTER (WHERE s.is_entry) AS entry_id,
           min(s.id) FILTER (WHERE s.is_work_start) AS work_start_id,
           min(s.id) FILTER (WHERE s.is_conversion) AS conversion_id
    FROM journeys_journeystage s
    WHERE s.organization_id = %(org)s AND s.journey_id = ANY(%(journeys)s)
    GROUP BY s.journey_id
),
instances AS (
    SELECT e.journey_id,
           min(e.at) FILTER (WHERE e.stage_id = f.entry_id) AS first_entry,
           min(e.at) FILTER (WHERE e.stage_id = f.work_start_id) AS first_work_start,
           min(e.at) FILTER (WHERE e.stage_id = f.conversion_id) AS first_conversion,
           max(e.at) FILTER (WHERE e.stage_id = f.conversion_id) AS last_conversion
    FROM journeys_journeyevent e
    JOIN flags f ON f.journey_id = e.journey_id
    WHERE e.organization_id = %(org)s AND e.journey_id = ANY(%(journeys)s)
      AND e.type = 'stage_entered' AND e.at < %(end)s
    GROUP BY e.journey_id, {INSTANCE}
),
converted AS (
    SELECT i.*,
           i.first_conversion >= %(start)s AS converted_in_p,
           date_part('epoch', i.first_conversion - i.first_entry) AS lead_seconds,
           date_part('epoch', i.first_conversion - i.first_work_start) AS cycle_seconds
    FROM instances i
)
SELECT journey_id,
       count(*) FILTER (WHERE first_entry >= %(start)s) AS cohort,
       count(*) FILTER (WHERE first_entry >= %(start)s AND last_conversion >= first_entry)
           AS cohort_converted,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_seconds)
           FILTER (WHERE converted_in_p AND first_entry <= first_conversion) AS lead_seconds,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY cycle_seconds)
           FILTER (WHERE converted_in_p AND first_work_start <= first_conversion)
           AS cycle_seconds
FROM converted
GROUP BY journey_id
"""  # noqa: S608 - only this module's SQL constants are interpolated

# Renewals: the contracts (ref) with a renewal_due event in P, and those of them
# renewed before P.end (early renewals, before the due date, count).
_RENEWAL_SQL = """
WITH due AS (
    SELECT DISTINCT e.journey_id, e.ref
    FROM journeys_journeyevent e
    WHERE e.organization_id = %(org)s AND e.journey_id = ANY(%(journeys)s)
      AND e.type = 'renewal_due' AND e.at >= %(start)s AND e.at < %(end)s
)
SELECT d.journey_id, count(*) AS due,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM journeys_journeyevent r
           WHERE r.organization_id = %(org)s AND r.journey_id = d.journey_id
             AND r.type = 'renewed' AND r.ref = d.ref AND r.at < %(end)s
       )) AS renewed
FROM due d
GROUP BY d.journey_id
"""

# Retention: a customer is active at t when acquired before t and not churned
# before t. The cohort is the customers active at P.start; retained, those of
# them still active at P.end (not churned before it).
_RETENTION_SQL = """
WITH customers AS (
    SELECT e.journey_id, e.customer,
           bool_or(e.type = 'acquired' AND e.at < %(start)s) AS acquired_before_start,
           bool_or(e.type = 'churned' AND e.at < %(start)s) AS churned_before_start,
           bool_or(e.type = 'churned') AS churned_before_end
    FROM journeys_journeyevent e
    WHERE e.organization_id = %(org)s AND e.journey_id = ANY(%(journeys)s)
      AND e.type IN ('acquired', 'churned') AND e.at < %(end)s
    GROUP BY e.journey_id, e.customer
)
SELECT journey_id,
       count(*) FILTER (WHERE acquired_before_start AND NOT churned_before_start) AS cohort,
       count(*) FILTER (WHERE acquired_before_start AND NOT churned_before_end) AS retained
FROM customers
GROUP BY journey_id
"""


def journey_metrics(
    *, organization: Organization, journey_ids: Iterable[int], period: Period
) -> dict[int, dict[str, Value]]:
    """Every journey KPI of docs/metrics.md#journey-kpis for P, per journey (exact,
    unrounded), in a fixed number of queries however many journeys there are."""
    ids = list(journey_ids)
    params = journey_params(organization, ids, period)
    simple = {r["journey_id"]: r for r in _rows(_IN_PERIOD_SQL, params)}
    instances = {r["journey_id"]: r for r in _rows(_INSTANCES_SQL, params)}
    renewals = {r["journey_id"]: r for r in _rows(_RENEWAL_SQL, params)}
    retention = {r["journey_id"]: r for r in _rows(_RETENTION_SQL, params)}
    result: dict[int, dict[str, Value]] = {}
    for journey in ids:
        s, i = simple.get(journey, {}), instances.get(journey, {})
        n, r = renewals.get(journey, {}), retention.get(journey, {})
        promoters, detractors = s.get("promoters", 0), s.get("detractors", 0)
        acquired = s.get("acquired", 0)
        values: dict[str, Value] = {
            "nps": nps(promoters, detractors, s.get("responses")),
            "conversion_rate": _ratio(i.get("cohort_converted"), i.get("cohort"), 100),
            "journey_lead_time_median_days": _ratio(i.get("lead_seconds"), 86400),
            "journey_cycle_time_median_days": _ratio(i.get("cycle_seconds"), 86400),
            "fcr": _ratio(s.get("first_contact"), s.get("cases"), 100),
            "renewal_rate": _ratio(n.get("renewed"), n.get("due"), 100),
            "retention_rate": _ratio(r.get("retained"), r.get("cohort"), 100),
            "cost_per_acquisition": _ratio(s.get("acquisition_cost", 0), acquired)
            if acquired
            else None,
            "claim_cost_avg": None
            if s.get("claim_cost_avg") is None
            else float(s["claim_cost_avg"]),
        }
        result[journey] = {k: values[k] for k in JOURNEY_KEYS}
    return result
