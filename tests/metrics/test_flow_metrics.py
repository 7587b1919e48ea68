"""Flow metrics (docs/metrics.md#flow-metrics) on small hand-made histories.

Every expected value is worked out in the comments beside it. Times are UTC
unless a test sets the organization's time zone.
"""

from __future__ import annotations

import datetime as dt

import pytest

from metrics.engine import Period, flow_item_facts_refresh, flow_metrics, value_stream_metrics
from portfolio.tenancy import organization_context
from streams.models import FlowItem, FlowTransition, ValueStream
from streams.services import value_stream_save

pytestmark = pytest.mark.django_db

Q3 = Period(dt.date(2026, 7, 1), dt.date(2026, 9, 30))  # [07-01 00:00Z, 10-01 00:00Z)


@pytest.fixture(autouse=True, params=["steps", "spans"])
def load_source(request, monkeypatch):
    """Every test runs twice: flow load from the 15-minute WIP changes, and from the
    WIP spans (the path for time zones whose midnights are off those steps)."""
    if request.param == "spans":
        monkeypatch.setattr("metrics.engine._day_ends_on_steps", lambda period: False)
    return request.param


@pytest.fixture
def org(tenant_a):
    with organization_context(tenant_a.org.pk):
        yield tenant_a.org


def at(text: str) -> dt.datetime:
    """'2026-07-01T00:00' as UTC, or with an explicit offset."""
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def stream(org, slug: str, parent: ValueStream | None = None) -> ValueStream:
    return value_stream_save(
        organization=org, value_stream=ValueStream(slug=slug, name=slug.title(), parent=parent)
    )


def item(org, vs: ValueStream, key: str, type_: str, *history: tuple[str, str]) -> FlowItem:
    """A flow item with its transitions ``(at, state)``, its derived facts refreshed."""
    created = at(history[0][0]) if history else at("2026-01-01T00:00")
    flow_item = FlowItem.objects.create(
        organization=org, value_stream=vs, key=key, type=type_, created_at=created
    )
    for when, state in history:
        FlowTransition.objects.create(organization=org, item=flow_item, at=at(when), state=state)
    flow_item_facts_refresh(organization=org, item_ids=[flow_item.pk])
    flow_item.refresh_from_db()
    return flow_item


def metrics(org, vs: ValueStream, period: Period = Q3) -> dict:
    return flow_metrics(organization=org, value_stream_ids=[vs.pk], period=period)


def quarter_history(org, vs: ValueStream) -> None:
    # Flow time / active time of the items done in Q3:
    item(org, vs, "F1", "feature", ("2026-07-01T00:00", "active"), ("2026-07-05T00:00", "done"))
    # F1: done 07-05, started 07-01: flow 4 d, active 4 d.
    item(
        org,
        vs,
        "F2",
        "feature",
        ("2026-06-30T00:00", "active"),
        ("2026-07-02T00:00", "waiting"),
        ("2026-07-04T00:00", "active"),
        ("2026-07-08T00:00", "done"),
    )
    # F2: started before Q3, flow 06-30..07-08 = 8 d; active 2 d + 4 d = 6 d; waiting 2 d.
    item(org, vs, "D1", "defect", ("2026-06-29T00:00", "active"), ("2026-07-01T00:00", "done"))
    # D1: done exactly at P.start, so inside P: flow 2 d, active 2 d.
    item(org, vs, "D2", "defect", ("2026-09-20T00:00", "active"), ("2026-10-01T00:00", "done"))
    # D2: done exactly at P.end, so outside P; its state at P.end is still active
    # (the done transition is not before P.end), so it is WIP at P.end.
    item(
        org,
        vs,
        "R1",
        "risk",
        ("2026-07-10T00:00", "active"),
        ("2026-07-12T00:00", "done"),
        ("2026-07-13T00:00", "active"),
        ("2026-07-20T00:00", "done"),
    )
    # R1, reopened: done_at is the last done, 07-20; flow 07-10..07-20 = 10 d;
    # active 2 d + 7 d = 9 d (the day in done between does not count).
    item(org, vs, "B1", "debt", ("2026-07-15T00:00", "new"), ("2026-07-16T00:00", "done"))
    # B1 jumps new -> done: its start is the done transition, flow 0 d, active 0.
    item(org, vs, "C1", "feature", ("2026-07-01T00:00", "active"), ("2026-07-03T00:00", "canceled"))
    # C1 canceled: neither done nor WIP at P.end.
    item(org, vs, "W1", "feature", ("2026-09-01T00:00", "active"), ("2026-09-15T00:00", "waiting"))
    # W1 waiting at P.end: WIP.
    item(org, vs, "X1", "feature", ("2026-06-01T00:00", "active"), ("2026-06-10T00:00", "done"))
    # X1 done before Q3: in nothing.
    item(org, vs, "N1", "feature")
    # N1 has no transition: new, in nothing.


def test_derived_facts_follow_domain_definitions(org):
    vs = stream(org, "vs")
    quarter_history(org, vs)
    facts = {
        i.key: (i.state, i.started_at, i.done_at, i.active_seconds, i.waiting_seconds)
        for i in FlowItem.objects.filter(organization=org)
    }
    day = 86400
    assert facts["F2"] == ("done", at("2026-06-30T00:00"), at("2026-07-08T00:00"), 6 * day, 2 * day)
    assert facts["R1"] == ("done", at("2026-07-10T00:00"), at("2026-07-20T00:00"), 9 * day, 0)
    assert facts["B1"] == ("done", at("2026-07-16T00:00"), at("2026-07-16T00:00"), 0, 0)
    # Not done: the closed spans so far (C1 active 2 d; W1 active 14 d, still waiting).
    assert facts["C1"] == ("canceled", at("2026-07-01T00:00"), None, 2 * day, 0)
    assert facts["W1"] == ("waiting", at("2026-09-01T00:00"), None, 14 * day, 0)
    assert facts["N1"] == ("new", None, None, 0, 0)


def test_every_flow_key_on_a_quarter(org):
    vs = stream(org, "vs")
    quarter_history(org, vs)
    m = metrics(org, vs)
    # Done in Q3: F1, F2 (feature), D1 (defect), R1 (risk), B1 (debt) = 5.
    assert m["flow_velocity"] == 5
    assert (m["flow_velocity_feature"], m["flow_velocity_defect"]) == (2, 1)
    assert (m["flow_velocity_risk"], m["flow_velocity_debt"]) == (1, 1)
    # 100 * 2/5 = 40; 100 * 1/5 = 20.
    assert m["flow_distribution_feature"] == pytest.approx(40)
    assert m["flow_distribution_defect"] == pytest.approx(20)
    assert m["flow_distribution_risk"] == pytest.approx(20)
    assert m["flow_distribution_debt"] == pytest.approx(20)
    # Flow times sorted: 0, 2, 4, 8, 10 days.
    assert m["flow_time_median_days"] == pytest.approx(4)
    # p85: position (5-1)*0.85 = 3.4 -> 8 + 0.4 * (10 - 8) = 8.8.
    assert m["flow_time_p85_days"] == pytest.approx(8.8)
    # mean: 24 / 5 = 4.8.
    assert m["flow_time_mean_days"] == pytest.approx(4.8)
    # WIP at P.end (10-01 00:00): D2 active (its done is at, not before, P.end), W1 waiting.
    assert m["flow_load"] == 2
    # efficiency: active 4 + 6 + 2 + 9 + 0 = 21 d over flow 24 d = 87.5 %.
    assert m["flow_efficiency"] == pytest.approx(87.5)


def test_p85_interpolates_linearly_on_four_values(org):
    vs = stream(org, "vs")
    for n, days in enumerate([1, 2, 3, 10]):
        item(
            org,
            vs,
            f"I{n}",
            "feature",
            ("2026-07-01T00:00", "active"),
            ((at("2026-07-01T00:00") + dt.timedelta(days=days)).isoformat(), "done"),
        )
    m = metrics(org, vs)
    # position (4-1)*0.85 = 2.55 -> 3 + 0.55 * (10 - 3) = 6.85
    assert m["flow_time_p85_days"] == pytest.approx(6.85)
    # median: position 1.5 -> (2 + 3) / 2 = 2.5; mean 16 / 4 = 4.
    assert m["flow_time_median_days"] == pytest.approx(2.5)
    assert m["flow_time_mean_days"] == pytest.approx(4)
    assert m["flow_efficiency"] == pytest.approx(100)


def test_flow_load_avg_over_three_days(org):
    vs = stream(org, "vs")
    period = Period(dt.date(2026, 7, 1), dt.date(2026, 7, 3))
    # Day ends: d1 = 07-02 00:00, d2 = 07-03 00:00, d3 = 07-04 00:00 (= P.end).
    item(org, vs, "A", "feature", ("2026-06-30T12:00", "active"), ("2026-07-02T12:00", "done"))
    # A: WIP at d1 only -> 1.
    item(org, vs, "B", "feature", ("2026-07-02T00:00", "active"), ("2026-07-03T06:00", "waiting"))
    # B: active at exactly d1's end, so still new then (at < t); WIP at d2, d3 -> 2.
    item(org, vs, "C", "defect", ("2026-07-01T06:00", "active"), ("2026-07-01T18:00", "canceled"))
    # C: canceled within d1: WIP at no day end -> 0.
    item(org, vs, "E", "risk", ("2026-07-03T12:00", "active"))
    # E: WIP at d3 -> 1.
    item(org, vs, "G", "debt", ("2026-06-25T00:00", "active"), ("2026-07-02T12:00", "canceled"))
    # G: WIP at d1, canceled before d2 -> 1.
    m = metrics(org, vs, period)
    # WIP per day: d1 = A, G = 2; d2 = B = 1; d3 = B, E = 2 -> (2 + 1 + 2) / 3.
    assert m["flow_load_avg"] == pytest.approx(5 / 3)
    assert m["flow_load"] == 2
    # Only A is done: flow 06-30 12:00 .. 07-02 12:00 = 2 d, all active.
    assert m["flow_velocity"] == 1
    assert m["flow_time_median_days"] == pytest.approx(2)
    assert m["flow_efficiency"] == pytest.approx(100)


def test_waiting_time_lowers_efficiency(org):
    vs = stream(org, "vs")
    item(
        org,
        vs,
        "A",
        "feature",
        ("2026-07-01T00:00", "active"),
        ("2026-07-02T00:00", "waiting"),
        ("2026-07-05T00:00", "active"),
        ("2026-07-06T00:00", "done"),
    )
    # flow 5 d, active 1 d + 1 d = 2 d -> 100 * 2 / 5 = 40 %.
    assert metrics(org, vs)["flow_efficiency"] == pytest.approx(40)


def test_an_empty_period_is_null_where_the_denominator_is_empty(org):
    vs = stream(org, "vs")
    item(org, vs, "X", "feature", ("2026-06-01T00:00", "active"), ("2026-06-10T00:00", "done"))
    m = metrics(org, vs)
    assert m["flow_velocity"] == 0
    assert all(m[f"flow_velocity_{t}"] == 0 for t in ("feature", "defect", "risk", "debt"))
    assert all(m[f"flow_distribution_{t}"] is None for t in ("feature", "defect", "risk", "debt"))
    assert m["flow_time_median_days"] is None
    assert m["flow_time_p85_days"] is None
    assert m["flow_time_mean_days"] is None
    assert m["flow_efficiency"] is None
    # Counts over a non-empty set of days are 0, not null.
    assert m["flow_load"] == 0
    assert m["flow_load_avg"] == 0


def test_only_zero_flow_time_gives_null_efficiency(org):
    vs = stream(org, "vs")
    item(org, vs, "B", "debt", ("2026-07-16T00:00", "done"))
    m = metrics(org, vs)
    # flow time 0: velocity 1, times 0, efficiency 0 / 0 -> null.
    assert m["flow_velocity"] == 1
    assert m["flow_time_median_days"] == 0
    assert m["flow_efficiency"] is None


def test_roll_up_over_a_parent_and_two_children(org, tenant_b):
    parent = stream(org, "parent")
    left = stream(org, "left", parent=parent)
    right = stream(org, "right", parent=parent)
    grandchild = stream(org, "leaf", parent=left)
    done = (("2026-07-01T00:00", "active"), ("2026-07-03T00:00", "done"))
    item(org, parent, "P1", "feature", *done)
    item(org, left, "L1", "defect", *done)
    item(org, left, "L2", "defect", *done)
    item(org, right, "R1", "risk", *done)
    item(org, grandchild, "G1", "debt", *done)
    item(org, right, "RW", "feature", ("2026-09-01T00:00", "active"))
    by_stream = value_stream_metrics(
        organization=org, value_stream_ids=[parent.pk, left.pk, right.pk], period=Q3
    )
    # parent = P1 + L1, L2 + G1 (grandchild) + R1 = 5; left = L1, L2, G1 = 3; right = R1 = 1.
    assert by_stream[parent.pk]["flow_velocity"] == 5
    assert by_stream[left.pk]["flow_velocity"] == 3
    assert by_stream[right.pk]["flow_velocity"] == 1
    # parent: defect 2 of 5 = 40 %; WIP at P.end is RW, in right and so in parent.
    assert by_stream[parent.pk]["flow_distribution_defect"] == pytest.approx(40)
    assert by_stream[parent.pk]["flow_load"] == 1
    assert by_stream[left.pk]["flow_load"] == 0
    # Streams named together count each item once: left + its grandchild + right = 4.
    merged = flow_metrics(
        organization=org, value_stream_ids=[left.pk, grandchild.pk, right.pk], period=Q3
    )
    assert merged["flow_velocity"] == 4
    # Another organization's stream ids give nothing.
    with organization_context(tenant_b.org.pk):
        other = flow_metrics(organization=tenant_b.org, value_stream_ids=[parent.pk], period=Q3)
    assert other["flow_velocity"] == 0


def test_the_period_is_local_dates_in_the_organization_time_zone(org):
    vs = stream(org, "vs")
    period = Period(dt.date(2026, 7, 1), dt.date(2026, 7, 31), "Australia/Sydney")
    # Sydney is UTC+10 in July: P = [06-30 14:00Z, 07-31 14:00Z).
    assert period.start == at("2026-06-30T14:00")
    assert period.end == at("2026-07-31T14:00")
    start = ("2026-06-20T00:00+10:00", "active")
    item(org, vs, "IN_LAST", "feature", start, ("2026-07-31T23:30+10:00", "done"))
    item(org, vs, "OUT_NEXT", "feature", start, ("2026-08-01T00:30+10:00", "done"))
    item(org, vs, "IN_FIRST", "defect", start, ("2026-07-01T00:30+10:00", "done"))
    item(org, vs, "OUT_PREV", "defect", start, ("2026-06-30T23:30+10:00", "done"))
    m = metrics(org, vs, period)
    # In: done 07-31 23:30 local and 07-01 00:30 local; out: 08-01 00:30 and 06-30 23:30 local.
    assert m["flow_velocity"] == 2
    assert (m["flow_velocity_feature"], m["flow_velocity_defect"]) == (1, 1)
    # At P.end (08-01 00:00 local) OUT_NEXT is still active: the only WIP.
    assert m["flow_load"] == 1


def test_flow_load_avg_uses_local_day_ends(org):
    vs = stream(org, "vs")
    period = Period(dt.date(2026, 7, 1), dt.date(2026, 7, 2), "Europe/Berlin")
    # Berlin is UTC+2 in July: day ends 07-01 22:00Z and 07-02 22:00Z.
    item(org, vs, "A", "feature", ("2026-07-01T21:00Z", "active"), ("2026-07-01T23:00Z", "done"))
    # A is active at 07-01 22:00Z (end of local 07-01), done before the second end: 1 + 0.
    item(org, vs, "B", "feature", ("2026-07-02T22:00Z", "active"))
    # B starts exactly at P.end: not WIP at it (at < t), and not a candidate either.
    m = metrics(org, vs, period)
    assert m["flow_load_avg"] == pytest.approx(0.5)
    assert m["flow_load"] == 0


def test_flow_load_in_a_zone_off_the_steps(org):
    # Monrovia in 1970 was 44 min 30 s behind UTC: local midnight of 06-02 is
    # 06-02 00:44:30Z, inside the 15-minute step 00:30..00:45. B is WIP from
    # 00:40Z, before that midnight: WIP at the end of 06-01 and of 06-02. A is WIP
    # from 00:44:45Z, after it (same step): WIP at the end of 06-02 only.
    org.time_zone = "Africa/Monrovia"
    vs = stream(org, "old")
    item(org, vs, "A", "feature", ("1970-06-02T00:44:45", "active"))
    item(org, vs, "B", "feature", ("1970-06-02T00:40", "active"))
    m = metrics(org, vs, Period.for_organization(org, dt.date(1970, 6, 1), dt.date(1970, 6, 2)))
    # Day ends: 06-01 -> B (1); 06-02 -> A and B (2): avg 3 / 2 = 1.5, load 2.
    assert m["flow_load_avg"] == pytest.approx(1.5)
    assert m["flow_load"] == 2
