"""Cached dashboards and kpis (metrics.cache): a commit that changes an organization's
events, snapshots or model shows at once; a repeated request draws and computes
nothing; one organization's entries never answer another's requests."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from journeys.models import Journey, JourneyStage
from journeys.services import journey_save, journey_stage_save
from metrics import charts
from metrics.cache import metrics_inputs_changed, metrics_inputs_stamp
from metrics.definitions import Subject, keys_for
from metrics.models import KpiSnapshot
from metrics.snapshots import snapshots_recompute
from portfolio.tenancy import organization_context
from streams.ingest import events_import
from streams.models import ValueStream
from streams.services import value_stream_delete, value_stream_save
from tests import api
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

Q3 = "period=quarter&from=2026-07-01"
Q3_KPIS = {"from": "2026-07-01", "to": "2026-09-30"}


def save_stream(org, slug: str, parent: ValueStream | None = None) -> ValueStream:
    with organization_context(org.pk):
        return value_stream_save(
            organization=org, value_stream=ValueStream(slug=slug, name=slug.title(), parent=parent)
        )


def import_done_items(org, stream: str, keys: list[str], day: int = 1) -> None:
    """Items of ``stream`` active on 2026-07-``day`` and done two days later, imported
    through the one ingestion service."""
    items = ["key,type,title,value_stream,created_at"]
    moves = ["key,at,state"]
    for key in keys:
        items.append(f"{key},feature,{key},{stream},2026-07-{day:02d}T00:00:00Z")
        moves.append(f"{key},2026-07-{day:02d}T00:00:00Z,active")
        moves.append(f"{key},2026-07-{day + 2:02d}T00:00:00Z,done")
    with organization_context(org.pk):
        events_import(organization=org, kind="flow_items", rows=StringIO("\n".join(items) + "\n"))
        events_import(
            organization=org, kind="flow_transitions", rows=StringIO("\n".join(moves) + "\n")
        )


def dashboard(tenant, stream: ValueStream):
    url = reverse("stream_dashboard", args=[tenant.org.slug, stream.pk]) + "?" + Q3
    response = client_for(tenant.viewer).get(url)
    assert response.status_code == 200
    return response


def velocity(response) -> int:
    return next(t["value"] for t in response.context["headline"] if t["key"] == "flow_velocity")


def kpis(tenant) -> dict:
    answer = api.get(client_for(tenant.viewer), "kpis/", org=tenant.org.slug, **Q3_KPIS)
    assert answer.status_code == 200, answer.json()
    return answer.json()


@pytest.fixture
def drawn(monkeypatch) -> list[str]:
    """The names of the charts drawn (a cached dashboard draws none)."""
    calls: list[str] = []
    for name in ("velocity_by_type_svg", "cumulative_flow_svg"):
        real = getattr(charts, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(charts, name, spy)
    return calls


def test_a_repeated_dashboard_is_served_from_the_cache(tenant_a, drawn):
    stream = save_stream(tenant_a.org, "s")
    import_done_items(tenant_a.org, "s", ["A-1"])
    first = dashboard(tenant_a, stream)
    assert drawn == ["velocity_by_type_svg", "cumulative_flow_svg"]
    with CaptureQueriesContext(connection) as queries:
        again = dashboard(tenant_a, stream)
    assert drawn == ["velocity_by_type_svg", "cumulative_flow_svg"]  # nothing drawn again
    # No metric, series or coverage query (they all start with the stream tree's CTE).
    assert not [q for q in queries.captured_queries if "WITH RECURSIVE" in q["sql"]]
    assert again.context["charts"] == first.context["charts"]
    assert velocity(again) == 1


def test_an_import_shows_at_once_on_the_dashboard_and_in_kpis(tenant_a, drawn):
    stream = save_stream(tenant_a.org, "s")
    import_done_items(tenant_a.org, "s", ["A-1"])
    before = dashboard(tenant_a, stream)
    assert velocity(before) == 1
    assert kpis(tenant_a)["value_streams"]["s"]["flow_velocity"] == 1

    import_done_items(tenant_a.org, "s", ["A-2", "A-3"], day=10)

    after = dashboard(tenant_a, stream)
    assert velocity(after) == 3
    assert after.context["charts"]["velocity"] != before.context["charts"]["velocity"]
    assert kpis(tenant_a)["value_streams"]["s"]["flow_velocity"] == 3


def test_a_snapshot_recompute_shows_at_once(tenant_a):
    org = tenant_a.org
    stream = save_stream(org, "s")
    import_done_items(org, "s", ["A-1", "A-2"])
    stale = dict.fromkeys(keys_for(Subject.VALUE_STREAM)) | {
        "flow_velocity": 42,
        "flow_velocity_feature": 42,
    }
    with organization_context(org.pk):
        # Stored values from before these events, as an earlier recompute left them.
        for start, end in (
            (dt.date(2026, 7, 1), dt.date(2026, 9, 30)),
            (dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
        ):
            KpiSnapshot.objects.create(
                organization=org,
                value_stream=stream,
                period_kind="quarter",
                period_start=start,
                period_end=end,
                values=stale,
            )
    # A finished quarter's dashboard reads its snapshots (computed, then cached).
    assert velocity(dashboard(tenant_a, stream)) == 42
    assert velocity(dashboard(tenant_a, stream)) == 42

    with organization_context(org.pk):
        snapshots_recompute(organization=org)

    assert velocity(dashboard(tenant_a, stream)) == 2


def test_the_model_is_part_of_the_stamp(tenant_a):
    """A new parent changes roll-ups and a stage flag changes journey KPIs without any
    event: each model change changes the stamp, and reading does not."""
    org = tenant_a.org
    parent = save_stream(org, "p")
    child = save_stream(org, "c")
    import_done_items(org, "c", ["C-1"])
    assert kpis(tenant_a)["value_streams"]["p"]["flow_velocity"] == 0

    with organization_context(org.pk):

        def stamp() -> str:
            return metrics_inputs_stamp(organization=org)

        stamps = [stamp()]
        assert stamp() == stamps[0]  # reading changes nothing
        child.parent = parent
        value_stream_save(organization=org, value_stream=child)
        stamps.append(stamp())
        journey = journey_save(organization=org, journey=Journey(slug="j", name="J"))
        stamps.append(stamp())
        first = journey_stage_save(
            organization=org, stage=JourneyStage(journey=journey, slug="a", name="A")
        )
        stamps.append(stamp())
        journey_stage_save(
            organization=org, stage=JourneyStage(journey=journey, slug="b", name="B")
        )
        stamps.append(stamp())
        journey_stage_save(organization=org, stage=first, set_flags=["is_conversion"])
        stamps.append(stamp())
        gone = save_stream(org, "gone")
        stamps.append(stamp())
        value_stream_delete(organization=org, value_stream=gone)
        # The same streams as before "gone" was created: the same stamp is right.
        assert stamp() == stamps[-2]
    assert len(set(stamps)) == len(stamps)

    # The roll-up follows the new parent at once.
    assert kpis(tenant_a)["value_streams"]["p"]["flow_velocity"] == 1
    assert velocity(dashboard(tenant_a, parent)) == 1


def test_a_rolled_back_change_never_gives_its_stamp_again(tenant_a):
    org = tenant_a.org
    with organization_context(org.pk):
        metrics_inputs_changed(organization=org)
        with pytest.raises(RuntimeError), transaction.atomic():
            metrics_inputs_changed(organization=org)
            rolled_back = metrics_inputs_stamp(organization=org)
            raise RuntimeError("roll back")
        assert metrics_inputs_stamp(organization=org) != rolled_back
        # The next change reaches the same counter value, with another transaction id.
        metrics_inputs_changed(organization=org)
        assert metrics_inputs_stamp(organization=org) != rolled_back


def test_each_organization_gets_only_its_own_cached_numbers(tenant_a, tenant_b):
    streams = {}
    for tenant, keys in ((tenant_a, ["A-1"]), (tenant_b, ["B-1", "B-2"])):
        streams[tenant.org.slug] = save_stream(tenant.org, "s")
        import_done_items(tenant.org, "s", keys)
    for _ in range(2):  # computed, then cached
        assert velocity(dashboard(tenant_a, streams["org-a"])) == 1
        assert velocity(dashboard(tenant_b, streams["org-b"])) == 2
        assert kpis(tenant_a)["value_streams"]["s"]["flow_velocity"] == 1
        assert kpis(tenant_b)["value_streams"]["s"]["flow_velocity"] == 2
    # A's dashboard is cached: B's member still gets a 404 for it, under either slug.
    b_client = client_for(tenant_b.viewer)
    for slug in ("org-a", "org-b"):
        url = reverse("stream_dashboard", args=[slug, streams["org-a"].pk]) + "?" + Q3
        assert b_client.get(url).status_code == 404
    assert api.get(b_client, "kpis/", org="org-a", **Q3_KPIS).status_code == 404
