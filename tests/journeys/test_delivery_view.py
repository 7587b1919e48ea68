"""The journey-to-delivery view, on a hand-made claim journey and its delivery streams.

P is 2026-Q3, [07-01 00:00Z, 10-01 00:00Z) (the organization is in UTC). The
journey is submit (entry) -> assess (work start) -> paid (conversion):

    submit  form      web     emotion  0   Claims > Intake          (no components)
            reminder  email   emotion +1   Digital delivery > Build (no components)
    assess  call      phone   emotion -1   Claims > Assessment      claims engine
            status    app     emotion -2   Claims > Assessment      member web
    paid    letter    letter  emotion +1   not linked to delivery

Claims (business) cascades to Claims delivery (Build touches the claims engine)
and Digital delivery (Build touches member web). Every expected number is worked
out beside its history.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from journeys.delivery_views import MIN_RESPONSES_TO_RANK, WEAKNESS_RULE
from journeys.models import Journey, JourneyStage, Touchpoint
from journeys.services import journey_save, journey_stage_save, touchpoint_save
from metrics.engine import Period, value_stream_metrics
from metrics.journey_delivery import stage_touchpoint_metrics
from portfolio.entities import entity_save
from portfolio.models import Component, Layer, Organization, Team
from portfolio.tenancy import organization_context
from streams.ingest import events_import
from streams.models import Stage, ValueStream
from streams.services import stage_add, stage_components_set, value_stream_save
from tests.conftest import Tenant, client_for

pytestmark = pytest.mark.django_db

Q3 = Period(dt.date(2026, 7, 1), dt.date(2026, 9, 30))
QUERY = "period=quarter&from=2026-07-01"  # the same period, as the page's picker asks for it


@dataclass
class Delivery:
    claims: ValueStream
    claims_delivery: ValueStream
    digital: ValueStream
    intake: Stage
    assessment: Stage
    claims_build: Stage
    digital_build: Stage
    engine: Component
    web: Component


def make_delivery(org: Organization) -> Delivery:
    with organization_context(org.pk):
        layer = Layer.objects.filter(organization=org).first()
        claims_team = entity_save(Team(slug="claims", name="Claims team"), organization=org)
        digital_team = entity_save(Team(slug="digital", name="Digital team"), organization=org)
        engine = entity_save(
            Component(slug="engine", name="Claims engine", layer=layer, team=claims_team),
            organization=org,
        )
        web = entity_save(
            Component(slug="web", name="Member web", layer=layer, team=digital_team),
            organization=org,
        )
        claims = value_stream_save(
            organization=org,
            value_stream=ValueStream(slug="claims", name="Claims", kind="business"),
        )
        claims_delivery = value_stream_save(
            organization=org,
            value_stream=ValueStream(slug="claims-delivery", name="Claims delivery", parent=claims),
        )
        digital = value_stream_save(
            organization=org,
            value_stream=ValueStream(slug="digital", name="Digital delivery", parent=claims),
        )
        intake = stage_add(organization=org, value_stream=claims, name="Intake")
        assessment = stage_add(organization=org, value_stream=claims, name="Assessment")
        stage_components_set(organization=org, stage=assessment, components=[engine, web])
        claims_build = stage_add(organization=org, value_stream=claims_delivery, name="Build")
        stage_components_set(organization=org, stage=claims_build, components=[engine])
        digital_build = stage_add(organization=org, value_stream=digital, name="Build")
        stage_components_set(organization=org, stage=digital_build, components=[web])
    return Delivery(
        claims,
        claims_delivery,
        digital,
        intake,
        assessment,
        claims_build,
        digital_build,
        engine,
        web,
    )


def make_claim_journey(org: Organization, d: Delivery, *, slug: str = "claim") -> Journey:
    """The journey of the module docstring."""
    with organization_context(org.pk):
        journey = journey_save(organization=org, journey=Journey(slug=slug, name="Make a claim"))
        stages = {
            name: journey_stage_save(
                organization=org,
                stage=JourneyStage(
                    journey=journey, slug=name, name=name.title(), pain_points=[f"{name} hurts"]
                ),
            )
            for name in ("submit", "assess", "paid")
        }
        for stage, tp_slug, channel, emotion, vs_stage, components in (
            ("submit", "form", "web", 0, d.intake, []),
            ("submit", "reminder", "email", 1, d.digital_build, []),
            ("assess", "call", "phone", -1, d.assessment, [d.engine]),
            ("assess", "status", "app", -2, d.assessment, [d.web]),
            ("paid", "letter", "letter", 1, None, []),
        ):
            touchpoint_save(
                organization=org,
                touchpoint=Touchpoint(
                    stage=stages[stage],
                    slug=tp_slug,
                    name=tp_slug.title(),
                    channel=channel,
                    emotion=emotion,
                    value_stream_stage=vs_stage,
                ),
                components=components,
            )
    return journey


JOURNEY_EVENTS = [
    # Surveys in P. form (stage and touchpoint named): 10, 9, 3: 2 promoters, 1
    # detractor of 3: NPS 100 * (2 - 1) / 3 = 33.3.
    "survey,2026-07-03T10:00:00Z,c-1,,10,submit,form",
    "survey,2026-07-04T10:00:00Z,c-2,,9,submit,form",
    "survey,2026-07-05T10:00:00Z,c-3,,3,submit,form",
    # call (touchpoint only): 10, 2, 1, 8: 1 promoter, 2 detractors of 4: -25.
    "survey,2026-07-06T10:00:00Z,c-4,,10,,call",
    "survey,2026-07-07T10:00:00Z,c-5,,2,,call",
    "survey,2026-07-08T10:00:00Z,c-6,,1,,call",
    "survey,2026-07-09T10:00:00Z,c-7,,8,,call",
    "survey,2026-06-30T23:59:59Z,c-8,,0,,call",  # before P
    # status: the same answers, -25 (a tie with call, broken by status's lower emotion).
    "survey,2026-08-06T10:00:00Z,c-4,,10,assess,status",
    "survey,2026-08-07T10:00:00Z,c-5,,2,assess,status",
    "survey,2026-08-08T10:00:00Z,c-6,,1,assess,status",
    "survey,2026-08-09T10:00:00Z,c-7,,8,assess,status",
    "survey,2026-10-01T00:00:00Z,c-9,,0,assess,status",  # P.end: outside
    # A survey of the assess stage at no touchpoint. The stage: call's 4, status's 4
    # and this one, 9 responses, 2 promoters, 5 detractors: 100 * (2 - 5) / 9 = -33.3.
    "survey,2026-09-01T10:00:00Z,c-10,,0,assess,",
    # Claims (instances by ref, F by customer):
    "stage_entered,2026-07-02T00:00:00Z,c-a,A,,submit,",
    "stage_entered,2026-07-05T00:00:00Z,c-a,A,,assess,",
    "stage_entered,2026-07-12T00:00:00Z,c-a,A,,paid,",
    "stage_entered,2026-07-03T00:00:00Z,c-b,B,,submit,",
    "stage_entered,2026-07-04T00:00:00Z,c-b,B,,assess,",
    "stage_entered,2026-07-10T00:00:00Z,c-c,C,,submit,",
    "stage_entered,2026-06-20T00:00:00Z,c-d,D,,submit,",
    "stage_entered,2026-07-01T12:00:00Z,c-d,D,,assess,",
    "stage_entered,2026-10-03T00:00:00Z,c-d,D,,paid,",
    "stage_entered,2026-09-29T00:00:00Z,c-e,E,,submit,",
    "stage_entered,2026-10-02T00:00:00Z,c-e,E,,assess,",
    "stage_entered,2026-07-20T00:00:00Z,c-f,,,submit,",
    "stage_entered,2026-07-21T00:00:00Z,c-f,,,submit,",  # a repeat entry: not a new one
    "stage_entered,2026-07-25T00:00:00Z,c-f,,,assess,",
]
# submit: cohort (first entry in P) A, B, C, E, F = 5 (D entered in June); moved on
# to a later stage before P.end: A, B, F = 3 (E only on 10-02): 60 %. Time in
# stage over those who left it in P: B 1, A 3, F 5 (from the first entry 07-20),
# D 11.5 days (entered in June, left 07-01 12:00): median (3 + 5) / 2 = 4 days.
# assess: cohort A, B, D, F = 4 (E's entry is after P.end); moved on before P.end:
# A only (D paid 10-03): 25 %. Left in P: A, 7 days: median 7.
# paid: the last stage, nothing later: conversion and time in stage undefined.

DELIVERY_EVENTS = {
    "flow_items": [
        "CD-1,feature,,claims-delivery,2026-06-01T00:00:00Z",
        "CD-2,defect,,claims-delivery,2026-06-01T00:00:00Z",
        "CD-3,feature,,claims-delivery,2026-06-01T00:00:00Z",
        "DD-1,feature,,digital,2026-06-01T00:00:00Z",
    ],
    "flow_transitions": [
        # CD-1: active 07-01 .. done 07-05: flow 4 days, all active.
        "CD-1,2026-07-01T00:00:00Z,active",
        "CD-1,2026-07-05T00:00:00Z,done",
        # CD-2: active 2 days, waiting 2, active 2: flow 6 days, 4 active.
        "CD-2,2026-07-02T00:00:00Z,active",
        "CD-2,2026-07-04T00:00:00Z,waiting",
        "CD-2,2026-07-06T00:00:00Z,active",
        "CD-2,2026-07-08T00:00:00Z,done",
        # CD-3: still active at P.end: flow load 1.
        "CD-3,2026-09-20T00:00:00Z,active",
        # DD-1: active 07-10 .. done 07-20: 10 days, all active.
        "DD-1,2026-07-10T00:00:00Z,active",
        "DD-1,2026-07-20T00:00:00Z,done",
    ],
    "deployments": [
        "D-1,claims-delivery,production,2026-07-05T00:00:00Z,success",
        "D-2,claims-delivery,production,2026-07-06T00:00:00Z,success",
        "D-3,claims-delivery,production,2026-07-07T00:00:00Z,success",
        "D-4,claims-delivery,production,2026-07-08T00:00:00Z,failure",
        "D-5,claims-delivery,staging,2026-07-08T00:00:00Z,failure",  # not production
    ],
    "incidents": ["I-1,claims-delivery,2026-07-10T00:00:00Z,2026-07-10T02:00:00Z,"],
}
HEADERS = {
    "journey_events": "key,journey,type,at,customer,ref,value,stage,touchpoint",
    "flow_items": "key,type,title,value_stream,created_at",
    "flow_transitions": "key,at,state",
    "deployments": "key,value_stream,environment,deployed_at,status",
    "incidents": "key,value_stream,opened_at,resolved_at,deployment",
}
# Claims delivery: done 4 and 6 days: median 5; load 1; efficiency (4 + 4) / 10 = 80 %;
# change failure rate 1 of 4 production deployments = 25 % (2023: low, more than
# 15 %); time to restore 2 hours (2023: high, less than a day).
# Digital delivery: 10 days, load 0, efficiency 100 %, no deployments or incidents.
# Claims, rolled up over both: 4, 6, 10: median 6; load 1; (4 + 4 + 10) / 20 = 90 %.


def import_rows(org: Organization, kind: str, rows: list[str], journey: str = "") -> None:
    lines = [f"K-{n},{journey},{row}" for n, row in enumerate(rows, 1)] if journey else rows
    with organization_context(org.pk):
        events_import(
            organization=org, kind=kind, rows=io.StringIO("\n".join([HEADERS[kind], *lines]))
        )


@pytest.fixture
def claim(tenant_a: Tenant) -> tuple[Journey, Delivery]:
    org = tenant_a.org
    d = make_delivery(org)
    journey = make_claim_journey(org, d)
    import_rows(org, "journey_events", JOURNEY_EVENTS, journey="claim")
    for kind, rows in DELIVERY_EVENTS.items():
        import_rows(org, kind, rows)
    return journey, d


def url(journey: Journey, query: str = QUERY) -> str:
    return f"/o/org-a/journeys/{journey.pk}/delivery/?{query}"


def touchpoint_order(html: str) -> list[str]:
    return re.findall(r'class="jd-tp"[^>]*data-touchpoint="([\w-]+)"', html)


def touchpoint_markup(html: str, slug: str) -> str:
    """One touchpoint's row, up to the next row or the end of its stage."""
    start = html.index(f'data-touchpoint="{slug}"')
    ends = [i for i in (html.find("<li ", start), html.find("</section>", start)) if i > 0]
    return html[start : min(ends)]


def rows_by_slug(response) -> dict:
    return {
        row.touchpoint.slug: row
        for group in response.context["groups"]
        for row in group.touchpoints
    }


# --- The numbers -------------------------------------------------------------------------


def test_touchpoint_and_stage_kpis_are_exact(claim, tenant_a):
    journey, _ = claim
    with organization_context(tenant_a.org.pk):
        m = stage_touchpoint_metrics(organization=tenant_a.org, journey_ids=[journey.pk], period=Q3)
        tps = {tp.slug: tp.pk for tp in Touchpoint.objects.filter(journey=journey)}
        stages = {s.slug: s.pk for s in JourneyStage.objects.filter(journey=journey)}
    assert m.touchpoints[tps["form"]] == {"nps": pytest.approx(100 / 3), "responses": 3}
    assert m.touchpoints[tps["call"]] == {"nps": -25.0, "responses": 4}
    assert m.touchpoints[tps["status"]] == {"nps": -25.0, "responses": 4}
    # No responses: NPS undefined, never 0.
    assert m.touchpoints[tps["letter"]] == {"nps": None, "responses": 0}
    assert m.touchpoints[tps["reminder"]] == {"nps": None, "responses": 0}
    assert m.stages[stages["submit"]] == {
        "nps": pytest.approx(100 / 3),
        "responses": 3,
        "stage_conversion": 60.0,
        "time_in_stage_median_days": 4.0,
    }
    assert m.stages[stages["assess"]] == {
        "nps": pytest.approx(-100 / 3),
        "responses": 9,
        "stage_conversion": 25.0,
        "time_in_stage_median_days": 7.0,
    }
    assert m.stages[stages["paid"]] == {
        "nps": None,
        "responses": 0,
        "stage_conversion": None,
        "time_in_stage_median_days": None,
    }


def test_another_organizations_events_do_not_count(claim, tenant_a, tenant_b):
    journey, _ = claim
    # The same journey and history in B: A's numbers stay those of A's events alone.
    make_claim_journey(tenant_b.org, make_delivery(tenant_b.org))
    import_rows(tenant_b.org, "journey_events", JOURNEY_EVENTS[:3], journey="claim")
    with organization_context(tenant_a.org.pk):
        m = stage_touchpoint_metrics(organization=tenant_a.org, journey_ids=[journey.pk], period=Q3)
        form = Touchpoint.objects.get(journey=journey, slug="form").pk
    assert m.touchpoints[form]["responses"] == 3


def test_the_page_shows_the_kpis_of_each_stage_and_touchpoint(claim, tenant_a):
    journey, _ = claim
    response = client_for(tenant_a.viewer).get(url(journey))
    assert response.status_code == 200
    html = response.content.decode()
    rows = rows_by_slug(response)
    assert rows["call"].nps_display == "\u221225"
    assert rows["form"].nps_display == "+33"
    assert rows["letter"].nps_display == "—"
    groups = {g.stage.slug: g for g in response.context["groups"]}
    assert (groups["submit"].conversion_display, groups["submit"].time_in_stage_display) == (
        "60%",
        "4.0 days",
    )
    assert (groups["assess"].nps_display, groups["assess"].responses) == ("\u221233", 9)
    assert groups["paid"].conversion_display == "—"
    # Emotion as a labelled chip, the channel, the stage's pain points.
    status = touchpoint_markup(html, "status")
    assert "very negative" in status
    assert "App" in status
    assert "assess hurts" in html
    assert "2026-Q3" in html


def test_weakest_touchpoints_come_first(claim, tenant_a):
    journey, _ = claim
    response = client_for(tenant_a.viewer).get(url(journey))
    html = response.content.decode()
    # status and call tie at NPS -25; status's emotion (-2) is lower than call's (-1).
    # form (+33) follows. reminder and letter have no responses and the same emotion
    # (+1): reminder's stage converts 60 %, letter's conversion is undefined (last).
    # Stages follow their weakest touchpoint: assess, submit, paid.
    assert touchpoint_order(html) == ["status", "call", "form", "reminder", "letter"]
    assert [g.stage.slug for g in response.context["groups"]] == ["assess", "submit", "paid"]
    ranks = {slug: row.rank for slug, row in rows_by_slug(response).items()}
    assert ranks == {"status": 1, "call": 2, "form": 3, "reminder": 4, "letter": 5}
    assert WEAKNESS_RULE in html
    assert "lowest touchpoint NPS first" in WEAKNESS_RULE


def test_a_touchpoint_with_too_few_responses_is_not_ranked_weakest(claim, tenant_a):
    """One detractor at letter: NPS -100 from a single response. Below
    MIN_RESPONSES_TO_RANK it ranks as a touchpoint without an NPS (after every one
    with enough responses), and the page says so, with the count beside the figure."""
    journey, _ = claim
    import_rows(
        tenant_a.org,
        "journey_events",
        ["survey,2026-09-02T10:00:00Z,c-11,,0,paid,letter"],
        journey="claim",
    )
    assert MIN_RESPONSES_TO_RANK > 1
    response = client_for(tenant_a.viewer).get(url(journey))
    html = response.content.decode()
    rows = rows_by_slug(response)
    assert (rows["letter"].nps_display, rows["letter"].responses) == ("\u2212100", 1)
    # As before the response: letter after reminder (same emotion; its stage's
    # conversion is undefined).
    assert touchpoint_order(html) == ["status", "call", "form", "reminder", "letter"]
    assert {slug: row.rank for slug, row in rows.items()}["letter"] == 5
    assert not rows["letter"].ranked and rows["status"].ranked
    letter = touchpoint_markup(html, "letter")
    assert re.search(r'class="jd-nps">\u2212100</span>\s*<small[^>]*>1 response</small>', letter)
    assert "too few responses to rank" in letter
    status = touchpoint_markup(html, "status")
    assert re.search(r'class="jd-nps">\u221225</span>\s*<small[^>]*>4 responses</small>', status)
    assert "too few responses to rank" not in status
    assert f"fewer than {MIN_RESPONSES_TO_RANK} survey responses" in WEAKNESS_RULE


def test_journey_order_keeps_the_ranks(claim, tenant_a):
    journey, _ = claim
    response = client_for(tenant_a.viewer).get(url(journey, QUERY + "&order=journey"))
    html = response.content.decode()
    assert touchpoint_order(html) == ["form", "reminder", "call", "status", "letter"]
    assert re.search(r'data-touchpoint="status" data-rank="1"', html)


def test_delivery_numbers_are_the_engines_for_the_same_period(claim, tenant_a):
    journey, d = claim
    response = client_for(tenant_a.viewer).get(url(journey))
    rows = rows_by_slug(response)
    with organization_context(tenant_a.org.pk):
        engine = value_stream_metrics(
            organization=tenant_a.org,
            value_stream_ids=[d.claims.pk, d.claims_delivery.pk, d.digital.pk],
            period=Q3,
        )
    # call is served by Claims (rolled up) and, through the claims engine, by
    # Claims delivery; status by Claims and, through member web, Digital delivery.
    assert [(s.stream.name, [c.name for c in s.via]) for s in rows["call"].streams] == [
        ("Claims", []),
        ("Claims delivery", ["Claims engine"]),
    ]
    assert [s.stream.name for s in rows["status"].streams] == ["Claims", "Digital delivery"]
    assert [s.stream.name for s in rows["reminder"].streams] == ["Digital delivery"]
    for row in rows.values():
        for shown in row.streams:
            for m in shown.metrics:
                assert m.value == engine[shown.stream.pk][m.key], (shown.stream.name, m.key)
    # The hand-worked values behind them.
    claims = {m.key: m for m in rows["call"].streams[0].metrics}
    assert claims["flow_time_median_days"].value == 6.0
    assert claims["flow_load"].value == 1
    assert claims["flow_efficiency"].value == 90.0
    team = {m.key: m for m in rows["call"].streams[1].metrics}
    assert (team["flow_time_median_days"].display, team["flow_efficiency"].display) == ("5.0", "80")
    assert (team["change_failure_rate"].value, team["change_failure_rate"].band) == (25.0, "low")
    assert (
        team["time_to_restore_median_hours"].value,
        team["time_to_restore_median_hours"].band,
    ) == (
        2.0,
        "high",
    )
    digital = {m.key: m for m in rows["status"].streams[1].metrics}
    assert digital["change_failure_rate"].value is None
    assert digital["change_failure_rate"].band is None


def test_every_delivery_number_links_to_its_streams_dashboard_for_the_period(claim, tenant_a):
    journey, d = claim
    html = client_for(tenant_a.viewer).get(url(journey)).content.decode()
    call = touchpoint_markup(html, "call")
    cells = re.findall(r'<td class="num" data-metric="(\w+)"><a href="([^"]+)"', call)
    assert len(cells) == 2 * 5  # Claims and Claims delivery, five metrics each
    expected = {
        f"/o/org-a/streams/{pk}/dashboard/?{QUERY.replace('&', '&amp;')}"
        for pk in (d.claims.pk, d.claims_delivery.pk)
    }
    assert {href for _, href in cells} == expected
    assert "Claims team" in call  # the team owning the claims engine
    assert "Member web" in call  # on the Assessment stage, beside the touchpoint's own


def test_unlinked_touchpoints_say_so_and_link_to_their_edit_form(claim, tenant_a):
    journey, _ = claim
    with organization_context(tenant_a.org.pk):
        letter = Touchpoint.objects.get(journey=journey, slug="letter")
    editor_html = client_for(tenant_a.editor).get(url(journey)).content.decode()
    row = touchpoint_markup(editor_html, "letter")
    assert "Not linked to delivery" in row
    assert f'href="/o/org-a/journeys/touchpoints/{letter.pk}/edit/"' in row
    assert "<table" not in row
    # A viewer may not edit: the row points to the journey map instead.
    viewer_row = touchpoint_markup(
        client_for(tenant_a.viewer).get(url(journey)).content.decode(), "letter"
    )
    assert "/edit/" not in viewer_row
    assert f"/o/org-a/journeys/{journey.pk}/#touchpoint-{letter.pk}" in viewer_row


def queries(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_touchpoints(claim, tenant_a):
    journey, d = claim
    org = tenant_a.org
    big = make_claim_journey(org, d, slug="big")
    with organization_context(org.pk):
        stages = list(JourneyStage.objects.filter(journey=big))
        for n in range(30):
            touchpoint_save(
                organization=org,
                touchpoint=Touchpoint(
                    stage=stages[n % 3],
                    name=f"Extra {n}",
                    emotion=n % 5 - 2,
                    value_stream_stage=[d.assessment, d.claims_build, d.digital_build, None][n % 4],
                ),
                components=[[d.engine], [d.web], [d.engine, d.web]][n % 3],
            )
    client = client_for(tenant_a.viewer)
    assert queries(client, url(journey)) == queries(client, url(big))


def test_another_organizations_journey_is_404_like_a_missing_one(claim, tenant_a, tenant_b):
    theirs = make_claim_journey(tenant_b.org, make_delivery(tenant_b.org))
    client = client_for(tenant_a.viewer)
    assert client.get(url(theirs)).status_code == 404
    missing = Journey(pk=theirs.pk + 1000)
    assert client.get(url(missing)).status_code == 404
    # B's own members see it; people outside A see nothing of A's.
    assert client_for(tenant_b.viewer).get(url(theirs).replace("org-a", "org-b")).status_code == 200
    journey, _ = claim
    assert client_for(tenant_b.admin).get(url(journey)).status_code == 404


def test_a_bad_period_falls_back_to_the_current_quarter_with_a_message(claim, tenant_a):
    journey, _ = claim
    response = client_for(tenant_a.viewer).get(url(journey, "period=fortnight"))
    assert response.status_code == 200
    assert "period: &#x27;fortnight&#x27; is not one of quarter, month, custom" in (
        response.content.decode()
    )


# --- Links from the other pages -------------------------------------------------------


def test_the_journey_map_links_to_the_delivery_view(claim, tenant_a):
    journey, _ = claim
    html = client_for(tenant_a.viewer).get(f"/o/org-a/journeys/{journey.pk}/").content.decode()
    assert f'href="/o/org-a/journeys/{journey.pk}/delivery/"' in html


def test_the_value_stream_page_lists_the_touchpoints_it_and_its_children_serve(claim, tenant_a):
    journey, d = claim
    client = client_for(tenant_a.viewer)
    html = client.get(f"/o/org-a/streams/{d.claims.pk}/").content.decode()
    served = re.findall(r'<tr data-touchpoint="([\w-]+)">', html)
    # Its own stages serve form, call and status; Digital delivery, which it
    # cascades to, serves reminder. letter is served by no stage.
    assert served == ["form", "reminder", "call", "status"]
    delivery = f"/o/org-a/journeys/{journey.pk}/delivery/"
    with organization_context(tenant_a.org.pk):
        call = Touchpoint.objects.get(journey=journey, slug="call")
    assert f'href="{delivery}#touchpoint-{call.pk}"' in html
    assert (
        f'<a href="{delivery}">Make a claim</a> <span class="muted">(4 touchpoints)</span>' in html
    )
    assert "Digital delivery</a> \u203a Build" in html  # a single right angle quote
    # The child's page lists only what its own stages serve.
    child = client.get(f"/o/org-a/streams/{d.digital.pk}/").content.decode()
    assert re.findall(r'<tr data-touchpoint="([\w-]+)">', child) == ["reminder"]


def test_the_value_stream_page_query_count_does_not_grow_with_served_touchpoints(claim, tenant_a):
    _, d = claim
    client = client_for(tenant_a.viewer)
    before = queries(client, f"/o/org-a/streams/{d.claims.pk}/")
    make_claim_journey(tenant_a.org, d, slug="second")
    make_claim_journey(tenant_a.org, d, slug="third")
    assert queries(client, f"/o/org-a/streams/{d.claims.pk}/") == before
