"""The journey dashboard and its events drill-down: the funnel, time in each stage and NPS
(per week, per touchpoint) on a small hand-made history, the KPI tiles with their
changes and trends, the period picker, tenancy and query counts.

P is 2026-Q3, [07-01 00:00Z, 10-01 00:00Z); the previous period is 2026-Q2. The
journey (tests.journeys.helpers) is submit (entry) -> assess (work start) -> paid
(conversion), with the touchpoint 'form' in submit and 'call' in assess.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import xml.etree.ElementTree as ET

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from journeys.models import Journey, JourneyStage, Touchpoint
from journeys.services import journey_stage_save, touchpoint_save
from metrics import charts, journey_series
from metrics.engine import Period
from metrics.journey_kpis import JOURNEY_KEYS, journey_metrics
from metrics.models import KpiSnapshot
from portfolio.tenancy import organization_context
from streams.ingest import events_import
from tests.conftest import client_for
from tests.journeys.helpers import build_journey

pytestmark = pytest.mark.django_db

Q3 = "period=quarter&from=2026-07-01"
Q3_PERIOD = Period(dt.date(2026, 7, 1), dt.date(2026, 9, 30))
HEADER = "key,journey,type,at,customer,ref,value,stage,touchpoint\n"

# Instances (the ref, else the customer) moving through the stages.
STAGES = [
    # A: enters 07-02, assessed 07-12, paid 07-20.
    "stage_entered,2026-07-02T00:00:00Z,c-1,A,,submit,",
    "stage_entered,2026-07-12T00:00:00Z,c-1,A,,assess,",
    "stage_entered,2026-07-20T00:00:00Z,c-1,A,,paid,",
    # B: enters 08-01, goes no further.
    "stage_entered,2026-08-01T00:00:00Z,c-1,B,,submit,",
    # C: entered before P (06-15): not in Q3's cohort; assessed 07-07, paid 07-10.
    "stage_entered,2026-06-15T00:00:00Z,c-2,C,,submit,",
    "stage_entered,2026-07-07T00:00:00Z,c-2,C,,assess,",
    "stage_entered,2026-07-10T00:00:00Z,c-2,C,,paid,",
    # D: enters 09-25, paid 10-02, after P's end.
    "stage_entered,2026-09-25T00:00:00Z,c-3,D,,submit,",
    "stage_entered,2026-10-02T00:00:00Z,c-3,D,,paid,",
    # c-9, no ref (the customer is the instance): 07-03, 07-04, 07-06.
    "stage_entered,2026-07-03T00:00:00Z,c-9,,,submit,",
    "stage_entered,2026-07-04T00:00:00Z,c-9,,,assess,",
    "stage_entered,2026-07-06T00:00:00Z,c-9,,,paid,",
    # F: enters 07-05 and is paid 07-09 without an assessment.
    "stage_entered,2026-07-05T00:00:00Z,c-4,F,,submit,",
    "stage_entered,2026-07-09T00:00:00Z,c-4,F,,paid,",
    # G: an assessment 07-01 before it ever entered (07-08), assessed again 07-11.
    "stage_entered,2026-07-01T00:00:00Z,c-5,G,,assess,",
    "stage_entered,2026-07-08T00:00:00Z,c-5,G,,submit,",
    "stage_entered,2026-07-11T00:00:00Z,c-5,G,,assess,",
    # H: entered 06-01, assessed 06-05 (it left submit in Q2), paid 07-15.
    "stage_entered,2026-06-01T00:00:00Z,c-6,H,,submit,",
    "stage_entered,2026-06-05T00:00:00Z,c-6,H,,assess,",
    "stage_entered,2026-07-15T00:00:00Z,c-6,H,,paid,",
]
# July 1 2026 is a Wednesday: the first chart week (Monday 06-29) is cut to 07-01..07-05.
SURVEYS = [
    "survey,2026-07-01T10:00:00Z,s-1,,10,submit,form",  # week 06-29, promoter
    "survey,2026-07-02T10:00:00Z,s-2,,9,submit,form",  # week 06-29, promoter
    "survey,2026-07-03T10:00:00Z,s-3,,3,assess,call",  # week 06-29, detractor
    "survey,2026-07-07T10:00:00Z,s-4,,6,assess,call",  # week 07-06, detractor
    "survey,2026-07-08T10:00:00Z,s-5,,8,assess,call",  # week 07-06, passive
    # (week 07-13: no response)
    "survey,2026-07-21T10:00:00Z,s-6,,9,,",  # week 07-20, promoter, no touchpoint
    # Q2: 10, 10, 9, 0: 3 promoters, 1 detractor.
    "survey,2026-05-01T10:00:00Z,s-7,,10,,",
    "survey,2026-05-02T10:00:00Z,s-8,,10,,",
    "survey,2026-05-03T10:00:00Z,s-9,,9,,",
    "survey,2026-05-04T10:00:00Z,s-10,,0,,",
]
CLAIMS = [
    "claim_paid,2026-07-20T12:00:00Z,c-1,A,1000,,",
    "claim_paid,2026-07-10T12:00:00Z,c-2,C,2000,,",
    "claim_paid,2026-05-10T12:00:00Z,c-7,Z,2000,,",  # Q2
]


def load(org, slug: str, rows: list[str], prefix: str = "") -> None:
    """Import the rows (``type,at,customer,ref,value,stage,touchpoint``) into journey
    ``slug`` through the ingestion service, keys numbered."""
    text = HEADER + "".join(f"{prefix}K-{n},{slug},{row}\n" for n, row in enumerate(rows, start=1))
    with organization_context(org.pk):
        events_import(organization=org, kind="journey_events", rows=io.StringIO(text))


def build(org, slug: str = "claim", prefix: str = "") -> Journey:
    """The journey with the history above (event keys are unique in an organization:
    a second journey's need a prefix)."""
    journey = build_journey(org, slug)
    load(org, slug, STAGES + SURVEYS + CLAIMS, prefix)
    return journey


def dashboard_url(org, journey, query: str = Q3) -> str:
    return reverse("journey_dashboard", args=[org.slug, journey.pk]) + "?" + query


def events_url(org, journey, query: str = Q3) -> str:
    return reverse("journey_dashboard_events", args=[org.slug, journey.pk]) + "?" + query


def stage(org, journey, slug: str) -> JourneyStage:
    with organization_context(org.pk):
        return JourneyStage.objects.get(organization=org, journey=journey, slug=slug)


def touchpoint(org, journey, slug: str) -> Touchpoint:
    with organization_context(org.pk):
        return Touchpoint.objects.get(organization=org, journey=journey, slug=slug)


def tiles(response) -> dict[str, dict]:
    return {t["key"]: t for t in response.context["tiles"]}


def test_funnel_follows_the_cohort_of_the_period(tenant_a):
    org = tenant_a.org
    journey = build(org)
    response = client_for(tenant_a.viewer).get(dashboard_url(org, journey))
    assert response.status_code == 200
    funnel = response.context["funnel"]
    # Cohort (first submit in Q3): A, B, D, c-9, F, G = 6. C and H entered in Q2.
    assert funnel.cohort == 6
    # submit: all 6. assess at or after their first entry: A, c-9, G (07-11; its
    # 07-01 assessment came before its entry) = 3. paid before P.end: A, c-9, F = 3
    # (D's payment is in October).
    assert [(s.name, s.reached) for s in funnel.stages] == [
        ("submit", 6),
        ("assess", 3),
        ("paid", 3),
    ]
    assert [s.percent for s in funnel.stages] == [100.0, 50.0, 50.0]
    # The conversion stage's share is the conversion rate: 100 * 3 / 6.
    assert tiles(response)["conversion_rate"]["value"] == 50.0


def test_median_time_in_each_stage(tenant_a):
    org = tenant_a.org
    journey = build(org)
    with organization_context(org.pk):
        times = journey_series.journey_stage_times(
            organization=org, journey_id=journey.pk, period=Q3_PERIOD
        )
    submit, assess, paid = (stage(org, journey, s).pk for s in ("submit", "assess", "paid"))
    # submit, from the first entry to the first later-stage event at or after it, for
    # exits in Q3: A 07-02 -> 07-12 = 10 d, C 06-15 -> 07-07 = 22 d, c-9 07-03 -> 07-04
    # = 1 d, F 07-05 -> 07-09 (paid) = 4 d, G 07-08 -> 07-11 = 3 d (not its 07-01
    # assessment, which came before). H left in Q2, B never, D's exit is in October.
    # 1, 3, 4, 10, 22: median 4.
    assert times[submit].exits == 5 and times[submit].median_days == 4.0
    # assess: A 07-12 -> 07-20 = 8 d, C 07-07 -> 07-10 = 3 d, c-9 07-04 -> 07-06 = 2 d,
    # H 06-05 -> 07-15 = 40 d (its exit is in Q3); G never left. 2, 3, 8, 40: the
    # median is halfway between 3 and 8, 5.5.
    assert times[assess].exits == 4 and times[assess].median_days == 5.5
    # paid is the last stage: there is no later stage to leave for.
    assert paid not in times
    page = client_for(tenant_a.viewer).get(dashboard_url(org, journey)).content.decode()
    assert ">5.5<" in page and ">4.0<" in page


def test_nps_per_week_leaves_gaps_for_weeks_without_responses(tenant_a):
    org = tenant_a.org
    journey = build(org)
    response = client_for(tenant_a.viewer).get(dashboard_url(org, journey))
    weeks = {w["monday"]: w for w in response.context["weeks"]}
    # Week of 06-29 (07-01..07-05 in P): 10, 9, 3: 100 * (2 - 1) / 3.
    assert weeks[dt.date(2026, 6, 29)]["nps"] == pytest.approx(100 / 3)
    assert weeks[dt.date(2026, 6, 29)]["responses"] == 3
    assert weeks[dt.date(2026, 6, 29)]["query"] == "period=custom&from=2026-07-01&to=2026-07-05"
    # Week of 07-06: 6, 8: 100 * (0 - 1) / 2.
    assert weeks[dt.date(2026, 7, 6)]["nps"] == -50.0
    # Week of 07-13: nobody answered: a gap, not a zero.
    assert weeks[dt.date(2026, 7, 13)]["nps"] is None
    assert weeks[dt.date(2026, 7, 13)]["responses"] == 0
    # Week of 07-20: one promoter.
    assert weeks[dt.date(2026, 7, 20)]["nps"] == 100.0
    # 14 Mondays from 06-29 to 09-28.
    assert len(weeks) == 14


def test_nps_per_touchpoint_worst_first_with_response_counts(tenant_a):
    org = tenant_a.org
    journey = build(org)
    response = client_for(tenant_a.viewer).get(dashboard_url(org, journey))
    rows = [(r["name"], r["responses"], r["nps"]) for r in response.context["touchpoints"]]
    # call: 3, 6, 8: 100 * (0 - 2) / 3. form: 10, 9: 100. No touchpoint: 9: 100, one
    # response, so after form's two.
    assert rows == [("call", 3, pytest.approx(-200 / 3)), ("form", 2, 100.0), ("", 1, 100.0)]
    page = response.content.decode()
    call = touchpoint(org, journey, "call")
    assert f"type=survey&amp;touchpoint={call.pk}" in page
    assert "type=survey&amp;touchpoint=none" in page


def test_tiles_show_every_kpi_with_its_change_judged_by_direction(tenant_a):
    org = tenant_a.org
    journey = build(org)
    t = tiles(client_for(tenant_a.viewer).get(dashboard_url(org, journey)))
    assert tuple(t) == JOURNEY_KEYS
    # NPS Q3: 10, 9, 3, 6, 8, 9: 100 * (3 - 2) / 6 = 16.7; Q2: 10, 10, 9, 0:
    # 100 * (3 - 1) / 4 = 50. A score through zero changes in points, not percent:
    # 16.7 - 50 = -33.3 points, worse (up is better).
    assert t["nps"]["value"] == pytest.approx(100 / 6)
    assert t["nps"]["display"] == "17" and t["nps"]["previous_display"] == "50"
    nps = (t["nps"]["change"], t["nps"]["arrow"], t["nps"]["judgement"])
    assert nps == ("33 points", "▼", "bad")
    # Average claim: Q3 (1000 + 2000) / 2 = 1500, Q2 2000: -25%, better (down is better).
    claim = t["claim_cost_avg"]
    assert claim["display"] == "1,500.00"
    assert (claim["change"], claim["arrow"], claim["judgement"]) == ("25%", "▼", "good")
    # Conversion Q2: cohort C and H, neither paid before 07-01: 0%. A percent change
    # from 0 is undefined: the change is the difference, in points.
    conversion = t["conversion_rate"]
    assert (conversion["display"], conversion["previous_display"]) == ("50", "0")
    assert (conversion["change"], conversion["arrow"], conversion["judgement"]) == (
        "50 points",
        "▲",
        "good",
    )


def test_null_kpis_show_a_dash_with_a_note_never_zero(tenant_a):
    org = tenant_a.org
    journey = build(org)
    response = client_for(tenant_a.viewer).get(dashboard_url(org, journey))
    t = tiles(response)
    # No case_resolved, renewal_due, acquired or acquisition_cost events at all.
    for key in ("fcr", "renewal_rate", "retention_rate", "cost_per_acquisition"):
        assert t[key]["value"] is None and t[key]["display"] == "—"
    page = response.content.decode()
    tile = re.search(r'data-metric="fcr">.*?</div>', page, re.S)[0]
    assert "no data: nothing to measure in this period" in tile
    assert ">0<" not in tile


def test_an_empty_journey_has_an_empty_funnel_and_charts(tenant_a):
    org = tenant_a.org
    journey = build_journey(org, "empty")
    response = client_for(tenant_a.viewer).get(dashboard_url(org, journey))
    funnel = response.context["funnel"]
    assert funnel.cohort == 0
    assert [(s.reached, s.percent) for s in funnel.stages] == [(0, None)] * 3
    page = response.content.decode()
    assert "No data in this period" in page  # the NPS chart
    assert "the funnel has nothing to measure" in page
    assert all(t["value"] is None for t in response.context["tiles"])


def _snapshot(org, journey, kind: str, start: dt.date, end: dt.date, **values) -> None:
    stored = dict.fromkeys(JOURNEY_KEYS)
    stored.update(values)
    with organization_context(org.pk):
        KpiSnapshot.objects.create(
            organization=org,
            journey=journey,
            period_kind=kind,
            period_start=start,
            period_end=end,
            values=stored,
        )


def test_whole_quarters_read_stored_snapshots_and_custom_ranges_compute_live(tenant_a):
    org = tenant_a.org
    journey = build(org)
    _snapshot(org, journey, "quarter", dt.date(2026, 7, 1), dt.date(2026, 9, 30), nps=40)
    _snapshot(org, journey, "quarter", dt.date(2026, 4, 1), dt.date(2026, 6, 30), nps=20)
    client = client_for(tenant_a.viewer)
    t = tiles(client.get(dashboard_url(org, journey)))
    assert t["nps"]["value"] == 40 and t["nps"]["change"] == "20 points"
    assert t["nps"]["judgement"] == "good"
    live = tiles(
        client.get(dashboard_url(org, journey, "period=custom&from=2026-07-01&to=2026-09-30"))
    )
    assert live["nps"]["value"] == pytest.approx(100 / 6)


def test_trend_lines_read_the_last_six_month_snapshots(tenant_a):
    org = tenant_a.org
    journey = build(org)
    # Months up to September (Q3's last): April .. September; June has no snapshot and
    # March is too early to show.
    for month, nps in ((3, 99), (4, 10), (5, 20), (7, 30), (8, 35), (9, 40)):
        start = dt.date(2026, month, 1)
        end = dt.date(2026, month + 1, 1) - dt.timedelta(days=1)
        _snapshot(org, journey, "month", start, end, nps=nps)
    t = tiles(client_for(tenant_a.viewer).get(dashboard_url(org, journey)))
    title = ET.fromstring(t["nps"]["trend"]).find("{http://www.w3.org/2000/svg}title").text  # noqa: S314
    assert title == (
        "Net Promoter Score by month: Apr 2026 10, May 2026 20, Jun 2026 —, "
        "Jul 2026 30, Aug 2026 35, Sep 2026 40"
    )
    assert "no monthly values" in t["fcr"]["trend"]


def test_a_quarter_in_progress_is_computed_live_to_date(tenant_a, monkeypatch):
    # Today is 2026-08-15: Q3 so far is 07-01..08-15, 46 days (31 + 15); the previous
    # quarter's first 46 days are 04-01..05-16 (30 + 16).
    monkeypatch.setattr(
        "streams.dashboard_views.timezone.localdate", lambda *args: dt.date(2026, 8, 15)
    )
    org = tenant_a.org
    journey = build(org)
    _snapshot(org, journey, "quarter", dt.date(2026, 7, 1), dt.date(2026, 9, 30), nps=40)
    response = client_for(tenant_a.viewer).get(dashboard_url(org, journey, ""))
    choice = response.context["choice"]
    assert choice.label == "2026-Q3 to date"
    assert choice.previous.date_to == dt.date(2026, 5, 16)
    # Live, not the stored whole-quarter snapshot; the NPS weeks stop at today's.
    assert tiles(response)["nps"]["value"] == pytest.approx(100 / 6)
    assert response.context["weeks"][-1]["monday"] == dt.date(2026, 8, 10)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("period=custom&from=2026-13-01&to=2026-04-01", "from: '2026-13-01' is not a date"),
        ("period=decade", "period: 'decade' is not one of"),
    ],
)
def test_bad_periods_give_a_message_and_the_current_quarter(tenant_a, query, message):
    org = tenant_a.org
    journey = build_journey(org)
    client = client_for(tenant_a.viewer)
    for url in (dashboard_url(org, journey, query), events_url(org, journey, query)):
        response = client.get(url)
        assert response.status_code == 200
        assert html.escape(message) in response.content.decode()
        assert response.context["choice"].kind == "quarter"


def keys(response) -> list[str]:
    return [e.key for e in response.context["page_obj"]]


def test_events_drill_down_filters_by_type_stage_and_touchpoint(tenant_a):
    org = tenant_a.org
    journey = build(org)
    client = client_for(tenant_a.viewer)
    # The 6 survey responses of Q3 (keys: STAGES has 20 rows, so SURVEYS are K-21..),
    # newest first; Q2's four are outside the period.
    surveys = client.get(events_url(org, journey, Q3 + "&type=survey"))
    assert keys(surveys) == ["K-26", "K-25", "K-24", "K-23", "K-22", "K-21"]
    call = touchpoint(org, journey, "call")
    at_call = client.get(events_url(org, journey, f"{Q3}&type=survey&touchpoint={call.pk}"))
    assert keys(at_call) == ["K-25", "K-24", "K-23"]
    nowhere = client.get(events_url(org, journey, Q3 + "&type=survey&touchpoint=none"))
    assert keys(nowhere) == ["K-26"]
    # Entries into assess in Q3: A 07-12, G 07-11, C 07-07, c-9 07-04, G 07-01 (H's
    # was in June).
    assess = stage(org, journey, "assess")
    entries = client.get(events_url(org, journey, f"{Q3}&type=stage_entered&stage={assess.pk}"))
    assert keys(entries) == ["K-2", "K-17", "K-6", "K-11", "K-15"]
    # Several types at once, as the average claim cost's link asks for one.
    claims = client.get(events_url(org, journey, Q3 + "&type=claim_paid&type=survey"))
    assert len(keys(claims)) == 8
    assert "8 events of types Claim paid, Survey response" in claims.content.decode()


def test_every_dashboard_number_links_to_its_events(tenant_a):
    org = tenant_a.org
    journey = build(org)
    page = client_for(tenant_a.viewer).get(dashboard_url(org, journey)).content.decode()
    base = html.escape(events_url(org, journey))
    assert f'href="{base}&amp;type=survey"' in page  # the NPS tile
    assert f'href="{base}&amp;type=renewal_due&amp;type=renewed"' in page
    assess = stage(org, journey, "assess")
    assert f'href="{base}&amp;type=stage_entered&amp;stage={assess.pk}"' in page
    # The weekly table: each week's responses, as a custom period.
    weekly = html.escape(events_url(org, journey, "period=custom&from=2026-07-06&to=2026-07-12"))
    assert f'href="{weekly}&amp;type=survey"' in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("type=bogus", "type: 'bogus' is not one of survey, stage_entered"),
        ("stage=abc", "stage: 'abc' is not the id of a stage of this journey"),
        ("stage=2000000000", "stage: '2000000000' is not the id of a stage of this journey"),
        ("touchpoint=-1", "touchpoint: '-1' is not the id of a touchpoint of this journey"),
    ],
)
def test_bad_filters_give_a_clear_message_not_an_error(tenant_a, query, message):
    org = tenant_a.org
    journey = build(org)
    response = client_for(tenant_a.viewer).get(events_url(org, journey, f"{Q3}&{query}&page=x"))
    assert response.status_code == 200
    assert html.escape(message) in response.content.decode()
    # The bad filter is left out: every event of Q3 (16 of the 20 rows of STAGES,
    # 6 surveys and 2 claims).
    assert response.context["page_obj"].paginator.count == 24


def test_another_organizations_stage_reads_like_a_missing_one(tenant_a, tenant_b):
    journey = build(tenant_a.org)
    theirs = build_journey(tenant_b.org)
    other_stage = stage(tenant_b.org, theirs, "assess")
    response = client_for(tenant_a.viewer).get(
        events_url(tenant_a.org, journey, f"{Q3}&stage={other_stage.pk}")
    )
    assert (
        html.escape(f"stage: '{other_stage.pk}' is not the id of a stage of this journey")
        in response.content.decode()
    )


def test_events_are_paginated_with_htmx(tenant_a):
    org = tenant_a.org
    journey = build_journey(org)
    load(org, "claim", [f"survey,2026-08-{1 + n % 28:02d}T10:00:00Z,s-{n},,7,," for n in range(30)])
    client = client_for(tenant_a.viewer)
    first = client.get(events_url(org, journey, Q3 + "&type=survey"))
    assert len(first.context["page_obj"]) == 25
    assert first.context["page_obj"].paginator.num_pages == 2
    assert 'hx-get="?period=quarter&amp;from=2026-07-01&amp;type=survey&amp;page=2"' in (
        first.content.decode()
    )
    second = client.get(
        events_url(org, journey, Q3 + "&type=survey&page=2"), headers={"HX-Request": "true"}
    )
    body = second.content.decode()
    assert body.lstrip().startswith('<section id="jd-events">')
    assert len(second.context["page_obj"]) == 5


def test_charts_are_well_formed_svg_without_inline_styles(tenant_a):
    org = tenant_a.org
    journey = build(org)
    page = client_for(tenant_a.viewer).get(dashboard_url(org, journey)).content.decode()
    svgs = [s for s in re.findall(r"<svg\b.*?</svg>", page, re.S) if 'class="chart"' in s]
    # A trend line per KPI and the weekly NPS chart.
    assert len(svgs) == len(JOURNEY_KEYS) + 1
    ids: list[str] = []
    for svg in svgs:
        root = ET.fromstring(svg)  # noqa: S314 - our own output
        assert "<style" not in svg and " style=" not in svg and "<script" not in svg
        ids += [el.get("id") for el in root.iter() if el.get("id")]
    assert len(ids) == len(set(ids)), "chart ids collide on the page"


def test_chart_functions_take_plain_data():
    weeks = [dt.date(2026, 7, 6), dt.date(2026, 7, 13), dt.date(2026, 7, 20)]
    svg = charts.nps_trend_svg(weeks, [20.0, None, -10.0])
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.find("{http://www.w3.org/2000/svg}title").text == "Weekly Net Promoter Score"
    spark = charts.sparkline_svg(weeks, [1.0, None, 2.0], chart_id="t", title="T by month")
    assert 'id="t-title"' in spark


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_query_counts_do_not_grow_with_events_or_stages(tenant_a):
    org = tenant_a.org
    client = client_for(tenant_a.viewer)
    small = build(org, "small", prefix="small-")
    big = build(org, "big", prefix="big-")
    with organization_context(org.pk):
        for n in range(4):
            extra = journey_stage_save(
                organization=org, stage=JourneyStage(journey=big, slug=f"x{n}", name=f"x{n}")
            )
            touchpoint_save(
                organization=org,
                touchpoint=Touchpoint(journey=big, stage=extra, slug=f"t{n}", name=f"t{n}"),
            )
    load(
        org,
        "big",
        [f"stage_entered,2026-08-{1 + n % 28:02d}T10:00:00Z,m-{n},,,x{n % 4}," for n in range(40)]
        + [
            f"survey,2026-08-{1 + n % 28:02d}T11:00:00Z,m-{n},,9,x{n % 4},t{n % 4}"
            for n in range(40)
        ],
        prefix="big-more-",
    )
    for url in (dashboard_url, events_url):
        assert _queries(client, url(org, small)) == _queries(client, url(org, big))
    filtered = f"{Q3}&type=survey&stage=none&touchpoint=none"
    assert _queries(client, events_url(org, small, filtered)) == _queries(
        client, events_url(org, big, filtered)
    )


def test_the_map_and_the_list_link_to_the_dashboard(tenant_a):
    org = tenant_a.org
    journey = build_journey(org)
    client = client_for(tenant_a.viewer)
    url = reverse("journey_dashboard", args=[org.slug, journey.pk])
    assert url in client.get(reverse("journey_map", args=[org.slug, journey.pk])).content.decode()
    assert url in client.get(reverse("journey_list", args=[org.slug])).content.decode()


def test_other_organizations_get_404(tenant_a, tenant_b):
    journey = build(tenant_a.org)
    client = client_for(tenant_b.viewer)
    for name in ("journey_dashboard", "journey_dashboard_events"):
        # A's slug: B's viewer is no member. B's slug with A's journey: like a missing one.
        assert client.get(reverse(name, args=[tenant_a.org.slug, journey.pk])).status_code == 404
        assert client.get(reverse(name, args=[tenant_b.org.slug, journey.pk])).status_code == 404


@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
def test_every_role_reads_the_dashboard(tenant_a, role):
    journey = build(tenant_a.org)
    client = client_for(getattr(tenant_a, role))
    assert client.get(dashboard_url(tenant_a.org, journey, "")).status_code == 200
    assert client.get(events_url(tenant_a.org, journey, "")).status_code == 200


def test_the_funnel_agrees_with_the_engines_conversion_rate_on_other_periods(tenant_a):
    org = tenant_a.org
    journey = build(org)
    for period in (Q3_PERIOD, Period(dt.date(2026, 6, 1), dt.date(2026, 7, 31))):
        with organization_context(org.pk):
            funnel = journey_series.journey_funnel(
                organization=org, journey_id=journey.pk, period=period
            )
            rate = journey_metrics(organization=org, journey_ids=[journey.pk], period=period)[
                journey.pk
            ]["conversion_rate"]
        assert funnel.stages[-1].percent == rate


def test_nps_changes_in_points_even_from_zero():
    from journeys.dashboard_views import _kpi_tile

    # From 0 to 5: a percent change would divide by zero; 5 points up is better.
    up = _kpi_tile("nps", 5.0, 0.0)
    assert (up["change"], up["arrow"], up["judgement"]) == ("5 points", "▲", "good")
    assert _kpi_tile("nps", -13.0, -12.0)["change"] == "1 point"
    # Under half a point reads as no change.
    assert _kpi_tile("nps", 10.4, 10.0)["change"] is None


@pytest.mark.django_db
def test_a_manual_value_shows_beside_the_computed_one_and_says_so(tenant_a):
    from metrics.manual import manual_value_set

    journey = build_journey(tenant_a.org)
    with organization_context(tenant_a.org.pk):
        manual_value_set(
            organization=tenant_a.org,
            subject=journey,
            key="nps",
            period_kind="quarter",
            period_start=dt.date(2026, 7, 1),
            value=42,
            note="survey tool",
        )
    client = client_for(tenant_a.viewer)
    url = reverse("journey_dashboard", args=[tenant_a.org.slug, journey.pk])
    page = client.get(url + "?period=quarter&from=2026-07-01").content.decode()
    assert 'data-testid="manual-nps"' in page and "42" in page and "survey tool" in page
    # The computed NPS (no surveys: none) is still the tile's own value.
    tile = {
        t["key"]: t for t in client.get(url + "?period=quarter&from=2026-07-01").context["tiles"]
    }
    assert tile["nps"]["value"] is None and tile["nps"]["manual"].value == 42
    # Another quarter has no manual value.
    other = client.get(url + "?period=quarter&from=2026-04-01").content.decode()
    assert 'data-testid="manual-nps"' not in other
