"""Journey KPIs (docs/metrics.md#journey-kpis) on hand-made event histories.

Every history is imported with ``import_events --kind journey_events`` and
measured with ``kpis``, as a user would; every expected value is worked out in
the comments. P is 2026-Q3: [07-01 00:00Z, 10-01 00:00Z). The journey is
submit (entry) -> assess (work start) -> paid (conversion).
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command

from metrics.engine import Period
from metrics.journey_kpis import JOURNEY_KEYS, journey_metrics
from portfolio.tenancy import organization_context
from tests.journeys.helpers import build_journey

pytestmark = pytest.mark.django_db

HEADER = "key,journey,type,at,customer,ref,value,stage,touchpoint\n"
Q3 = ("2026-07-01", "2026-09-30")


def kpis(tmp_path, org, rows: list[str], period: tuple[str, str] = Q3) -> dict:
    """Import the rows (``type,at,customer,ref,value,stage``, keys numbered) and
    answer the claim journey's KPIs from the kpis command."""
    text = HEADER + "".join(f"K-{n},claim,{row},\n" for n, row in enumerate(rows, start=1))
    path = tmp_path / "journey_events.csv"
    path.write_text(text)
    call_command(
        "import_events",
        "--org",
        org.slug,
        "--kind",
        "journey_events",
        str(path),
        stdout=io.StringIO(),
    )
    out = io.StringIO()
    call_command("kpis", "--org", org.slug, "--from", period[0], "--to", period[1], stdout=out)
    return json.loads(out.getvalue())["journeys"]["claim"]


def test_nps(tmp_path, tenant_a):
    build_journey(tenant_a.org)
    m = kpis(
        tmp_path,
        tenant_a.org,
        [
            "survey,2026-07-01T00:00:00Z,a,,10,",  # in P (its first instant)
            "survey,2026-07-02T00:00:00Z,b,,9,",
            "survey,2026-07-03T00:00:00Z,c,,9,",
            "survey,2026-07-04T00:00:00Z,d,,8,",  # passive
            "survey,2026-07-05T00:00:00Z,e,,6,",  # detractor
            "survey,2026-09-30T23:59:59Z,f,,3,",  # detractor, P's last second
            "survey,2026-06-30T23:59:59Z,g,,0,",  # before P
            "survey,2026-10-01T00:00:00Z,h,,0,",  # P.end: outside
        ],
    )
    # 6 responses: 3 promoters (>= 9), 2 detractors (<= 6): 100 * (3 - 2) / 6.
    assert m["nps"] == round(100 / 6, 4)


def test_fcr_cost_per_acquisition_and_claim_cost(tmp_path, tenant_a):
    build_journey(tenant_a.org)
    m = kpis(
        tmp_path,
        tenant_a.org,
        [
            "case_resolved,2026-07-01T10:00:00Z,a,,1,",
            "case_resolved,2026-07-02T10:00:00Z,b,,1,",
            "case_resolved,2026-07-03T10:00:00Z,c,,2,",
            "case_resolved,2026-08-03T10:00:00Z,d,,3,",
            "case_resolved,2026-06-03T10:00:00Z,e,,2,",  # before P
            "acquisition_cost,2026-07-01T00:00:00Z,,,300,",
            "acquisition_cost,2026-08-01T00:00:00Z,,,500.50,",
            "acquisition_cost,2026-06-01T00:00:00Z,,,200,",  # before P
            "acquired,2026-07-05T00:00:00Z,c-1,,,",
            "acquired,2026-07-06T00:00:00Z,c-2,,,",
            "acquired,2026-06-06T00:00:00Z,c-3,,,",  # before P
            "claim_paid,2026-07-10T00:00:00Z,c-1,CL-1,1000,",
            "claim_paid,2026-09-10T00:00:00Z,c-2,CL-2,2500,",
            "claim_paid,2026-10-01T00:00:00Z,c-2,CL-3,9999,",  # P.end: outside
        ],
    )
    # FCR: 4 cases in P, 2 of them in one contact: 50 %.
    assert m["fcr"] == 50.0
    # CPA: (300 + 500.50) / 2 acquired in P = 400.25.
    assert m["cost_per_acquisition"] == 400.25
    # Claim cost: (1000 + 2500) / 2 = 1750.
    assert m["claim_cost_avg"] == 1750.0


CONVERSION = [
    # Claim A of customer c-1: enters 07-02, assessed 07-12, paid 07-20.
    "stage_entered,2026-07-02T00:00:00Z,c-1,A,,submit",
    "stage_entered,2026-07-12T00:00:00Z,c-1,A,,assess",
    "stage_entered,2026-07-20T00:00:00Z,c-1,A,,paid",
    # Claim B of the same customer: enters 08-01 and is never paid.
    "stage_entered,2026-08-01T00:00:00Z,c-1,B,,submit",
    # Claim C entered before P (06-15), again in P (07-05: a repeat entry, not a
    # new one), assessed 07-07, paid 07-10.
    "stage_entered,2026-06-15T00:00:00Z,c-2,C,,submit",
    "stage_entered,2026-07-05T00:00:00Z,c-2,C,,submit",
    "stage_entered,2026-07-07T00:00:00Z,c-2,C,,assess",
    "stage_entered,2026-07-10T00:00:00Z,c-2,C,,paid",
    # Claim D enters 09-25 and is paid 10-02, after P's end.
    "stage_entered,2026-09-25T00:00:00Z,c-3,D,,submit",
    "stage_entered,2026-10-02T00:00:00Z,c-3,D,,paid",
    # Customer c-9, no ref (the customer is the instance): 07-03, 07-04, 07-06.
    "stage_entered,2026-07-03T00:00:00Z,c-9,,,submit",
    "stage_entered,2026-07-04T00:00:00Z,c-9,,,assess",
    "stage_entered,2026-07-06T00:00:00Z,c-9,,,paid",
    # Claim E is paid 07-15 without ever entering: no lead or cycle time.
    "stage_entered,2026-07-15T00:00:00Z,c-4,E,,paid",
]


def test_conversion_lead_and_cycle_time_follow_instances(tmp_path, tenant_a):
    build_journey(tenant_a.org)
    m = kpis(tmp_path, tenant_a.org, CONVERSION)
    # Cohort (first entry in P): A, B, D, c-9; C first entered before P. Converted
    # before P.end: A and c-9 (D's payment is after the end): 100 * 2 / 4 = 50 %.
    assert m["conversion_rate"] == 50.0
    # First payment in P: A (07-20), C (07-10), c-9 (07-06), E (07-15, no entry).
    # Lead time from the first entry: A 18 d, C 25 d (from 06-15), c-9 3 d: median 18.
    assert m["journey_lead_time_median_days"] == 18.0
    # Cycle time from the first assessment: A 8 d, C 3 d, c-9 2 d: median 3.
    assert m["journey_cycle_time_median_days"] == 3.0


def test_a_conversion_just_before_the_end_counts(tmp_path, tenant_a):
    build_journey(tenant_a.org)
    m = kpis(
        tmp_path,
        tenant_a.org,
        [
            "stage_entered,2026-09-30T10:00:00Z,c,X,,submit",
            "stage_entered,2026-09-30T23:59:59Z,c,X,,paid",
            "stage_entered,2026-09-30T11:00:00Z,c,Y,,submit",
            "stage_entered,2026-10-01T00:00:00Z,c,Y,,paid",  # at P.end: not in P
        ],
    )
    # Cohort X, Y; X converted in P: 50 %. Lead time of X alone: 13:59:59.
    assert m["conversion_rate"] == 50.0
    assert m["journey_lead_time_median_days"] == round((14 * 3600 - 1) / 86400, 4)


def test_renewals_early_and_late(tmp_path, tenant_a):
    build_journey(tenant_a.org)
    m = kpis(
        tmp_path,
        tenant_a.org,
        [
            # POL-1 due 07-10, renewed early on 07-01: renewed.
            "renewal_due,2026-07-10T00:00:00Z,a,POL-1,,",
            "renewed,2026-07-01T00:00:00Z,a,POL-1,,",
            # POL-2 due 08-01, renewed late on 08-15 (still in P): renewed.
            "renewal_due,2026-08-01T00:00:00Z,b,POL-2,,",
            "renewed,2026-08-15T00:00:00Z,b,POL-2,,",
            # POL-3 due 09-20, renewed 10-05 (after P): not renewed in P.
            "renewal_due,2026-09-20T00:00:00Z,c,POL-3,,",
            "renewed,2026-10-05T00:00:00Z,c,POL-3,,",
            # POL-4 was due before P: not in the denominator.
            "renewal_due,2026-06-20T00:00:00Z,d,POL-4,,",
            "renewed,2026-07-02T00:00:00Z,d,POL-4,,",
            # POL-5 due twice in P is one contract; never renewed.
            "renewal_due,2026-07-20T00:00:00Z,e,POL-5,,",
            "renewal_due,2026-08-20T00:00:00Z,e,POL-5,,",
        ],
    )
    # Due in P: POL-1, 2, 3, 5; renewed before P.end: POL-1, 2: 100 * 2 / 4 = 50 %.
    assert m["renewal_rate"] == 50.0


def test_retention_with_churn_before_and_inside_the_period(tmp_path, tenant_a):
    build_journey(tenant_a.org)
    m = kpis(
        tmp_path,
        tenant_a.org,
        [
            "acquired,2026-01-10T00:00:00Z,c-1,,,",  # active throughout: retained
            "acquired,2026-02-01T00:00:00Z,c-2,,,",
            "churned,2026-08-15T00:00:00Z,c-2,,,",  # churns inside P: lost
            "acquired,2026-03-01T00:00:00Z,c-3,,,",
            "churned,2026-06-01T00:00:00Z,c-3,,,",  # churned before P: not in the cohort
            "acquired,2026-07-05T00:00:00Z,c-4,,,",  # acquired in P: not in the cohort
            "acquired,2026-05-01T00:00:00Z,c-5,,,",
            "churned,2026-10-01T00:00:00Z,c-5,,,",  # churns at P.end: still active at it
        ],
    )
    # Cohort active at 07-01: c-1, c-2, c-5; active at 10-01: c-1, c-5: 2 / 3.
    assert m["retention_rate"] == round(200 / 3, 4)


def test_an_empty_period_gives_null(tmp_path, tenant_a):
    build_journey(tenant_a.org)
    m = kpis(tmp_path, tenant_a.org, CONVERSION, period=("2027-01-01", "2027-03-31"))
    assert set(m) == set(JOURNEY_KEYS)
    # Nothing happened in 2027-Q1: every denominator is empty. (Retention has no
    # cohort either: nobody was ever acquired.)
    assert all(value is None for value in m.values()), m


def test_journeys_are_measured_apart_and_per_organization(tenant_a, tenant_b):
    from streams.ingest import events_import

    one, two = build_journey(tenant_a.org, "claim"), build_journey(tenant_a.org, "other")
    theirs = build_journey(tenant_b.org, "claim")
    for org, slug, value in (
        (tenant_a.org, "claim", 10),
        (tenant_a.org, "other", 0),
        (tenant_b.org, "claim", 5),
    ):
        text = HEADER + f"S-{slug},{slug},survey,2026-07-01T00:00:00Z,c,,{value},,\n"
        with organization_context(org.pk):
            events_import(organization=org, kind="journey_events", rows=io.StringIO(text))
    period = Period(dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    with organization_context(tenant_a.org.pk):
        mine = journey_metrics(
            organization=tenant_a.org, journey_ids=[one.pk, two.pk, theirs.pk], period=period
        )
    assert mine[one.pk]["nps"] == 100.0 and mine[two.pk]["nps"] == -100.0
    # Another organization's journey id answers like a journey without events.
    assert mine[theirs.pk]["nps"] is None
