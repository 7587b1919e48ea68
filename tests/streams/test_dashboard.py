"""The value stream dashboard, its items drill-down and the streams overview: numbers on a
small hand-made history, the period picker, charts as CSP-safe SVG, tenancy and query
counts."""

from __future__ import annotations

import datetime as dt
import html
import re
import xml.etree.ElementTree as ET

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from metrics import charts, series
from metrics.engine import Period, flow_item_facts_refresh, flow_metrics
from metrics.models import KpiSnapshot
from portfolio.tenancy import organization_context
from streams.models import Deployment, FlowItem, FlowTransition, Incident, ValueStream
from streams.services import value_stream_save
from tests.conftest import client_for

UTC = dt.UTC
Q2 = "period=quarter&from=2026-04-01"


def at(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=UTC)


def add_item(org, stream, key: str, kind: str, history: list[tuple[dt.datetime, str]]) -> int:
    item = FlowItem.objects.create(
        organization=org, value_stream=stream, key=key, type=kind, created_at=at(1, 1, 0)
    )
    for when, state in history:
        FlowTransition.objects.create(organization=org, item=item, at=when, state=state)
    return item.pk


def build(org, slug: str = "s", extra_items: int = 0) -> ValueStream:
    """Q2 2026: K-1 (feature) 2 days, all active; K-2 (defect) 4 days, 2 of them waiting;
    K-3 (feature) 6 days; K-5 still active at the quarter's end. Q1: K-4 done in 1 day.

    Q2 velocity 3; flow times 2, 4, 6 days: median 4, p85 at position (3-1)*0.85 = 1.7,
    4 + 0.7 * (6 - 4) = 5.4; efficiency 100 * (2+2+6) / (2+4+6) = 83.3%; load 1.
    Q1 velocity 1, median 1: velocity +200% (good), median +300% (worse).
    """
    with organization_context(org.pk):
        stream = value_stream_save(
            organization=org, value_stream=ValueStream(slug=slug, name=f"Stream {slug}")
        )
        ids = [
            add_item(
                org, stream, f"{slug}-1", "feature", [(at(4, 6), "active"), (at(4, 8), "done")]
            ),
            add_item(
                org,
                stream,
                f"{slug}-2",
                "defect",
                [
                    (at(4, 6), "active"),
                    (at(4, 7), "waiting"),
                    (at(4, 9), "active"),
                    (at(4, 10), "done"),
                ],
            ),
            add_item(
                org, stream, f"{slug}-3", "feature", [(at(5, 4), "active"), (at(5, 10), "done")]
            ),
            add_item(
                org, stream, f"{slug}-4", "feature", [(at(1, 5), "active"), (at(1, 6), "done")]
            ),
            add_item(org, stream, f"{slug}-5", "debt", [(at(6, 29), "active")]),
        ]
        for n in range(extra_items):
            ids.append(
                add_item(
                    org,
                    stream,
                    f"{slug}-x{n}",
                    "risk",
                    [(at(5, 1 + n % 20), "active"), (at(5, 1 + n % 20, 15), "done")],
                )
            )
        flow_item_facts_refresh(organization=org, item_ids=ids)
    return stream


def dashboard_url(org, stream, query: str = Q2) -> str:
    return reverse("stream_dashboard", args=[org.slug, stream.pk]) + "?" + query


def tiles(response) -> dict[str, dict]:
    return {t["key"]: t for t in response.context["headline"] + response.context["dora"]}


@pytest.mark.django_db
def test_headline_numbers_and_changes_on_a_hand_made_history(tenant_a):
    stream = build(tenant_a.org)
    response = client_for(tenant_a.viewer).get(dashboard_url(tenant_a.org, stream))
    assert response.status_code == 200
    t = tiles(response)
    assert t["flow_velocity"]["value"] == 3
    assert t["flow_velocity"]["change"] == "200%"
    assert t["flow_velocity"]["judgement"] == "good"
    assert t["flow_time_median_days"]["value"] == pytest.approx(4)
    assert t["flow_time_median_days"]["change"] == "300%"
    assert t["flow_time_median_days"]["judgement"] == "bad"
    assert t["flow_time_p85_days"]["value"] == pytest.approx(5.4)
    assert t["flow_efficiency"]["display"] == "83"
    assert t["flow_load"]["value"] == 1
    dist = {d["type"]: d for d in response.context["distribution"]}
    assert dist["feature"]["display"] == "67" and dist["defect"]["display"] == "33"
    assert response.context["choice"].label == "2026-Q2"
    assert "DORA 2023 bands" in response.content.decode()


@pytest.mark.django_db
def test_a_quarter_in_progress_compares_with_as_many_days_of_the_previous(tenant_a, monkeypatch):
    # Today is 2026-05-15: Q2 so far is 04-01..05-15, 45 days (30 + 15); the
    # previous quarter's first 45 days are 01-01..02-14 (31 + 14).
    monkeypatch.setattr(
        "streams.dashboard_views.timezone.localdate", lambda *args: dt.date(2026, 5, 15)
    )
    stream = build(tenant_a.org)
    response = client_for(tenant_a.viewer).get(dashboard_url(tenant_a.org, stream))
    choice = response.context["choice"]
    assert choice.label == "2026-Q2 to date"
    assert (choice.period.date_from, choice.period.date_to) == (
        dt.date(2026, 4, 1),
        dt.date(2026, 5, 15),
    )
    assert (choice.previous.date_from, choice.previous.date_to) == (
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 14),
    )
    assert "Changes compare with 1 Jan 2026 \u2013 14 Feb 2026" in response.content.decode()


@pytest.mark.django_db
def test_null_metrics_show_a_dash_with_a_note_never_zero(tenant_a):
    with organization_context(tenant_a.org.pk):
        empty = value_stream_save(
            organization=tenant_a.org, value_stream=ValueStream(slug="e", name="Empty")
        )
    response = client_for(tenant_a.viewer).get(dashboard_url(tenant_a.org, empty))
    t = tiles(response)
    for key in ("flow_time_median_days", "flow_efficiency", "change_failure_rate"):
        assert t[key]["value"] is None and t[key]["display"] == "—"
    assert "no data" in response.content.decode()
    assert "No data in this period" in response.content.decode()  # the empty charts


@pytest.mark.django_db
def test_dora_tiles_carry_the_band_of_the_orgs_report_year(tenant_a):
    org = tenant_a.org
    stream = build(org)
    with organization_context(org.pk):
        # 91 days in Q2; 13 weekly successful deploys = 1/7 a day: "high" in 2023.
        for n in range(13):
            Deployment.objects.create(
                organization=org,
                value_stream=stream,
                key=f"d{n}",
                environment="production",
                deployed_at=at(4, 1) + dt.timedelta(days=7 * n),
                status="success",
            )
        Incident.objects.create(
            organization=org, value_stream=stream, key="i1", opened_at=at(5, 1), resolved_at=None
        )
    response = client_for(tenant_a.viewer).get(dashboard_url(org, stream))
    t = tiles(response)
    assert t["deployment_frequency_per_day"]["band"] == "high"
    assert t["change_failure_rate"]["band"] == "elite"
    coverage = response.context["coverage"]
    # 5 items, all with transitions; 13 deployments, none with a change; 1 incident open.
    assert coverage["items_with_history_pct"] == 100
    assert coverage["deployments_with_changes_pct"] == 0
    assert coverage["incidents_resolved_pct"] == 0


@pytest.mark.django_db
def test_a_stream_without_any_deployment_has_no_deployment_frequency_band(tenant_a):
    """Deployment frequency is 0, not null, in a period without deployments (its days are
    never empty), but a stream that has never recorded one has no data, not a "low"."""
    org = tenant_a.org
    stream = build(org)
    client = client_for(tenant_a.viewer)
    response = client.get(dashboard_url(org, stream))
    frequency = tiles(response)["deployment_frequency_per_day"]
    assert frequency["value"] == 0
    assert frequency["band"] is None
    page = response.content.decode()
    tile = re.search(r'data-metric="deployment_frequency_per_day">(.*?)</div>', page, re.S)
    assert "no production deployment on record" in tile.group(1)
    assert "less than monthly" not in page and "db-band-low" not in page
    overview = client.get(reverse("stream_overview", args=[org.slug]) + "?" + Q2)
    frequency = overview.context["rows"][0]["dora"][0]
    assert (frequency["key"], frequency["band"]) == ("deployment_frequency_per_day", None)
    assert "db-band-low" not in overview.content.decode()


@pytest.mark.django_db
def test_a_stream_that_stopped_deploying_is_low(tenant_a):
    """A stream with deployments on record before the period, none in it, deploys less
    than monthly: its 0 is a measurement and gets the low band."""
    org = tenant_a.org
    stream = build(org)
    with organization_context(org.pk):
        Deployment.objects.create(
            organization=org,
            value_stream=stream,
            key="d-jan",
            environment="production",
            deployed_at=at(1, 15),
            status="success",
        )
    t = tiles(client_for(tenant_a.viewer).get(dashboard_url(org, stream)))
    assert t["deployment_frequency_per_day"]["value"] == 0
    assert t["deployment_frequency_per_day"]["band"] == "low"
    # Q1 (January's deployment) has no record before it: the page for Q4 2025 has no band.
    earlier = client_for(tenant_a.viewer).get(
        dashboard_url(org, stream, "period=quarter&from=2025-10-01")
    )
    assert tiles(earlier)["deployment_frequency_per_day"]["band"] is None


@pytest.mark.django_db
def test_quarters_read_stored_snapshots_when_present(tenant_a):
    org = tenant_a.org
    stream = build(org)
    with organization_context(org.pk):
        for start, end, velocity in (
            (dt.date(2026, 4, 1), dt.date(2026, 6, 30), 42),
            (dt.date(2026, 1, 1), dt.date(2026, 3, 31), 21),
        ):
            values = dict.fromkeys(
                flow_metrics(
                    organization=org,
                    value_stream_ids=[stream.pk],
                    period=Period(start, end),
                )
            )
            values.update(
                {
                    "flow_velocity": velocity,
                    **{f"flow_velocity_{t}": 0 for t in ("feature", "defect", "risk", "debt")},
                    "deployment_frequency_per_day": 0,
                    "lead_time_for_changes_median_hours": None,
                    "change_failure_rate": None,
                    "time_to_restore_median_hours": None,
                }
            )
            KpiSnapshot.objects.create(
                organization=org,
                value_stream=stream,
                period_kind="quarter",
                period_start=start,
                period_end=end,
                values=values,
            )
    t = tiles(client_for(tenant_a.viewer).get(dashboard_url(org, stream)))
    assert t["flow_velocity"]["value"] == 42
    assert t["flow_velocity"]["change"] == "100%"


@pytest.mark.django_db
def test_period_picker_month_and_custom(tenant_a):
    org = tenant_a.org
    stream = build(org)
    client = client_for(tenant_a.viewer)
    may = client.get(dashboard_url(org, stream, "period=month&from=2026-05-17"))
    assert may.context["choice"].label == "May 2026"
    assert tiles(may)["flow_velocity"]["value"] == 1
    custom = client.get(dashboard_url(org, stream, "period=custom&from=2026-04-06&to=2026-04-09"))
    # Only K-1 (done April 8) is done within April 6..9; the previous 4 days had none:
    # a percent change from 0 is undefined, so the change is the difference.
    t = tiles(custom)
    assert t["flow_velocity"]["value"] == 1
    assert (t["flow_velocity"]["change"], t["flow_velocity"]["arrow"]) == ("1 item", "▲")
    assert custom.context["choice"].previous.date_from == dt.date(2026, 4, 2)
    page = client.get(dashboard_url(org, stream)).content.decode()
    assert "2026-Q2" in page and "May 2026" in page  # the picker lists recent periods
    assert "{#" not in page and "#}" not in page  # its template's comments stay comments


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("period=custom&from=2026-13-01&to=2026-04-01", "from: '2026-13-01' is not a date"),
        ("period=custom&from=2026-05-01&to=2026-04-01", "to: 2026-04-01 is before from"),
        ("period=custom&from=2026-05-01", "to: a date is required"),
        ("period=custom&from=2020-01-01&to=2026-01-01", "at most 731"),
        ("period=month&from=yesterday", "from: 'yesterday' is not a date"),
        ("period=decade", "period: 'decade' is not one of"),
    ],
)
def test_bad_periods_give_a_message_and_the_current_quarter(tenant_a, query, message):
    stream = build(tenant_a.org)
    response = client_for(tenant_a.viewer).get(dashboard_url(tenant_a.org, stream, query))
    assert response.status_code == 200
    assert html.escape(message) in response.content.decode()
    assert response.context["choice"].kind == "quarter"


SVG = re.compile(r"<svg\b.*?</svg>", re.S)


@pytest.mark.django_db
def test_charts_are_well_formed_svg_without_inline_styles(tenant_a):
    stream = build(tenant_a.org)
    page = client_for(tenant_a.viewer).get(dashboard_url(tenant_a.org, stream)).content.decode()
    svgs = SVG.findall(page)
    assert len(svgs) == 5
    ids: list[str] = []
    for svg in svgs:
        root = ET.fromstring(svg)  # noqa: S314 - our own output
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert "<style" not in svg and " style=" not in svg and "<script" not in svg
        ids += [el.get("id") for el in root.iter() if el.get("id")]
    assert len(ids) == len(set(ids)), "chart ids collide on the page"
    assert "<?xml" not in page


def test_chart_functions_take_plain_data():
    weeks = [dt.date(2026, 4, 6), dt.date(2026, 4, 13)]
    svg = charts.velocity_by_type_svg(weeks, {"feature": [2, 1], "defect": [0, 1]})
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.find("{http://www.w3.org/2000/svg}title").text.startswith("Weekly flow velocity")
    assert ">feature<" in svg  # text stays text (svg.fonttype none)


def test_charts_keep_their_namespace_whatever_other_libraries_register():
    # WeasyPrint's PDF metadata registers another default namespace with ElementTree.
    saved = dict(ET._namespace_map)  # restored below
    try:
        ET.register_namespace("", "adobe:ns:meta/")
        svg = charts.distribution_svg({"feature": 2, "defect": 1})
    finally:
        ET._namespace_map.clear()
        ET._namespace_map.update(saved)
    assert svg.startswith("<svg ") and "ns0:" not in svg


@pytest.mark.django_db
def test_daily_series_matches_the_engines_flow_load(tenant_a):
    org = tenant_a.org
    stream = build(org)
    period = Period(dt.date(2026, 4, 1), dt.date(2026, 4, 30))
    with organization_context(org.pk):
        daily = series.daily_series(organization=org, value_stream_id=stream.pk, period=period)
        weekly = series.weekly_series(organization=org, value_stream_id=stream.pk, period=period)
        for day in (dt.date(2026, 4, 6), dt.date(2026, 4, 7), dt.date(2026, 4, 8)):
            load = flow_metrics(
                organization=org, value_stream_ids=[stream.pk], period=Period(day, day)
            )["flow_load"]
            assert daily.wip[(day - period.date_from).days] == load
    # End of April 6: K-1 and K-2 active; April 7: K-1 active, K-2 waiting; K-4 never counts
    # as done in April (done in January), K-1 and K-2 are done by April 10.
    assert daily.states["active"][5] == 2 and daily.states["waiting"][6] == 1
    assert daily.states["done"][9] == 2 and daily.states["new"][0] == 4
    # The week of Monday April 6 has K-1 (feature) and K-2 (defect): median 3 days.
    n = weekly.weeks.index(dt.date(2026, 4, 6))
    assert weekly.velocity["feature"][n] == 1 and weekly.velocity["defect"][n] == 1
    assert weekly.median_days[n] == pytest.approx(3)


@pytest.mark.django_db
def test_velocity_drill_down_lists_the_items_done_with_flow_times(tenant_a):
    org = tenant_a.org
    stream = build(org)
    client = client_for(tenant_a.viewer)
    url = reverse("stream_dashboard_items", args=[org.slug, stream.pk]) + "?" + Q2
    response = client.get(url + "&sort=flow_time")
    keys = [i.key for i in response.context["page_obj"]]
    assert keys == ["s-3", "s-2", "s-1"]  # 6, 4 and 2 days
    assert [round(i.flow_days, 1) for i in response.context["page_obj"]] == [6.0, 4.0, 2.0]
    partial = client.get(url, headers={"HX-Request": "true"})
    assert partial.content.decode().lstrip().startswith('<section id="db-items">')
    page = client.get(dashboard_url(org, stream)).content.decode()
    assert reverse("stream_dashboard_items", args=[org.slug, stream.pk]) in page


@pytest.mark.django_db
def test_overview_shows_every_stream_side_by_side(tenant_a):
    org = tenant_a.org
    build(org, "a")
    build(org, "b")
    response = client_for(tenant_a.viewer).get(
        reverse("stream_overview", args=[org.slug]) + "?" + Q2
    )
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [r["stream"].name for r in rows] == ["Stream a", "Stream b"]
    assert all(r["tiles"][0]["value"] == 3 for r in rows)


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_query_counts_do_not_grow_with_items_or_streams(tenant_a):
    org = tenant_a.org
    client = client_for(tenant_a.viewer)
    small = build(org, "small")
    big = build(org, "big", extra_items=40)
    items = reverse("stream_dashboard_items", args=[org.slug, small.pk]) + "?" + Q2
    assert _queries(client, dashboard_url(org, small)) == _queries(client, dashboard_url(org, big))
    assert _queries(client, items) == _queries(
        client, reverse("stream_dashboard_items", args=[org.slug, big.pk]) + "?" + Q2
    )
    overview = reverse("stream_overview", args=[org.slug]) + "?" + Q2
    two = _queries(client, overview)
    build(org, "more")
    build(org, "most")
    assert _queries(client, overview) == two


@pytest.mark.django_db
def test_other_organizations_get_404(tenant_a, tenant_b):
    stream = build(tenant_a.org)
    client = client_for(tenant_b.viewer)
    assert client.get(dashboard_url(tenant_a.org, stream)).status_code == 404
    assert client.get(reverse("stream_overview", args=[tenant_a.org.slug])).status_code == 404
    # B's own slug with A's stream: like a missing stream.
    assert client.get(dashboard_url(tenant_b.org, stream)).status_code == 404
    items = reverse("stream_dashboard_items", args=[tenant_b.org.slug, stream.pk])
    assert client.get(items).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
def test_every_role_reads_the_dashboards(tenant_a, role):
    stream = build(tenant_a.org)
    client = client_for(getattr(tenant_a, role))
    assert client.get(dashboard_url(tenant_a.org, stream, "")).status_code == 200
    assert client.get(reverse("stream_overview", args=[tenant_a.org.slug])).status_code == 200


@pytest.mark.django_db
def test_the_picker_selects_only_the_period_shown(tenant_a):
    stream = build(tenant_a.org)
    page = client_for(tenant_a.viewer).get(dashboard_url(tenant_a.org, stream)).content.decode()
    quarter = page[
        page.index('id="pick-quarter"') : page.index("</select>", page.index('id="pick-quarter"'))
    ]
    month = page[
        page.index('id="pick-month"') : page.index("</select>", page.index('id="pick-month"'))
    ]
    assert '<option value="2026-04-01" selected>2026-Q2</option>' in quarter
    # A quarter is shown: the month list names no month as if it were chosen.
    assert '<option value="" selected>Choose…</option>' in month
    assert month.count("selected") == 1


@pytest.mark.django_db
def test_a_tile_without_a_previous_figure_says_so(tenant_a):
    stream = build(tenant_a.org)
    # K-1 is done on April 8; nothing was done in the 4 days before: its flow time
    # has no previous figure.
    response = client_for(tenant_a.viewer).get(
        dashboard_url(tenant_a.org, stream, "period=custom&from=2026-04-06&to=2026-04-09")
    )
    html = response.content.decode()
    firsts = [
        t for t in response.context["headline"] if t["value"] is not None and t["previous"] is None
    ]
    assert firsts, "the hand-made history has a metric with no previous figure"
    assert "previous: —" not in html
    assert html.count("no previous figure") >= len(firsts)
