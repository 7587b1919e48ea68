"""Recomputing the stored snapshots: every metric of every value stream for every
week, month and quarter that has events, up to today."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from journeys.models import Journey, JourneyEvent
from metrics.cache import metrics_inputs_changed
from metrics.engine import Period, value_stream_metrics
from metrics.journey_kpis import journey_metrics
from metrics.models import KpiSnapshot, PeriodKind, RecomputeState
from portfolio.models import Organization
from streams.models import Deployment, FlowItem, ValueStream

# Snapshots reach back at most this far: older periods keep their stored values.
HORIZON = dt.timedelta(days=2 * 366)


def period_of(kind: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """The week (Monday to Sunday), month or quarter containing ``day``, inclusive."""
    if kind == PeriodKind.WEEK:
        start = day - dt.timedelta(days=day.weekday())
        return start, start + dt.timedelta(days=6)
    if kind == PeriodKind.MONTH:
        start = day.replace(day=1)
    else:
        start = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    months = 1 if kind == PeriodKind.MONTH else 3
    year, month = divmod(start.month - 1 + months, 12)
    return start, dt.date(start.year + year, month + 1, 1) - dt.timedelta(days=1)


def periods_between(kind: str, first: dt.date, last: dt.date) -> Iterator[tuple[dt.date, dt.date]]:
    start, end = period_of(kind, first)
    while start <= last:
        yield start, end
        start, end = period_of(kind, end + dt.timedelta(days=1))


def _first_event_day(organization: Organization, today: dt.date) -> dt.date | None:
    tz = ZoneInfo(organization.time_zone)
    firsts = [
        FlowItem.objects.filter(organization=organization).aggregate(m=Min("created_at"))["m"],
        Deployment.objects.filter(organization=organization).aggregate(m=Min("deployed_at"))["m"],
        JourneyEvent.objects.filter(organization=organization).aggregate(m=Min("at"))["m"],
    ]
    firsts = [f.astimezone(tz).date() for f in firsts if f is not None]
    if not firsts:
        return None
    return max(min(firsts), today - HORIZON)


def _lock(organization_id: int, key: str) -> None:
    """Serialize recomputes of one (organization, subject, period) in this transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [organization_id, key])


@dataclass(frozen=True)
class RecomputeResult:
    periods: int
    snapshots: int


def snapshots_recompute(
    *, organization: Organization, today: dt.date | None = None
) -> RecomputeResult:
    """Recompute every value stream's and journey's snapshots, period by period (one
    transaction each, so a long recompute holds no lock for long). Idempotent."""
    today = today or timezone.now().astimezone(ZoneInfo(organization.time_zone)).date()
    first = _first_event_day(organization, today)
    stream_ids = list(
        ValueStream.objects.filter(organization=organization).values_list("pk", flat=True)
    )
    journey_ids = list(
        Journey.objects.filter(organization=organization).values_list("pk", flat=True)
    )
    if first is None or not (stream_ids or journey_ids):
        return RecomputeResult(0, 0)
    periods = snapshots = 0
    for kind in PeriodKind.values:
        for start, end in periods_between(kind, first, today):
            periods += 1
            snapshots += _recompute_period(organization, stream_ids, journey_ids, kind, start, end)
    # Pages show the new snapshots from now on, not what was cached from the old ones.
    metrics_inputs_changed(organization=organization)
    return RecomputeResult(periods, snapshots)


@transaction.atomic
def _recompute_period(
    organization: Organization,
    stream_ids: list[int],
    journey_ids: list[int],
    kind: str,
    start: dt.date,
    end: dt.date,
) -> int:
    # Locks in a fixed order (streams, then journeys, by id) so recomputes never deadlock.
    for stream_id in sorted(stream_ids):
        _lock(organization.pk, f"vs:{stream_id}:{kind}:{start.isoformat()}")
    for journey_id in sorted(journey_ids):
        _lock(organization.pk, f"j:{journey_id}:{kind}:{start.isoformat()}")
    period = Period.for_organization(organization, start, end)
    streams = value_stream_metrics(
        organization=organization, value_stream_ids=stream_ids, period=period
    )
    journeys = journey_metrics(organization=organization, journey_ids=journey_ids, period=period)
    now = timezone.now()
    defaults = {"period_end": end, "computed_at": now}
    for stream_id, metrics in streams.items():
        KpiSnapshot.objects.update_or_create(
            organization=organization,
            value_stream_id=stream_id,
            period_kind=kind,
            period_start=start,
            defaults={**defaults, "values": metrics},
        )
    for journey_id, metrics in journeys.items():
        KpiSnapshot.objects.update_or_create(
            organization=organization,
            journey_id=journey_id,
            period_kind=kind,
            period_start=start,
            defaults={**defaults, "values": metrics},
        )
    return len(streams) + len(journeys)


@transaction.atomic
def recompute_mark_dirty(*, organization: Organization) -> None:
    """Note that the organization's snapshots are stale (ingestion calls this)."""
    state, _ = RecomputeState.objects.select_for_update().get_or_create(organization=organization)
    if state.dirty_since is None:
        state.dirty_since = timezone.now()
        state.save(update_fields=["dirty_since"])
    # Every ingest, not only the first of a burst: live metrics change with each.
    metrics_inputs_changed(organization=organization)


@transaction.atomic
def recompute_take_dirty(*, organization: Organization) -> bool:
    """Claim a pending recompute: True once per burst of marks, False after."""
    state, _ = RecomputeState.objects.select_for_update().get_or_create(organization=organization)
    if state.dirty_since is None:
        return False
    state.dirty_since = None
    state.last_run_at = timezone.now()
    state.save(update_fields=["dirty_since", "last_run_at"])
    return True
