"""Snapshots: one row per (stream, period), equal to the engine's values; recomputes are
idempotent, serialize under concurrency, and a burst of imports costs one recompute."""

import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.db import connection

from metrics.engine import Period, flow_item_facts_refresh, value_stream_metrics
from metrics.models import KpiSnapshot, PeriodKind
from metrics.snapshots import (
    period_of,
    periods_between,
    recompute_mark_dirty,
    recompute_take_dirty,
    snapshots_recompute,
)
from portfolio.tenancy import organization_context
from streams.models import FlowItem, FlowTransition, ValueStream
from streams.services import value_stream_save

UTC = dt.UTC
TODAY = dt.date(2026, 7, 15)


def test_periods_are_monday_weeks_calendar_months_and_quarters():
    assert period_of("week", dt.date(2026, 7, 15)) == (dt.date(2026, 7, 13), dt.date(2026, 7, 19))
    assert period_of("month", dt.date(2026, 2, 10)) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert period_of("quarter", dt.date(2026, 11, 30)) == (
        dt.date(2026, 10, 1),
        dt.date(2026, 12, 31),
    )
    quarters = list(periods_between("quarter", dt.date(2026, 3, 31), dt.date(2026, 7, 1)))
    assert quarters == [
        (dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
        (dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
        (dt.date(2026, 7, 1), dt.date(2026, 9, 30)),
    ]


def build(org) -> ValueStream:
    """Two streams, parent and child; three items done in June, one in July."""
    with organization_context(org.pk):
        parent = value_stream_save(organization=org, value_stream=ValueStream(slug="p", name="P"))
        child = value_stream_save(
            organization=org, value_stream=ValueStream(slug="c", name="C", parent=parent)
        )
        items = []
        for n, (stream, done) in enumerate(
            [(parent, 3), (child, 10), (child, 20), (parent, 33)], start=1
        ):
            item = FlowItem.objects.create(
                organization=org,
                value_stream=stream,
                key=f"K-{n}",
                type="feature",
                created_at=dt.datetime(2026, 6, 1, tzinfo=UTC),
            )
            start = dt.datetime(2026, 6, 1, 9, tzinfo=UTC)
            FlowTransition.objects.create(organization=org, item=item, at=start, state="active")
            FlowTransition.objects.create(
                organization=org, item=item, at=start + dt.timedelta(days=done), state="done"
            )
            items.append(item.pk)
        flow_item_facts_refresh(organization=org, item_ids=items)
    return parent


@pytest.mark.django_db
def test_snapshots_store_the_engines_values_for_every_period(tenant_a):
    org = tenant_a.org
    parent = build(org)
    with organization_context(org.pk):
        result = snapshots_recompute(organization=org, today=TODAY)
        # June 1 .. July 15: 7 weeks (Mon Jun 1 .. Sun Jul 19), 2 months, 2 quarters.
        assert result.periods == 7 + 2 + 2
        assert result.snapshots == 2 * result.periods
        june = KpiSnapshot.objects.get(
            organization=org,
            value_stream=parent,
            period_kind="month",
            period_start=dt.date(2026, 6, 1),
        )
        expected = value_stream_metrics(
            organization=org,
            value_stream_ids=[parent.pk],
            period=Period.for_organization(org, dt.date(2026, 6, 1), dt.date(2026, 6, 30)),
        )[parent.pk]
        # Parent rolls up its child: items done June 4, 11 and 21 (3 of them in June).
        assert june.values["flow_velocity"] == expected["flow_velocity"] == 3
        assert june.values == pytest.approx(expected)


@pytest.mark.django_db
def test_recompute_is_idempotent(tenant_a):
    org = tenant_a.org
    build(org)
    with organization_context(org.pk):
        snapshots_recompute(organization=org, today=TODAY)
        first = sorted(
            KpiSnapshot.objects.values_list("value_stream", "period_kind", "period_start", "values")
        )
        snapshots_recompute(organization=org, today=TODAY)
        again = sorted(
            KpiSnapshot.objects.values_list("value_stream", "period_kind", "period_start", "values")
        )
    assert again == first


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_recomputes_leave_one_row_each_with_the_serial_values(tenant_a):
    org = tenant_a.org
    build(org)
    with organization_context(org.pk):
        snapshots_recompute(organization=org, today=TODAY)
        serial = sorted(
            KpiSnapshot.objects.values_list("value_stream", "period_kind", "period_start", "values")
        )
        KpiSnapshot.objects.all().delete()
    errors = []

    def run() -> None:
        try:
            with organization_context(org.pk):
                snapshots_recompute(organization=org, today=TODAY)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with organization_context(org.pk):
        rows = sorted(
            KpiSnapshot.objects.values_list("value_stream", "period_kind", "period_start", "values")
        )
    assert rows == serial


@pytest.mark.django_db
def test_a_burst_of_imports_claims_one_recompute(tenant_a):
    org = tenant_a.org
    with organization_context(org.pk):
        recompute_mark_dirty(organization=org)
        recompute_mark_dirty(organization=org)
        assert recompute_take_dirty(organization=org) is True
        assert recompute_take_dirty(organization=org) is False


@pytest.mark.django_db
def test_recompute_kpis_command_runs_the_task_and_reports(tenant_a, capsys):
    build(tenant_a.org)
    call_command("recompute_kpis", "--org", "org-a")
    out = capsys.readouterr().out
    assert "snapshots over" in out
    with organization_context(tenant_a.org.pk):
        assert KpiSnapshot.objects.filter(
            organization=tenant_a.org, period_kind=PeriodKind.QUARTER
        ).exists()


@pytest.mark.django_db
def test_an_import_marks_snapshots_stale_and_queues_one_recompute_on_commit(
    tenant_a, django_capture_on_commit_callbacks
):
    import io

    from metrics.models import RecomputeState
    from streams.ingest import events_import

    org = tenant_a.org
    build(org)
    with organization_context(org.pk):
        csv = "key,type,title,value_stream,created_at\nNEW-1,defect,Bug,c,2026-07-01T10:00:00Z\n"
        with django_capture_on_commit_callbacks(execute=True) as queued:
            events_import(organization=org, kind="flow_items", rows=io.StringIO(csv))
            # Importing the same file again changes nothing and queues nothing.
            events_import(organization=org, kind="flow_items", rows=io.StringIO(csv))
        assert len(queued) == 1
        # The queued task (eager in tests) claimed the dirty flag and recomputed.
        assert RecomputeState.objects.get(organization=org).dirty_since is None
        assert KpiSnapshot.objects.filter(organization=org).exists()


@pytest.mark.django_db
def test_a_streams_metrics_do_not_depend_on_which_other_streams_are_computed_with_it(tenant_a):
    # The child's items are candidates of both the parent and the child when both
    # are computed in one call; each subject must still count them once.
    org = tenant_a.org
    parent = build(org)
    with organization_context(org.pk):
        child = ValueStream.objects.get(organization=org, slug="c")
        period = Period.for_organization(org, dt.date(2026, 6, 1), dt.date(2026, 6, 30))
        both = value_stream_metrics(
            organization=org, value_stream_ids=[parent.pk, child.pk], period=period
        )
        for stream in (parent, child):
            alone = value_stream_metrics(
                organization=org, value_stream_ids=[stream.pk], period=period
            )[stream.pk]
            assert both[stream.pk] == alone


@pytest.mark.django_db
def test_journeys_get_snapshots_of_their_kpis(tenant_a):
    import io

    from metrics.journey_kpis import journey_metrics
    from streams.ingest import events_import
    from tests.journeys.helpers import build_journey

    org = tenant_a.org
    journey = build_journey(org)
    text = (
        "key,journey,type,at,customer,ref,value,stage,touchpoint\n"
        "S-1,claim,survey,2026-07-02T09:00:00Z,c,,10,,\n"
        "S-2,claim,survey,2026-07-03T09:00:00Z,c,,3,,\n"
        "S-3,claim,survey,2026-04-03T09:00:00Z,c,,9,,\n"
    )
    with organization_context(org.pk):
        events_import(organization=org, kind="journey_events", rows=io.StringIO(text))
        snapshots_recompute(organization=org, today=TODAY)
        stored = {
            (kind, start): values
            for kind, start, values in KpiSnapshot.objects.filter(journey=journey).values_list(
                "period_kind", "period_start", "values"
            )
        }
        q3 = journey_metrics(
            organization=org,
            journey_ids=[journey.pk],
            period=Period(dt.date(2026, 7, 1), dt.date(2026, 9, 30)),
        )[journey.pk]
    # The first event (04-03) opens the history: 2026-Q2 and Q3 up to TODAY.
    assert stored[("quarter", dt.date(2026, 4, 1))]["nps"] == 100.0  # one promoter
    assert stored[("quarter", dt.date(2026, 7, 1))] == q3
    assert q3["nps"] == 0.0  # one promoter, one detractor
