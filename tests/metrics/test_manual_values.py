"""Manual KPI values: entered per period for a KPI measured elsewhere, kept apart."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from journeys.models import Journey
from journeys.services import journey_save
from metrics.manual import manual_value_set, manual_values
from metrics.models import KpiSnapshot, ManualKpiValue
from portfolio.tenancy import organization_context
from streams.models import ValueStream
from streams.services import value_stream_save
from tests.api import get, send
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

Q3 = dt.date(2026, 7, 1)


@pytest.fixture
def journey(tenant_a) -> Journey:
    with organization_context(tenant_a.org.pk):
        return journey_save(
            organization=tenant_a.org, journey=Journey(slug="get-cover", name="Get cover")
        )


def enter(org, subject, **kwargs) -> ManualKpiValue:
    values = {"key": "nps", "period_kind": "quarter", "period_start": Q3, "value": 31.5}
    with organization_context(org.pk):
        return manual_value_set(organization=org, subject=subject, **{**values, **kwargs})


def test_a_value_per_subject_key_and_period_is_replaced_not_duplicated(tenant_a, journey):
    first = enter(tenant_a.org, journey, note="SurveyMonkey")
    again = enter(tenant_a.org, journey, value=40)
    assert again.pk == first.pk and again.value == 40
    assert again.period_end == dt.date(2026, 9, 30)
    with organization_context(tenant_a.org.pk):
        assert ManualKpiValue.objects.filter(organization=tenant_a.org).count() == 1
        found = manual_values(
            organization=tenant_a.org,
            period_kind="quarter",
            period_start=Q3,
            journey_ids=[journey.pk],
        )
        # Kept apart: no computed snapshot was written or changed.
        assert not KpiSnapshot.objects.filter(organization=tenant_a.org).exists()
    assert found[("journey", journey.pk)]["nps"].value == 40


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "flow_velocity"}, "'flow_velocity' is not a journey KPI"),
        ({"period_start": dt.date(2026, 7, 2)}, "that quarter starts on 2026-07-01"),
        ({"period_kind": "year"}, "'year' is not one of week, month, quarter"),
        ({"value": 101}, "Net Promoter Score is from -100 to 100; got 101"),
        ({"key": "conversion_rate", "value": -1}, "Conversion rate is from 0 to 100; got -1"),
        ({"key": "claim_cost_avg", "value": -5}, "Average claim cost is from 0 to 1e15; got -5"),
        (
            {"key": "claim_cost_avg", "value": 1e308},
            "Average claim cost is from 0 to 1e15; got 1e+308",
        ),
        ({"value": float("inf")}, "Enter a number."),
        ({"value": float("nan")}, "Enter a number."),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(tenant_a, journey, kwargs, message):
    with pytest.raises(ValidationError) as caught:
        enter(tenant_a.org, journey, **kwargs)
    assert any(message in m for m in caught.value.messages), caught.value.messages


def test_value_streams_take_their_own_keys(tenant_a):
    with organization_context(tenant_a.org.pk):
        stream = value_stream_save(
            organization=tenant_a.org, value_stream=ValueStream(slug="dental", name="Dental")
        )
    manual = enter(tenant_a.org, stream, key="change_failure_rate", value=12.5)
    assert manual.value_stream_id == stream.pk and manual.journey_id is None
    with pytest.raises(ValidationError):
        enter(tenant_a.org, stream, key="nps")


def test_another_organizations_subject_is_refused_like_a_missing_one(tenant_a, tenant_b):
    with organization_context(tenant_b.org.pk):
        theirs = journey_save(organization=tenant_b.org, journey=Journey(slug="x", name="X"))
    with pytest.raises(ValidationError) as caught:
        enter(tenant_a.org, theirs)
    assert caught.value.messages == ["No such journey."]


def test_the_api_enters_lists_and_deletes(tenant_a, journey):
    editor = client_for(tenant_a.editor)
    body = {
        "subject_type": "journey",
        "subject": "get-cover",
        "key": "nps",
        "period_kind": "quarter",
        "period_start": "2026-07-01",
        "value": 31.5,
        "note": "from the survey tool",
    }
    created = send(editor, "post", "manual-kpis/", body)
    assert created.status_code == 201, created.json()
    data = created.json()
    assert (data["subject"], data["period_end"], data["entered_by"]) == (
        "get-cover",
        "2026-09-30",
        tenant_a.editor.email,
    )
    listed = get(client_for(tenant_a.viewer), "manual-kpis/")
    assert [v["value"] for v in listed.json()["results"]] == [31.5]
    bad = send(editor, "post", "manual-kpis/", {**body, "subject": "nowhere"})
    assert bad.status_code == 400 and bad.json() == {"subject": ["No journey 'nowhere'."]}
    bad = send(editor, "post", "manual-kpis/", {**body, "period_start": "2026-07-05"})
    assert bad.status_code == 400 and "period_start" in bad.json()
    viewer = send(client_for(tenant_a.viewer), "post", "manual-kpis/", body)
    assert viewer.status_code == 403
    deleted = send(editor, "delete", f"manual-kpis/{data['id']}/")
    assert deleted.status_code == 204


def test_the_page_enters_a_value_and_names_bad_input(tenant_a, journey):
    url = reverse("manual_kpis", args=[tenant_a.org.slug])
    editor = client_for(tenant_a.editor)
    form = {
        "subject": f"journey:{journey.pk}",
        "key": "nps",
        "period_kind": "quarter",
        "period_start": "2026-07-01",
        "value": "31.5",
        "note": "",
    }
    assert editor.post(url, form).status_code == 302
    page = editor.get(url).content.decode()
    assert "Journey: Get cover" in page and "31.5" in page
    bad = editor.post(url, {**form, "value": "lots", "period_start": "July"})
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "Value: &#x27;lots&#x27; is not a number." in text
    assert "Period start: &#x27;July&#x27; is not a date (YYYY-MM-DD)." in text
    viewer = client_for(tenant_a.viewer)
    assert viewer.get(url).status_code == 200
    assert viewer.post(url, form).status_code == 403


EXTREME_PERIODS = [
    ("week", dt.date(9999, 12, 31)),  # its week ends in the year 10000
    ("week", dt.date(9999, 12, 27)),  # a Monday
    ("month", dt.date(9999, 12, 1)),
    ("quarter", dt.date(9999, 10, 1)),
    ("quarter", dt.date(1, 1, 1)),
    ("month", dt.date(1899, 12, 1)),
    ("week", dt.date(3000, 1, 6)),
]


@pytest.mark.parametrize(("kind", "start"), EXTREME_PERIODS)
def test_a_period_outside_the_supported_years_is_refused_naming_the_field(
    tenant_a, journey, kind, start
):
    with pytest.raises(ValidationError) as caught:
        enter(tenant_a.org, journey, period_kind=kind, period_start=start)
    assert caught.value.message_dict == {
        "period_start": [f"{start.isoformat()} is outside the years 1900 to 2999."]
    }


@pytest.mark.parametrize(("kind", "start"), EXTREME_PERIODS)
def test_the_api_and_the_page_refuse_a_period_outside_the_supported_years(
    tenant_a, journey, kind, start
):
    editor = client_for(tenant_a.editor)
    body = {
        "subject_type": "journey",
        "subject": "get-cover",
        "key": "nps",
        "period_kind": kind,
        "period_start": start.isoformat(),
        "value": 31.5,
    }
    answer = send(editor, "post", "manual-kpis/", body)
    assert answer.status_code == 400
    assert answer.json() == {
        "period_start": [f"{start.isoformat()} is outside the years 1900 to 2999."]
    }
    form = {
        "subject": f"journey:{journey.pk}",
        "key": "nps",
        "period_kind": kind,
        "period_start": start.isoformat(),
        "value": "31.5",
        "note": "",
    }
    page = editor.post(reverse("manual_kpis", args=[tenant_a.org.slug]), form)
    assert page.status_code == 400
    assert (
        f"Period start: {start.isoformat()} is outside the years 1900 to 2999."
        in page.content.decode()
    )
    with organization_context(tenant_a.org.pk):
        assert not ManualKpiValue.objects.filter(organization=tenant_a.org).exists()


def test_the_api_and_the_page_refuse_a_value_past_the_range_naming_the_field(tenant_a, journey):
    """A count, duration or amount is 0 or more, and at most 10^15 like every number
    people give the app; 1e308 was stored, and drawn past any chart's axis."""
    editor = client_for(tenant_a.editor)
    body = {
        "subject_type": "journey",
        "subject": "get-cover",
        "key": "claim_cost_avg",
        "period_kind": "quarter",
        "period_start": "2026-07-01",
        "value": 1e308,
    }
    answer = send(editor, "post", "manual-kpis/", body)
    assert (answer.status_code, answer.json()) == (
        400,
        {"value": ["Enter a number from -1e15 to 1e15."]},
    )
    answer = send(editor, "post", "manual-kpis/", {**body, "value": -1})
    assert answer.json() == {"value": ["Average claim cost is from 0 to 1e15; got -1."]}
    form = {
        "subject": f"journey:{journey.pk}",
        "key": "claim_cost_avg",
        "period_kind": "quarter",
        "period_start": "2026-07-01",
        "value": "1e16",
        "note": "",
    }
    page = editor.post(reverse("manual_kpis", args=[tenant_a.org.slug]), form)
    assert page.status_code == 400
    assert "Average claim cost is from 0 to 1e15; got 1e+16." in page.content.decode()
    with organization_context(tenant_a.org.pk):
        assert not ManualKpiValue.objects.filter(organization=tenant_a.org).exists()
    body["value"] = 1e15
    assert send(editor, "post", "manual-kpis/", body).status_code == 201
