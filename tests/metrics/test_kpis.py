"""The ``kpis`` JSON (docs/formats.md#the-kpis-json) through the command and the API."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from journeys.models import Journey
from journeys.services import journey_save
from metrics.definitions import Subject, keys_for
from metrics.engine import kpis_for_period
from portfolio.tenancy import organization_context
from tests import api
from tests.conftest import client_for
from tests.metrics.test_flow_metrics import item, stream

pytestmark = pytest.mark.django_db

VS_KEYS = set(keys_for(Subject.VALUE_STREAM))
JOURNEY_KEYS = set(keys_for(Subject.JOURNEY))


@pytest.fixture
def model(tenant_a):
    org = tenant_a.org
    with organization_context(org.pk):
        parent = stream(org, "dental")
        child = stream(org, "claims", parent=parent)
        stream(org, "idle")
        journey_save(organization=org, journey=Journey(slug="get-cover", name="Get cover"))
        # Flow time 07-01 .. 07-04 = 3 d; 07-01 .. 07-02 = 1 d.
        item(
            org, child, "A", "feature", ("2026-07-01T00:00", "active"), ("2026-07-04T00:00", "done")
        )
        item(
            org, child, "B", "defect", ("2026-07-01T00:00", "active"), ("2026-07-02T00:00", "done")
        )
        item(org, parent, "C", "risk", ("2026-07-01T00:00", "active"), ("2026-07-03T00:00", "done"))
    return tenant_a


def kpis(*args: str) -> dict:
    out = StringIO()
    call_command("kpis", *args, stdout=out)
    return json.loads(out.getvalue())


def test_the_command_prints_every_key_for_every_subject(model):
    data = kpis("--org", "org-a", "--from", "2026-07-01", "--to", "2026-09-30")
    assert (data["org"], data["from"], data["to"]) == ("org-a", "2026-07-01", "2026-09-30")
    assert set(data["value_streams"]) == {"claims", "dental", "idle"}
    assert all(set(m) == VS_KEYS for m in data["value_streams"].values())
    # A journey without events: every key present, all null.
    assert data["journeys"] == {"get-cover": dict.fromkeys(JOURNEY_KEYS)}
    claims, dental, idle = (data["value_streams"][s] for s in ("claims", "dental", "idle"))
    # claims: A and B; dental rolls up claims plus its own C.
    assert claims["flow_velocity"] == 2
    assert dental["flow_velocity"] == 3
    # dental's flow times 1, 2, 3 d: mean 2; feature 1 of 3 = 33.3333 % (rounded to 4 places).
    assert dental["flow_time_mean_days"] == 2
    assert dental["flow_distribution_feature"] == 33.3333
    assert idle["flow_velocity"] == 0
    assert idle["flow_time_median_days"] is None
    assert idle["change_failure_rate"] is None


@pytest.mark.parametrize(
    ("date_from", "date_to", "message"),
    [
        ("2026-13-01", "2026-09-30", "from: '2026-13-01' is not a date; expected YYYY-MM-DD"),
        ("2026-07-01", "20260930", "to: '20260930' is not a date; expected YYYY-MM-DD"),
        ("2026-07-02", "2026-07-01", "to: 2026-07-01 is before from: 2026-07-02"),
    ],
)
def test_the_command_rejects_bad_dates(model, date_from, date_to, message):
    with pytest.raises(CommandError, match=f"^{message}$"):
        kpis("--org", "org-a", "--from", date_from, "--to", date_to)


def test_the_command_rejects_an_unknown_org(db):
    with pytest.raises(CommandError, match="no organization has the slug 'nope'"):
        kpis("--org", "nope", "--from", "2026-07-01", "--to", "2026-07-01")


def test_the_api_answers_the_command_json_to_every_role(model):
    expected = kpis("--org", "org-a", "--from", "2026-07-01", "--to", "2026-09-30")
    for user in (model.viewer, model.editor, model.admin):
        answer = api.get(client_for(user), "kpis/", **{"from": "2026-07-01", "to": "2026-09-30"})
        assert answer.status_code == 200
        assert answer.json() == expected


def test_the_api_answers_404_to_another_organization_and_outsiders(model, tenant_b, outsider):
    params = {"from": "2026-07-01", "to": "2026-09-30"}
    for user in (tenant_b.admin, outsider):
        assert api.get(client_for(user), "kpis/", **params).status_code == 404
    assert api.get(client_for(tenant_b.admin), "kpis/", org="missing", **params).status_code == 404


def test_the_api_is_read_only(model):
    answer = api.send(client_for(model.admin), "post", "kpis/", {})
    assert answer.status_code == 405


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"to": "2026-09-30"}, "from: a date is required (YYYY-MM-DD)"),
        ({"from": "2026-07-01", "to": "sept"}, "to: 'sept' is not a date; expected YYYY-MM-DD"),
        ({"from": "2026-07-02", "to": "2026-07-01"}, "to: 2026-07-01 is before from: 2026-07-02"),
    ],
)
def test_the_api_answers_400_to_bad_dates(model, params, message):
    answer = api.get(client_for(model.viewer), "kpis/", **params)
    assert answer.status_code == 400
    assert answer.json() == {"detail": message}


def test_the_schema_documents_the_kpis_endpoint(db):
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=StringIO())


def test_the_query_count_does_not_grow_with_the_streams(model, django_assert_num_queries):
    org = model.org
    with organization_context(org.pk):
        # streams, journeys, 2 flow, 3 DORA and 4 journey queries: the same for 3
        # streams or 23, 1 journey or 21.
        with django_assert_num_queries(11):
            kpis_for_period(
                organization=org, date_from=dt.date(2026, 7, 1), date_to=dt.date(2026, 9, 30)
            )
        for n in range(20):
            stream(org, f"more-{n}")
            journey_save(organization=org, journey=Journey(slug=f"j-{n}", name=f"J {n}"))
        with django_assert_num_queries(11):
            data = kpis_for_period(
                organization=org, date_from=dt.date(2026, 7, 1), date_to=dt.date(2026, 9, 30)
            )
    assert len(data["value_streams"]) == 23
    assert len(data["journeys"]) == 21
