"""A small hand-made history for the quarterly report tests, with its figures worked out.

Organization A (UTC), reported for 2026-Q3 against 2026-Q2:

- value streams: ``dental`` (business) and ``claims`` (team, its child);
- flow items: Q2 claims P1 feature 05-01 -> 05-03 (2 d); Q3 claims A feature
  07-01 -> 07-04 (3 d), claims B defect 07-01 -> 07-02 (1 d), dental C risk
  07-01 -> 07-03 (2 d). Claims' Q3 median flow time is 2 d (1 d and 3 d);
- deployments of claims: Q2 D0 success; Q3 D1 success (its change committed 24 h
  before), D2 failure with an incident opened 07-20 10:00 and resolved 07-21 10:00;
- the journey ``claim``: Q3 surveys 10, 9 and 3 (NPS 100 * (2 - 1) / 3 = 33.3333);
  a Q2 survey 10 (NPS 100);
- objectives of 2026-Q3: "Pay claims faster" (linked to claims and the journey) with
  a key result linked to claims' median flow time, baseline 4 d and target 1 d
  (current 2 d: progress (2 - 4) / (1 - 4) = 2/3), and a manual key result 0 -> 10
  people checked in at 5 (progress 1/2): the objective's progress is 7/12; "Ship
  safely", aligned to it, has no key results (no progress).
"""

from __future__ import annotations

import io

from journeys.models import Journey
from portfolio.models import KeyResult, Objective
from portfolio.okrs import check_in_create
from portfolio.services import key_result_save, objective_save
from portfolio.tenancy import organization_context
from streams.ingest import events_import
from streams.models import FlowItem, ValueStream
from streams.services import value_stream_save
from tests.journeys.helpers import build_journey
from tests.metrics.test_dora_metrics import change, deploy, incident
from tests.metrics.test_flow_metrics import item

Q3 = ("2026-07-01", "2026-09-30")
Q2 = ("2026-04-01", "2026-06-30")

JOURNEY_EVENTS = (
    "key,journey,type,at,customer,ref,value,stage,touchpoint\n"
    "S1,claim,survey,2026-07-05T10:00:00Z,a,,10,,\n"
    "S2,claim,survey,2026-07-06T10:00:00Z,b,,9,,\n"
    "S3,claim,survey,2026-08-06T10:00:00Z,c,,3,,\n"
    "S0,claim,survey,2026-05-06T10:00:00Z,d,,10,,\n"
)


def build_history(org, *, dental_name: str = "Dental", claims_name: str = "Claims") -> dict:
    """The history of the module docstring in ``org``; answers its objects by name."""
    with organization_context(org.pk):
        dental = value_stream_save(
            organization=org,
            value_stream=ValueStream(slug="dental", name=dental_name, kind="business"),
        )
        claims = value_stream_save(
            organization=org,
            value_stream=ValueStream(slug="claims", name=claims_name, kind="team", parent=dental),
        )
        item(
            org,
            claims,
            "P1",
            "feature",
            ("2026-05-01T00:00", "active"),
            ("2026-05-03T00:00", "done"),
        )
        item(
            org,
            claims,
            "A",
            "feature",
            ("2026-07-01T00:00", "active"),
            ("2026-07-04T00:00", "done"),
        )
        item(
            org, claims, "B", "defect", ("2026-07-01T00:00", "active"), ("2026-07-02T00:00", "done")
        )
        item(org, dental, "C", "risk", ("2026-07-01T00:00", "active"), ("2026-07-03T00:00", "done"))
        deploy(org, claims, "D0", "2026-05-10T10:00")
        d1 = deploy(org, claims, "D1", "2026-07-10T10:00")
        change(org, claims, "C1", "2026-07-09T10:00", d1)
        d2 = deploy(org, claims, "D2", "2026-07-20T09:00", status="failure")
        incident(org, claims, "I1", "2026-07-20T10:00", "2026-07-21T10:00", cause=d2)
        journey = build_journey(org, "claim")
        events_import(organization=org, kind="journey_events", rows=io.StringIO(JOURNEY_EVENTS))
        faster = objective_save(
            organization=org,
            objective=Objective(slug="faster", title="Pay claims faster", quarter="2026-Q3"),
            value_streams=[claims],
            journeys=[journey],
        )
        key_result_save(
            organization=org,
            key_result=KeyResult(
                objective=faster,
                slug="flow-time",
                title="Claims changes in under a day",
                baseline=4,
                target=1,
                unit="days",
                metric_value_stream=claims,
                metric_key="flow_time_median_days",
            ),
        )
        trained = key_result_save(
            organization=org,
            key_result=KeyResult(
                objective=faster,
                slug="trained",
                title="Assessors trained",
                baseline=0,
                target=10,
                unit="people",
            ),
        )
        check_in_create(organization=org, key_result=trained, value=5)
        safely = objective_save(
            organization=org,
            objective=Objective(
                slug="safely", title="Ship safely", quarter="2026-Q3", parent=faster
            ),
            value_streams=[claims],
        )
        return {
            "dental": dental,
            "claims": claims,
            "journey": Journey.objects.get(pk=journey.pk),
            "faster": faster,
            "safely": safely,
            "trained": trained,
        }


def add_late_item(org, claims: ValueStream) -> FlowItem:
    """An item done in Q3 that arrives after the quarter was exported."""
    with organization_context(org.pk):
        return item(
            org,
            claims,
            "LATE",
            "debt",
            ("2026-09-01T00:00", "active"),
            ("2026-09-11T00:00", "done"),
        )
