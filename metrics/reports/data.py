"""The quarterly report's figures (docs/metrics.md#the-quarterly-report), computed once and
frozen in ``QuarterlyReport.data``: everything the renderers (``metrics.reports.csv``,
``xlsx``, ``pdf``) draw, as plain JSON.

- Every value stream's flow and DORA metrics and every journey's KPIs come from
  ``kpis_for_period`` for the quarter and for the previous quarter, so the report's
  numbers are exactly the ``kpis`` command's for those dates.
- A quarter still in progress is reported to date (today included), against the same
  number of days from the start of the previous quarter, as the dashboards compare it.
  Its figures are computed again by every export until the first export after the
  quarter's end, which freezes them; a quarter that has not started is refused.
- Figures are frozen only once the files drawn from them are built
  (``quarterly_report_figures`` computes, ``quarterly_report_keep`` stores): an export
  that fails freezes nothing.
- Frozen figures are reused by every later export, whatever events arrive since, until
  an admin recomputes them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from journeys.models import Journey
from metrics import bands, journey_series, series
from metrics.definitions import DEFINITIONS_VERSION, DORA_KEYS
from metrics.engine import (
    ROUND_DIGITS,
    Period,
    kpis_for_period,
    streams_with_deployments,
)
from metrics.models import QuarterlyReport
from portfolio.models import KeyResult, Organization
from portfolio.okrs import (
    key_results_measure,
    local_today,
    okrs_for_quarter,
    quarter_dates,
    quarter_elapsed,
    quarter_of,
    quarter_shift,
)
from streams.models import ValueStream

# The summary's columns: the figures an executive reads first.
SUMMARY_STREAM_KEYS = (
    "flow_velocity",
    "flow_time_median_days",
    "flow_efficiency",
    "flow_load",
    "deployment_frequency_per_day",
    "change_failure_rate",
)
SUMMARY_JOURNEY_KEYS = ("nps", "conversion_rate", "journey_lead_time_median_days", "retention_rate")

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# Bumped when the shape of ``QuarterlyReport.data`` changes, so renderers can tell.
DATA_VERSION = 1


@dataclass(frozen=True)
class ReportPeriod:
    quarter: str
    date_from: dt.date
    date_to: dt.date  # the quarter's last day, or today while it is in progress
    quarter_end: dt.date
    previous_quarter: str
    previous_from: dt.date
    previous_to: dt.date
    in_progress: bool


def report_period(
    *, organization: Organization, quarter: str, now: dt.datetime | None = None
) -> ReportPeriod:
    """The dates a report of ``quarter`` covers, and those it is compared with.

    Raises ValidationError for a string that is not a quarter and for a quarter that
    has not started yet in the organization's time zone.
    """
    start, end = quarter_dates(quarter)
    today = local_today(organization, now)
    if today < start:
        raise ValidationError(
            {
                "quarter": f"{quarter} has not started yet (it starts on {start.isoformat()}); "
                f"the latest quarter with figures is {quarter_of(today)}."
            }
        )
    previous = quarter_shift(quarter, -1)
    prev_start, prev_end = quarter_dates(previous)
    in_progress = today <= end
    date_to = today if in_progress else end
    # Like for like: a quarter to date against as many days of the previous quarter.
    prev_to = min(prev_start + (date_to - start), prev_end) if in_progress else prev_end
    return ReportPeriod(quarter, start, date_to, end, previous, prev_start, prev_to, in_progress)


def figures_in_progress(
    *, organization: Organization, quarter: str, computed_at: dt.datetime
) -> bool:
    """Whether figures of ``quarter`` computed at ``computed_at`` were computed while it
    was in progress: they run to that day and are not frozen (an export's figures,
    whose ``frozen_at`` says when they were computed, are of either kind)."""
    return report_period(organization=organization, quarter=quarter, now=computed_at).in_progress


def recent_quarters(*, organization: Organization, count: int = 8) -> list[str]:
    """The current quarter and the ``count - 1`` before it, newest first."""
    current = quarter_of(local_today(organization))
    return [quarter_shift(current, -n) for n in range(count)]


def last_full_quarter(*, organization: Organization) -> str:
    return quarter_shift(quarter_of(local_today(organization)), -1)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, ROUND_DIGITS)


def _tree_order(streams: list[ValueStream]) -> list[tuple[ValueStream, int]]:
    """Streams depth-first by name, each with its depth in the cascade (roots are 0)."""
    ids = {s.pk for s in streams}
    children: dict[int | None, list[ValueStream]] = defaultdict(list)
    for s in sorted(streams, key=lambda s: (s.name.lower(), s.slug)):
        children[s.parent_id if s.parent_id in ids else None].append(s)
    ordered: list[tuple[ValueStream, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for s in children[parent]:
            ordered.append((s, depth))
            walk(s.pk, depth + 1)

    walk(None, 0)
    return ordered


def _bands(
    organization: Organization, values: dict[str, Any], *, deployments_on_record: bool
) -> dict[str, Any]:
    """Each DORA key's band and its words; ``band`` is null and ``text`` says why where a
    value has no band (no deployment on record); null for a null value."""
    found = {}
    for key in DORA_KEYS:
        band, text = bands.band_and_text(
            key,
            values[key],
            year=organization.dora_report_year,
            deployments_on_record=deployments_on_record,
        )
        found[key] = {"band": band.value if band else None, "text": text} if text else None
    return found


def _stream_series(organization: Organization, stream_id: int, period: Period) -> dict[str, Any]:
    weekly = series.weekly_series(
        organization=organization, value_stream_id=stream_id, period=period
    )
    daily = series.daily_series(organization=organization, value_stream_id=stream_id, period=period)
    return {
        "weeks": [w.isoformat() for w in weekly.weeks],
        "velocity": weekly.velocity,
        "median_days": [_round(v) for v in weekly.median_days],
        "p85_days": [_round(v) for v in weekly.p85_days],
        "days": [d.isoformat() for d in daily.days],
        "states": daily.states,
    }


def _objective_depths(objectives: list[dict[str, Any]]) -> None:
    """Each objective's depth in the quarter's alignment tree (parents come first)."""
    depth: dict[int, int] = {}
    for o in objectives:
        o["depth"] = depth[o["parent_id"]] + 1 if o["parent_id"] in depth else 0
        depth[o["id"]] = o["depth"]


def report_data_build(
    *, organization: Organization, quarter: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The report's figures for ``quarter``, computed now (see the module docstring)."""
    now = now or timezone.now()
    p = report_period(organization=organization, quarter=quarter, now=now)
    current = kpis_for_period(organization=organization, date_from=p.date_from, date_to=p.date_to)
    previous = kpis_for_period(
        organization=organization, date_from=p.previous_from, date_to=p.previous_to
    )
    period = Period.for_organization(organization, p.date_from, p.date_to)

    # Linked key results follow their metrics: measure them now (as the workers do
    # after a recompute) so the OKRs agree with the metrics beside them.
    linked = KeyResult.objects.filter(organization=organization, objective__quarter=quarter)
    linked_ids = list(linked.exclude(metric_key="").values_list("pk", flat=True))
    if linked_ids:
        key_results_measure(organization=organization, key_result_ids=linked_ids, now=now)
    objectives = [
        asdict(o) for o in okrs_for_quarter(organization=organization, quarter=quarter, now=now)
    ]
    _objective_depths(objectives)
    for o in objectives:
        for kr in o["key_results"]:
            # Rounded as kpis_for_period rounds the metrics it is measured from.
            kr["current"] = _round(kr["current"])
    by_stream: dict[int, list[int]] = defaultdict(list)
    by_journey: dict[int, list[int]] = defaultdict(list)
    for o in objectives:
        for vs in o["value_streams"]:
            by_stream[vs["id"]].append(o["id"])
        for j in o["journeys"]:
            by_journey[j["id"]].append(o["id"])

    streams = list(ValueStream.objects.filter(organization=organization).select_related("parent"))
    deploying = streams_with_deployments(
        organization=organization, value_stream_ids=[s.pk for s in streams], period=period
    )
    deploying_before = streams_with_deployments(
        organization=organization,
        value_stream_ids=[s.pk for s in streams],
        period=Period.for_organization(organization, p.previous_from, p.previous_to),
    )
    value_streams = []
    for s, depth in _tree_order(streams):
        now_values = current["value_streams"][s.slug]
        value_streams.append(
            {
                "id": s.pk,
                "slug": s.slug,
                "name": s.name,
                "kind": s.kind,
                "parent": s.parent.slug if s.parent else None,
                "parent_name": s.parent.name if s.parent else None,
                "depth": depth,
                "metrics": now_values,
                "previous": previous["value_streams"][s.slug],
                "bands": _bands(organization, now_values, deployments_on_record=s.pk in deploying),
                "previous_bands": _bands(
                    organization,
                    previous["value_streams"][s.slug],
                    deployments_on_record=s.pk in deploying_before,
                ),
                "objectives": by_stream[s.pk],
                "series": _stream_series(organization, s.pk, period),
            }
        )

    journeys = []
    for j in Journey.objects.filter(organization=organization).order_by("name", "slug"):
        weekly = journey_series.weekly_nps(
            organization=organization, journey_id=j.pk, period=period
        )
        journeys.append(
            {
                "id": j.pk,
                "slug": j.slug,
                "name": j.name,
                "persona": j.persona,
                "metrics": current["journeys"][j.slug],
                "previous": previous["journeys"][j.slug],
                "objectives": by_journey[j.pk],
                "weekly_nps": {
                    "weeks": [w.isoformat() for w in weekly.weeks],
                    "nps": [_round(v) for v in weekly.nps],
                    "responses": weekly.responses,
                },
            }
        )

    return {
        "data_version": DATA_VERSION,
        "definitions_version": DEFINITIONS_VERSION,
        "dora_report_year": organization.dora_report_year,
        "organization": {
            "slug": organization.slug,
            "name": organization.name,
            "time_zone": organization.time_zone,
        },
        "quarter": quarter,
        "period": {"from": p.date_from.isoformat(), "to": p.date_to.isoformat()},
        "quarter_end": p.quarter_end.isoformat(),
        "in_progress": p.in_progress,
        "previous": {
            "quarter": p.previous_quarter,
            "from": p.previous_from.isoformat(),
            "to": p.previous_to.isoformat(),
        },
        "okr_elapsed": quarter_elapsed(organization, quarter, now),
        "value_streams": value_streams,
        "journeys": journeys,
        "objectives": objectives,
    }


def _lock(organization_id: int, quarter: str) -> None:
    """Serialize the freezing of one (organization, quarter) in this transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            [organization_id, f"quarterly-report:{quarter}"],
        )


@transaction.atomic
def quarterly_report_figures(
    *,
    organization: Organization,
    quarter: str,
    user: AbstractBaseUser | None = None,
    recompute: bool = False,
    now: dt.datetime | None = None,
) -> QuarterlyReport:
    """The quarter's report figures: the frozen ones when the quarter has ended and they
    cover all of it (unless ``recompute``), else figures computed now, in a report not
    stored yet (its ``pk`` is None) that ``quarterly_report_keep`` freezes.

    Waits for another computation of the same quarter in progress, so two never run
    at once (the lock lasts as long as the caller's transaction). Raises
    ValidationError for a bad or future quarter.
    """
    report_period(organization=organization, quarter=quarter, now=now)
    _lock(organization.pk, quarter)
    stored = QuarterlyReport.objects.filter(organization=organization, quarter=quarter).first()
    if stored is not None and not stored.in_progress and not recompute:
        return stored
    now = now or timezone.now()
    data = report_data_build(organization=organization, quarter=quarter, now=now)
    person = user if user is not None and user.is_authenticated else None
    data["frozen_at"] = now.isoformat()
    data["frozen_by"] = person.email if person else None
    return QuarterlyReport(
        organization=organization,
        quarter=quarter,
        data=data,
        frozen_at=now,
        frozen_by=person,
        in_progress=data["in_progress"],
    )


@transaction.atomic
def quarterly_report_keep(*, report: QuarterlyReport, recompute: bool = False) -> QuarterlyReport:
    """Store (freeze) figures ``quarterly_report_figures`` computed, and answer the
    quarter's stored report.

    An export calls it only once every file drawn from the figures is built, so a
    failed export freezes nothing. Should another export have frozen the quarter
    since these figures were computed (and this is not a recompute), its figures stay
    and are answered instead: the caller draws its files again from them.
    """
    _lock(report.organization_id, report.quarter)
    stored = QuarterlyReport.objects.filter(
        organization_id=report.organization_id, quarter=report.quarter
    ).first()
    if stored is not None and stored.frozen_at == report.frozen_at:
        return stored
    if (
        stored is not None
        and not recompute
        and (not stored.in_progress or stored.frozen_at > report.frozen_at)
    ):
        return stored
    return _store(report)


def _store(report: QuarterlyReport) -> QuarterlyReport:
    """Save fresh figures as the quarter's report, in place of any stored before."""
    report.pk = (
        QuarterlyReport.objects.filter(
            organization_id=report.organization_id, quarter=report.quarter
        )
        .values_list("pk", flat=True)
        .first()
    )
    report.save()
    return report


@transaction.atomic
def quarterly_report_freeze(
    *,
    organization: Organization,
    quarter: str,
    user: AbstractBaseUser | None = None,
    recompute: bool = False,
    now: dt.datetime | None = None,
) -> QuarterlyReport:
    """The quarter's report figures (``quarterly_report_figures``), frozen at once in the
    caller's transaction: for a caller that builds its file in that same transaction,
    as the ``export_report`` command does, so that a failure undoes the freeze too.

    Raises ValidationError for a bad or future quarter.
    """
    report = quarterly_report_figures(
        organization=organization, quarter=quarter, user=user, recompute=recompute, now=now
    )
    if report.pk is None:
        # The lock is still held: nothing can have been frozen since.
        report = _store(report)
    return report


def quarterly_reports_by_quarter(*, organization: Organization) -> dict[str, QuarterlyReport]:
    """The organization's stored report figures by quarter (without their data)."""
    return {
        r.quarter: r
        for r in QuarterlyReport.objects.filter(organization=organization)
        .select_related("frozen_by")
        .defer("data")
    }


def report_time_zone(data: dict[str, Any]) -> ZoneInfo:
    """The organization's time zone, which every time the report prints is in."""
    return ZoneInfo(data["organization"]["time_zone"])


def report_local_time(data: dict[str, Any], iso: str) -> dt.datetime:
    """An instant of the report's data (stored in ISO 8601 with its offset) as a time
    in the organization's zone, as the reports page shows it."""
    return dt.datetime.fromisoformat(iso).astimezone(report_time_zone(data))


def progress_percent(progress: float | None) -> float | None:
    """An OKR progress (0..1, as portfolio.okrs computes it) in percent, 0..100."""
    return None if progress is None else round(100 * progress, ROUND_DIGITS)
