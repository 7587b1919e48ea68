"""OKR arithmetic (docs/metrics.md#okrs-progress-and-status, portfolio.okrs): progress,
weighted objective progress, status against the elapsed quarter, and linked key results
that follow their metric. Every expected value is worked out beside it."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from metrics.engine import kpis_for_period
from metrics.tasks import kpis_recompute
from portfolio.models import CheckIn, KeyResult, Objective
from portfolio.okrs import (
    Status,
    check_in_create,
    check_in_delete,
    key_results_measure,
    key_results_with_progress,
    objectives_with_progress,
    okr_status,
    okrs_for_quarter,
    quarter_dates,
    quarter_elapsed,
    quarter_shift,
    quarter_to_date,
)
from portfolio.services import key_result_save, objective_save
from portfolio.tenancy import organization_context
from streams.ingest import events_import
from streams.models import ValueStream
from streams.services import value_stream_save

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(tenant_a):
    with organization_context(tenant_a.org.pk):
        yield tenant_a.org


def objective(org, slug="o", quarter="2026-Q3", **kwargs) -> Objective:
    return objective_save(
        organization=org,
        objective=Objective(slug=slug, title=slug.title(), quarter=quarter, **kwargs),
    )


def manual_kr(org, obj, slug, baseline, target, *, weight=1.0, value=None) -> KeyResult:
    kr = key_result_save(
        organization=org,
        key_result=KeyResult(
            objective=obj, slug=slug, title=slug, baseline=baseline, target=target, weight=weight
        ),
    )
    if value is not None:
        check_in_create(organization=org, key_result=kr, value=value, confidence=5)
    return kr


def progress_of(org, kr: KeyResult) -> float | None:
    return key_results_with_progress(organization=org).get(pk=kr.pk).progress


# --- Quarters ----------------------------------------------------------------------------


def test_quarter_dates_shift_and_bad_quarters():
    assert quarter_dates("2026-Q1") == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert quarter_dates("2026-Q4") == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert quarter_shift("2026-Q1", -1) == "2025-Q4"
    assert quarter_shift("2026-Q4", 1) == "2027-Q1"
    for bad in ("2026-Q5", "2026Q1", "", "0000-Q1", "2026-q1"):
        with pytest.raises(ValidationError, match="is not a quarter such as 2026-Q3"):
            quarter_dates(bad)


def test_elapsed_share_of_the_quarter_is_in_the_organizations_time_zone(org):
    org.time_zone = "Australia/Sydney"  # UTC+10 in August
    # 2026-08-15 14:00Z is 2026-08-16 00:00 in Sydney: 46 days of Q3's 92 are gone.
    now = dt.datetime(2026, 8, 15, 14, tzinfo=dt.UTC)
    assert quarter_elapsed(org, "2026-Q3", now) == pytest.approx(46 / 92)
    assert quarter_elapsed(org, "2026-Q2", now) == 1.0
    assert quarter_elapsed(org, "2026-Q4", now) == 0.0
    # Quarter to date: 07-01 to today (Sydney's 08-16); nothing before Q4 starts.
    assert quarter_to_date(org, "2026-Q3", now) == (dt.date(2026, 7, 1), dt.date(2026, 8, 16))
    assert quarter_to_date(org, "2026-Q2", now) == (dt.date(2026, 4, 1), dt.date(2026, 6, 30))
    assert quarter_to_date(org, "2026-Q4", now) is None


# --- Progress ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "target", "current", "expected"),
    [
        (10, 20, 15, 0.5),  # (15 - 10) / (20 - 10)
        (10, 20, 25, 1.0),  # 1.5, clamped to 1
        (10, 20, 5, 0.0),  # -0.5, clamped to 0
        (10, 20, 10, 0.0),  # at the baseline
        # A metric that must go down: target below baseline.
        (12, 5, 8, 4 / 7),  # (8 - 12) / (5 - 12) = -4 / -7
        (12, 5, 5, 1.0),  # target met
        (12, 5, 3, 1.0),  # beyond the target: (3 - 12) / -7 = 1.29, clamped
        (12, 5, 13, 0.0),  # worse than the baseline: -1 / -7 < 0, clamped
        (-10, 10, 0, 0.5),  # an NPS from -10 to 10
    ],
)
def test_key_result_progress(org, baseline, target, current, expected):
    kr = manual_kr(org, objective(org), "kr", baseline, target, value=current)
    assert progress_of(org, kr) == pytest.approx(expected)


def test_an_unmeasured_key_result_has_no_progress(org):
    kr = manual_kr(org, objective(org), "kr", 12, 5)
    assert kr.current_value is None
    assert progress_of(org, kr) is None


def test_objective_progress_is_the_weighted_mean_of_the_measured_key_results(org):
    obj = objective(org)
    manual_kr(org, obj, "a", 0, 10, weight=2, value=5)  # 0.5, weight 2
    manual_kr(org, obj, "b", 12, 5, weight=1, value=5)  # 1.0, weight 1
    got = objectives_with_progress(organization=org).get(pk=obj.pk).progress
    assert got == pytest.approx((2 * 0.5 + 1 * 1.0) / 3)
    # Unmeasured: no data, so it neither counts as 0 nor weighs on the others.
    manual_kr(org, obj, "c", 0, 1, weight=1)
    got = objectives_with_progress(organization=org).get(pk=obj.pk).progress
    assert got == pytest.approx((2 * 0.5 + 1 * 1.0) / 3)


def test_an_objective_whose_key_results_have_no_data_has_no_data(org):
    """Its only key result says "No data": the objective is no data too, not 0% off
    track (the quarter is over, so a 0 would be off track)."""
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    obj = objective(org)
    manual_kr(org, obj, "a", 0, 10)
    manual_kr(org, obj, "b", 0, 10, weight=3)
    assert objectives_with_progress(organization=org).get(pk=obj.pk).progress is None
    (found,) = okrs_for_quarter(organization=org, quarter="2026-Q3", now=now)
    assert (found.progress, found.status) == (None, Status.NO_DATA)
    assert [kr.status for kr in found.key_results] == [Status.NO_DATA] * 2


def test_measured_key_results_with_no_weight_give_no_progress(org):
    obj = objective(org)
    manual_kr(org, obj, "a", 0, 10, weight=0, value=5)
    manual_kr(org, obj, "b", 0, 10, weight=2)  # weighs, but has no data
    assert objectives_with_progress(organization=org).get(pk=obj.pk).progress is None


def test_objective_without_key_results_or_weight_has_no_progress(org):
    empty = objective(org, "empty")
    weightless = objective(org, "weightless")
    manual_kr(org, weightless, "a", 0, 10, weight=0, value=5)
    rows = {o.slug: o.progress for o in objectives_with_progress(organization=org)}
    assert rows == {"empty": None, "weightless": None}
    assert empty.pk


TINY = 5e-324  # the smallest positive float
RANGE = "Enter a number from -1e15 to 1e15."


@pytest.mark.parametrize(
    ("baseline", "target", "current", "expected"),
    [
        (-1e15, 1e15, 1e15, 1.0),  # the widest span, the target reached
        (1e15, -1e15, -1e15, 1.0),  # the same, going down
        (1e15, -1e15, 1e15, 0.0),
        (0, TINY, 1e15, 1.0),  # (1e15 - 0) / 5e-324 is past any float: clamped to 1
        (0, -TINY, 1e15, 0.0),
        (0, 1e15, TINY, 0.0),  # 5e-339 is below any float: 0, not an underflow
        (-1e15, 1e15, TINY, 0.5),
        # A difference far below the values, from the numbers as written:
        # (100000.00000000004 - 1e5) / (100000.0000000001 - 1e5) = 4e-11 / 1e-10.
        (1e5, 1e5 + 1e-10, 1e5 + 5e-11, 0.4),
        (0.1, 0.3, 0.2, 0.5),
    ],
)
def test_progress_holds_for_the_extremes_of_the_allowed_range(
    org, baseline, target, current, expected
):
    kr = manual_kr(org, objective(org), "kr", baseline, target, value=current)
    assert progress_of(org, kr) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("weights", [(1e15, 1e15), (TINY, TINY), (TINY, 1e15), (1e15, 0)])
def test_objective_progress_holds_for_extreme_weights(org, weights):
    obj = objective(org)
    manual_kr(org, obj, "a", 0, 10, weight=weights[0], value=5)  # 0.5
    manual_kr(org, obj, "b", 0, TINY, weight=weights[1], value=1e15)  # 1.0
    got = objectives_with_progress(organization=org).get(pk=obj.pk).progress
    a, b = (w / max(weights) for w in weights)  # the same ratio, in floats that add up
    assert got == pytest.approx((a * 0.5 + b * 1.0) / (a + b))


def test_progress_of_numbers_stored_before_the_range_was_enforced(org):
    """Rows written before the range held (any finite float) still read: progress
    never raises a PostgreSQL overflow or underflow."""
    obj = objective(org)
    rows = {
        "wide": (-1e308, 1e308, 1e308, 1.0),
        "tiny-target": (0, 1e-308, 1e308, 1.0),
        "tiny-current": (0, 1e308, TINY, 0.0),
        "huge-back": (1e308, -1e308, 0, 0.5),
    }
    for slug in rows:
        manual_kr(org, obj, slug, 0, 10, weight=1)
    for slug, (baseline, target, current, _) in rows.items():
        KeyResult.objects.filter(slug=slug).update(
            baseline=baseline, target=target, current_value=current, weight=1e308
        )
    got = {kr.slug: kr.progress for kr in key_results_with_progress(organization=org)}
    assert got == pytest.approx({slug: row[3] for slug, row in rows.items()})
    objective_progress = objectives_with_progress(organization=org).get(pk=obj.pk).progress
    assert objective_progress == pytest.approx(2.5 / 4)


@pytest.mark.parametrize("field", ["baseline", "target", "weight"])
@pytest.mark.parametrize("number", [1e308, -1e308, 1e15 * (1 + 1e-15), float("inf")])
def test_a_key_result_refuses_a_number_outside_the_range(org, field, number):
    obj = objective(org)
    values = {"baseline": 0.0, "target": 10.0, "weight": 1.0, field: number}
    kr = KeyResult(objective=obj, slug="kr", title="kr", **values)
    with pytest.raises(ValidationError) as caught:
        key_result_save(organization=org, key_result=kr)
    assert caught.value.message_dict[field] == [RANGE] or (
        field == "weight" and RANGE in caught.value.message_dict[field]
    )
    assert not KeyResult.objects.exists()


def test_a_check_in_refuses_a_number_outside_the_range(org):
    kr = manual_kr(org, objective(org), "kr", -1e15, 1e15)
    for number in (1e308, -1e308, 1.0000000000000002e15):
        with pytest.raises(ValidationError) as caught:
            check_in_create(organization=org, key_result=kr, value=number)
        assert caught.value.message_dict == {"value": [RANGE]}
    check_in_create(organization=org, key_result=kr, value=-1e15)
    assert list(CheckIn.objects.values_list("value", flat=True)) == [-1e15]


# --- Status ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("progress", "elapsed", "status"),
    [
        (None, 0.5, Status.NO_DATA),
        (0.40, 0.5, Status.ON_TRACK),  # 10 points behind: on track
        (0.39, 0.5, Status.AT_RISK),  # 11 points behind
        (0.25, 0.5, Status.AT_RISK),  # 25 points behind: still at risk
        (0.24, 0.5, Status.OFF_TRACK),  # 26 points behind
        (0.0, 0.05, Status.ON_TRACK),  # the first days of a quarter
        (0.9, 0.5, Status.ON_TRACK),  # ahead
        (1.0, 1.0, Status.ON_TRACK),  # target reached
        (0.89, 1.0, Status.AT_RISK),  # the quarter is over, 11 points short
        (0.0, 1.0, Status.OFF_TRACK),
    ],
)
def test_status_compares_progress_with_the_elapsed_quarter(progress, elapsed, status):
    assert okr_status(progress, elapsed) == status


def test_okrs_of_a_quarter_parents_first_with_progress_and_status(org):
    now = dt.datetime(2026, 8, 16, tzinfo=dt.UTC)  # 46 of 92 days: elapsed 0.5
    parent = objective(org, "parent")
    child = objective(org, "child", parent=parent)
    objective(org, "other-quarter", quarter="2026-Q4")
    manual_kr(org, parent, "p", 0, 10, value=4)  # 0.4: on track at 0.5
    manual_kr(org, child, "c", 100, 0, value=80)  # (80-100)/(0-100) = 0.2: off track
    okrs = okrs_for_quarter(organization=org, quarter="2026-Q3", now=now)
    assert [(o.slug, o.parent) for o in okrs] == [("parent", None), ("child", "parent")]
    assert okrs[0].progress == pytest.approx(0.4)
    assert okrs[0].status == "on_track"
    assert okrs[1].status == "off_track"
    assert okrs[1].key_results[0].progress == pytest.approx(0.2)
    assert okrs[1].key_results[0].metric is None


# --- Check-ins ----------------------------------------------------------------------------


def test_the_latest_check_in_by_time_is_the_current_value(org, tenant_a):
    kr = manual_kr(org, objective(org), "kr", 0, 10)
    t1 = dt.datetime(2026, 7, 10, tzinfo=dt.UTC)
    t2 = dt.datetime(2026, 7, 20, tzinfo=dt.UTC)
    check_in_create(organization=org, key_result=kr, value=6, at=t2, author=tenant_a.editor)
    # Back-dated before the latest: history, not the current value.
    early = check_in_create(organization=org, key_result=kr, value=2, at=t1)
    kr.refresh_from_db()
    assert (kr.current_value, kr.current_as_of) == (6, t2)
    assert list(kr.check_ins.values_list("value", flat=True)) == [2, 6]
    latest = kr.check_ins.get(value=6)
    check_in_delete(organization=org, check_in=latest)
    kr.refresh_from_db()
    assert (kr.current_value, kr.current_as_of) == (2, t1)
    check_in_delete(organization=org, check_in=early)
    kr.refresh_from_db()
    assert kr.current_value is None


def test_check_ins_refuse_bad_values(org):
    kr = manual_kr(org, objective(org), "kr", 0, 10)
    with pytest.raises(ValidationError, match="Enter a number"):
        check_in_create(organization=org, key_result=kr, value=float("nan"))
    with pytest.raises(ValidationError, match="confidence"):
        check_in_create(organization=org, key_result=kr, value=1, confidence=11)
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    with pytest.raises(ValidationError, match="cannot be in the future"):
        check_in_create(organization=org, key_result=kr, value=1, at=future)
    assert not CheckIn.objects.filter(key_result=kr).exists()


# --- Linked key results -----------------------------------------------------------------------

ITEMS = """key,type,title,value_stream,created_at
A-1,feature,One,claims,2026-07-01T00:00:00Z
A-2,defect,Two,claims,2026-07-01T00:00:00Z
A-3,feature,Three,claims,2026-07-01T00:00:00Z
"""
# A-1 takes 4 days (07-02 to 07-06), A-2 takes 2 (07-03 to 07-05): median 3 days.
TRANSITIONS = """key,at,state
A-1,2026-07-02T00:00:00Z,active
A-1,2026-07-06T00:00:00Z,done
A-2,2026-07-03T00:00:00Z,active
A-2,2026-07-05T00:00:00Z,done
"""
# Later, A-3 is done in 9 days (07-10 to 07-19): median of 4, 2, 9 is 4 days.
MORE_TRANSITIONS = """key,at,state
A-3,2026-07-10T00:00:00Z,active
A-3,2026-07-19T00:00:00Z,done
"""


def _import(org, kind: str, text: str) -> None:
    events_import(organization=org, kind=kind, rows=io.StringIO(text))


def test_a_linked_key_result_follows_its_metric_after_an_import(org):
    claims = value_stream_save(
        organization=org, value_stream=ValueStream(slug="claims", name="Claims")
    )
    obj = objective(org)  # 2026-Q3, over by now: its quarter to date is all of it
    kr = key_result_save(
        organization=org,
        key_result=KeyResult(
            objective=obj,
            slug="flow-time",
            title="Flow time under 2 days",
            baseline=6,
            target=2,
            unit="days",
            metric_value_stream=claims,
            metric_key="flow_time_median_days",
        ),
    )
    # Measured when saved: no items done yet, so the metric is null.
    assert (kr.current_value, progress_of(org, kr)) == (None, None)

    _import(org, "flow_items", ITEMS)
    _import(org, "flow_transitions", TRANSITIONS)
    kpis_recompute.apply(args=[org.pk]).get()  # what the workers run after an ingest
    kr.refresh_from_db()
    assert kr.current_value == pytest.approx(3.0)
    assert progress_of(org, kr) == pytest.approx(0.75)  # (3 - 6) / (2 - 6)
    kpis = kpis_for_period(
        organization=org, date_from=dt.date(2026, 7, 1), date_to=dt.date(2026, 9, 30)
    )
    assert kr.current_value == kpis["value_streams"]["claims"]["flow_time_median_days"]

    _import(org, "flow_transitions", MORE_TRANSITIONS)
    kpis_recompute.apply(args=[org.pk]).get()
    kr.refresh_from_db()
    assert kr.current_value == pytest.approx(4.0)
    assert progress_of(org, kr) == pytest.approx(0.5)  # (4 - 6) / (2 - 6)

    # The readings form the history: when saved, null at the end of each of Q3's 13
    # weeks and now (nothing was done yet); then 3, then 4 days.
    history = list(kr.check_ins.order_by("at", "id").values_list("source", "value"))
    assert history == [("metric", None)] * 14 + [("metric", 3.0), ("metric", 4.0)]
    # Measuring again with the same events records nothing new.
    assert key_results_measure(organization=org).changed == 0
    assert kr.check_ins.count() == 16


def test_a_key_result_linked_late_gets_its_weekly_history_of_the_quarter(org):
    org.time_zone = "Europe/Berlin"
    org.save(update_fields=["time_zone"])
    claims = value_stream_save(
        organization=org, value_stream=ValueStream(slug="claims", name="Claims")
    )
    _import(org, "flow_items", ITEMS)
    _import(org, "flow_transitions", TRANSITIONS)
    kr = key_result_save(
        organization=org,
        key_result=KeyResult(
            objective=objective(org),
            slug="flow-time",
            title="Flow time",
            baseline=6,
            target=2,
            metric_value_stream=claims,
            metric_key="flow_time_median_days",
        ),
    )
    readings = list(kr.check_ins.order_by("at").values_list("at", "value"))
    # Q3's Sundays are 07-05 ... 09-27: 13 week ends, each read at the next local
    # midnight, then the reading of now.
    berlin = ZoneInfo("Europe/Berlin")
    assert [at.astimezone(berlin) for at, _ in readings[:13]] == [
        dt.datetime(2026, 7, 6, tzinfo=berlin) + dt.timedelta(weeks=w) for w in range(13)
    ]
    # To Sunday 07-05 (Berlin; A-2 done at 07-05 02:00 local): A-2 alone, 2 days.
    # From 07-12 on, A-1 (4 days) too: the median is 3 days.
    assert [value for _, value in readings] == [2.0] + [3.0] * 12 + [3.0]


def test_a_linked_key_result_takes_no_check_ins_and_future_quarters_wait(org):
    claims = value_stream_save(
        organization=org, value_stream=ValueStream(slug="claims", name="Claims")
    )
    future = objective(org, "future", quarter=quarter_shift("2026-Q4", 8))
    kr = key_result_save(
        organization=org,
        key_result=KeyResult(
            objective=future,
            slug="velocity",
            title="Velocity",
            baseline=0,
            target=10,
            metric_value_stream=claims,
            metric_key="flow_velocity",
        ),
    )
    with pytest.raises(ValidationError, match="measured by the workers, not checked in"):
        check_in_create(organization=org, key_result=kr, value=3)
    assert key_results_measure(organization=org).measured == 0
    assert not kr.check_ins.exists()


def test_moving_an_objective_to_another_quarter_measures_its_key_results_again(org):
    claims = value_stream_save(
        organization=org, value_stream=ValueStream(slug="claims", name="Claims")
    )
    _import(org, "flow_items", ITEMS)
    _import(org, "flow_transitions", TRANSITIONS)
    obj = objective(org, quarter="2026-Q2")
    kr = key_result_save(
        organization=org,
        key_result=KeyResult(
            objective=obj,
            slug="velocity",
            title="Velocity",
            baseline=0,
            target=4,
            metric_value_stream=claims,
            metric_key="flow_velocity",
        ),
    )
    assert kr.current_value == 0  # nothing done in Q2
    obj.quarter = "2026-Q3"
    objective_save(organization=org, objective=obj)
    kr.refresh_from_db()
    assert kr.current_value == 2  # done in Q3
    # Q2's readings are gone; Q3's start again, with its weekly history.
    assert kr.check_ins.filter(at__lt=dt.datetime(2026, 7, 1, tzinfo=dt.UTC)).count() == 0
    assert kr.check_ins.order_by("at").first().value == 1  # to 07-05: A-2, done that day
    # Unlinked, it is a manual key result again, with no check-ins yet.
    kr.metric_value_stream, kr.metric_key = None, ""
    key_result_save(organization=org, key_result=kr)
    assert kr.current_value is None
