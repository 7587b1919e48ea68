"""Journey events through the ingestion service (docs/formats.md#journey_events)."""

from __future__ import annotations

import io

import pytest

from journeys.models import JourneyEvent, JourneyStage
from portfolio.tenancy import organization_context
from streams.ingest import ImportRejected, ImportResult, events_import
from tests.api import send
from tests.conftest import client_for
from tests.journeys.helpers import build_journey

pytestmark = pytest.mark.django_db

HEADER = "key,journey,type,at,customer,ref,value,stage,touchpoint\n"


def run(org, text: str) -> ImportResult:
    with organization_context(org.pk):
        return events_import(organization=org, kind="journey_events", rows=io.StringIO(text))


def rejected(org, text: str) -> list[str]:
    with pytest.raises(ImportRejected) as caught:
        run(org, text)
    return caught.value.messages


GOOD = HEADER + (
    "E-1,claim,stage_entered,2026-07-01T09:00:00Z,c-1,CL-1,,submit,form\n"
    "E-2,claim,survey,2026-07-02T09:00:00+02:00,c-1,,9,assess,call\n"
    "E-3,claim,case_resolved,2026-07-03T09:00:00Z,c-1,,1,,\n"
    "E-4,claim,claim_paid,2026-07-04T09:00:00Z,c-1,CL-1,1250.50,paid,\n"
    "E-5,claim,acquired,2026-07-01T08:00:00Z,c-1,,,,\n"
    "E-6,claim,renewal_due,2026-07-05T00:00:00Z,c-1,POL-1,,,\n"
)


def test_events_are_created_then_unchanged_then_updated(tenant_a):
    journey = build_journey(tenant_a.org)
    result = run(tenant_a.org, GOOD)
    assert (result.created, result.updated, result.unchanged) == (6, 0, 0)
    assert result.journey_ids == {journey.pk} and result.value_stream_ids == frozenset()
    again = run(tenant_a.org, GOOD)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 6)
    changed = run(tenant_a.org, GOOD.replace("1250.50", "1300"))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 5)
    with organization_context(tenant_a.org.pk):
        survey = JourneyEvent.objects.get(organization=tenant_a.org, key="E-2")
        paid = JourneyEvent.objects.get(organization=tenant_a.org, key="E-4")
        assert (survey.stage.slug, survey.touchpoint.slug, survey.value) == ("assess", "call", 9)
        assert survey.at.isoformat() == "2026-07-02T07:00:00+00:00"
        assert paid.value == 1300 and paid.ref == "CL-1" and paid.touchpoint is None


def test_every_bad_event_is_reported_and_nothing_is_written(tenant_a, tenant_b):
    build_journey(tenant_a.org)
    build_journey(tenant_b.org, "elsewhere")
    text = HEADER + (
        "E-1,claim,survey,2026-07-01T09:00:00Z,c,,10,,\n"  # line 2: fine
        "E-2,nowhere,survey,2026-07-01T09:00:00Z,c,,5,,\n"  # 3
        "E-3,elsewhere,survey,2026-07-01T09:00:00Z,c,,5,,\n"  # 4: another org's journey
        "E-4,claim,complaint,2026-07-01T09:00:00Z,c,,,,\n"  # 5
        "E-5,claim,survey,2026-07-01T09:00:00,c,,5,,\n"  # 6
        "E-6,claim,survey,2026-07-01T09:00:00Z,c,,11,,\n"  # 7
        "E-7,claim,survey,2026-07-01T09:00:00Z,c,,-1,,\n"  # 8
        "E-8,claim,survey,2026-07-01T09:00:00Z,c,,7.5,,\n"  # 9
        "E-9,claim,survey,2026-07-01T09:00:00Z,c,,,,\n"  # 10
        "E-10,claim,claim_paid,2026-07-01T09:00:00Z,c,,lots,,\n"  # 11
        "E-11,claim,stage_entered,2026-07-01T09:00:00Z,c,,,review,\n"  # 12
        "E-12,claim,stage_entered,2026-07-01T09:00:00Z,c,,,,\n"  # 13
        "E-13,claim,survey,2026-07-01T09:00:00Z,c,,5,,chat\n"  # 14
        "E-14,claim,survey,2026-07-01T09:00:00Z,c,,5,paid,form\n"  # 15
        "E-15,claim,stage_entered,2026-07-01T09:00:00Z,,,,submit,\n"  # 16
        "E-16,claim,renewed,2026-07-01T09:00:00Z,c,,,,\n"  # 17
        "E-17,claim,churned,2026-07-01T09:00:00Z,,,,,\n"  # 18
        "E-18,claim,case_resolved,2026-07-01T09:00:00Z,c,,0,,\n"  # 19
        "E-19,claim,acquisition_cost,2026-07-01T09:00:00Z,,,-5,,\n"  # 20
        "E-1,claim,survey,2026-07-01T09:00:00Z,c,,10,,\n"  # 21
    )
    assert rejected(tenant_a.org, text) == [
        "line 3: journey 'nowhere' is unknown",
        "line 4: journey 'elsewhere' is unknown",
        "line 5: type 'complaint' is not one of survey, stage_entered, case_resolved, "
        "renewal_due, renewed, acquired, churned, acquisition_cost, claim_paid",
        "line 6: at '2026-07-01T09:00:00' has no UTC offset; expected ISO 8601 with Z or "
        "+hh:mm, e.g. 2026-07-01T09:30:00Z",
        "line 7: value 11 is outside 0..10; a survey answer is a whole number from 0 to 10",
        "line 8: value -1 is outside 0..10; a survey answer is a whole number from 0 to 10",
        "line 9: value 7.5 is outside 0..10; a survey answer is a whole number from 0 to 10",
        "line 10: value is empty; a survey event needs one",
        "line 11: value 'lots' is not a number",
        "line 12: stage 'review' is not a stage of journey 'claim'",
        "line 13: stage is empty; a stage_entered event names the stage entered",
        "line 14: touchpoint 'chat' is not a touchpoint of journey 'claim'",
        "line 15: touchpoint 'form' is in stage 'submit', not 'paid'",
        "line 16: customer and ref are empty; a stage_entered event names its customer, "
        "or its ref (an application, a claim)",
        "line 17: ref is empty; a renewed event names its contract in ref",
        "line 18: customer is empty; a churned event names its customer",
        "line 19: value 0 is not a number of contacts (a whole number, 1 or more)",
        "line 20: value -5 is negative; an amount is 0 or more",
        "line 21: key 'E-1' is already on line 2; name each record once",
    ]
    with organization_context(tenant_a.org.pk):
        assert not JourneyEvent.objects.filter(organization=tenant_a.org).exists()


def test_the_command_imports_journey_events(tmp_path, tenant_a):
    from django.core.management import call_command

    build_journey(tenant_a.org)
    path = tmp_path / "journey_events.csv"
    path.write_text(GOOD)
    out = io.StringIO()
    call_command(
        "import_events",
        "--org",
        tenant_a.org.slug,
        "--kind",
        "journey_events",
        str(path),
        stdout=out,
    )
    assert out.getvalue().strip() == "journey_events: 6 created, 0 updated, 0 unchanged"


def test_the_bulk_api_takes_journey_events_with_optional_fields_left_out(tenant_a):
    journey = build_journey(tenant_a.org)
    client = client_for(tenant_a.editor)
    url = "events/journey-events/"
    body = [
        {
            "key": "S-1",
            "journey": "claim",
            "type": "survey",
            "at": "2026-07-01T09:00:00Z",
            "value": "8",
            "touchpoint": "call",
        },
        {
            "key": "A-1",
            "journey": "claim",
            "type": "acquired",
            "at": "2026-07-01T09:00:00Z",
            "customer": "c-9",
            "ref": None,
        },
    ]
    response = send(client, "post", url, body)
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 2 and response.json()["journey_ids"] == [journey.pk]
    bad = send(
        client,
        "post",
        url,
        [
            {
                "key": "S-2",
                "journey": "claim",
                "type": "survey",
                "at": "2026-07-01T09:00:00Z",
                "value": "12",
            }
        ],
    )
    assert bad.status_code == 400
    assert bad.json()["errors"] == [
        "item 1: value 12 is outside 0..10; a survey answer is a whole number from 0 to 10"
    ]


def test_a_deleted_stage_keeps_its_events(tenant_a):
    from journeys.services import journey_stage_delete

    build_journey(tenant_a.org)
    run(tenant_a.org, GOOD)
    with organization_context(tenant_a.org.pk):
        stage = JourneyStage.objects.get(organization=tenant_a.org, slug="assess")
        journey_stage_delete(organization=tenant_a.org, stage=stage)
        survey = JourneyEvent.objects.get(organization=tenant_a.org, key="E-2")
        assert survey.stage is None and survey.touchpoint is None and survey.value == 9
