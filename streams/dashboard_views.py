"""Dashboards: one value stream's flow and DORA metrics for a period, with charts and
drill-downs, and all streams side by side.

Quarters and months read the stored KPI snapshots when the workers have written
them, else compute live; a custom date range always computes live (metrics.engine).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import DurationField, ExpressionWrapper, F
from django.db.models import Value as V
from django.db.models.functions import Coalesce, Extract
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from metrics import bands, charts, series
from metrics.cache import metrics_cached
from metrics.definitions import DORA_KEYS, FLOW_TYPES
from metrics.engine import (
    Period,
    Value,
    parse_date_range,
    streams_with_deployments,
    value_stream_metrics,
)
from metrics.models import KpiSnapshot, PeriodKind
from metrics.snapshots import period_of
from metrics.tiles import metric_tile
from portfolio.models import Organization
from portfolio.tenancy import get_for_request, org_view
from streams.models import FlowItem, ValueStream

HEADLINE_KEYS = (
    "flow_velocity",
    "flow_time_median_days",
    "flow_time_p85_days",
    "flow_load",
    "flow_efficiency",
)
OVERVIEW_KEYS = ("flow_velocity", "flow_time_median_days", "flow_load", "flow_efficiency")
# A custom range is computed live, day by day for the charts: keep it bounded.
MAX_CUSTOM_DAYS = 731
RECENT_QUARTERS = 6
RECENT_MONTHS = 12
ITEMS_PAGE_SIZE = 25


@dataclass(frozen=True)
class PeriodChoice:
    kind: str  # quarter, month or custom
    period: Period
    previous: Period
    label: str
    # A quarter or month still in progress is shown up to today, against the same
    # number of days from the start of the previous one (stored snapshots cover
    # whole periods, so such a choice is computed live).
    to_date: bool = False

    @property
    def query(self) -> str:
        """The query string that selects this period again (links keep it)."""
        if self.kind == "custom":
            return (
                f"period=custom&from={self.period.date_from.isoformat()}"
                f"&to={self.period.date_to.isoformat()}"
            )
        return f"period={self.kind}&from={self.period.date_from.isoformat()}"


def _label(kind: str, start: dt.date, end: dt.date) -> str:
    if kind == PeriodKind.QUARTER:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if kind == PeriodKind.MONTH:
        return start.strftime("%B %Y")
    return f"{start.isoformat()} to {end.isoformat()}"


def _calendar_choice(org: Organization, kind: str, day: dt.date) -> PeriodChoice:
    start, end = period_of(kind, day)
    prev_start, prev_end = period_of(kind, start - dt.timedelta(days=1))
    today = timezone.localdate()  # the middleware's override: the organization's zone
    if start <= today < end:
        elapsed = (today - start).days  # days before today; today counts too
        return PeriodChoice(
            kind,
            Period.for_organization(org, start, today),
            Period.for_organization(
                org, prev_start, min(prev_start + dt.timedelta(days=elapsed), prev_end)
            ),
            f"{_label(kind, start, end)} to date",
            to_date=True,
        )
    return PeriodChoice(
        kind,
        Period.for_organization(org, start, end),
        Period.for_organization(org, prev_start, prev_end),
        _label(kind, start, end),
    )


def _choose_period(request: HttpRequest) -> tuple[PeriodChoice, str]:
    """The period the query string asks for, and an error message when it is unusable
    (then the current quarter is shown instead)."""
    org = request.organization
    today = timezone.localdate()  # the middleware's override: the organization's zone
    kind = request.GET.get("period") or PeriodKind.QUARTER
    raw_from, raw_to = request.GET.get("from", ""), request.GET.get("to", "")
    try:
        if kind in (PeriodKind.QUARTER, PeriodKind.MONTH):
            day = parse_date_range(raw_from, raw_from)[0] if raw_from else today
            return _calendar_choice(org, kind, day), ""
        if kind == "custom":
            date_from, date_to = parse_date_range(raw_from, raw_to)
            days = (date_to - date_from).days + 1
            if days > MAX_CUSTOM_DAYS:
                raise ValidationError(
                    f"to: the range has {days} days; at most {MAX_CUSTOM_DAYS} are allowed"
                )
            previous_to = date_from - dt.timedelta(days=1)
            return PeriodChoice(
                "custom",
                Period.for_organization(org, date_from, date_to),
                Period.for_organization(
                    org, previous_to - dt.timedelta(days=days - 1), previous_to
                ),
                _label("custom", date_from, date_to),
            ), ""
        error = f"period: '{kind}' is not one of quarter, month, custom"
    except ValidationError as exc:
        error = " ".join(exc.messages)
    return _calendar_choice(org, PeriodKind.QUARTER, today), error


def _recent_periods(today: dt.date) -> dict[str, list[tuple[str, str]]]:
    """The picker's options: (first day, label) of recent quarters and months."""
    options: dict[str, list[tuple[str, str]]] = {}
    for kind, count in ((PeriodKind.QUARTER, RECENT_QUARTERS), (PeriodKind.MONTH, RECENT_MONTHS)):
        day, items = today, []
        for _ in range(count):
            start, end = period_of(kind, day)
            items.append((start.isoformat(), _label(kind, start, end)))
            day = start - dt.timedelta(days=1)
        options[kind] = items
    return options


def _metrics(
    org: Organization, stream_ids: list[int], choice: PeriodChoice
) -> tuple[dict[int, dict[str, Value]], dict[int, dict[str, Value]]]:
    """Each stream's values for the period and for the previous one: from snapshots
    for quarters and months where every one is stored, else live."""
    wanted = {choice.period.date_from: choice.period, choice.previous.date_from: choice.previous}
    found: dict[dt.date, dict[int, dict[str, Value]]] = {start: {} for start in wanted}
    if choice.kind != "custom" and not choice.to_date:
        rows = KpiSnapshot.objects.filter(
            organization=org,
            value_stream_id__in=stream_ids,
            period_kind=choice.kind,
            period_start__in=list(wanted),
        ).values_list("period_start", "value_stream_id", "values")
        for start, stream_id, values in rows:
            found[start][stream_id] = values
    for start, period in wanted.items():
        if len(found[start]) < len(stream_ids):
            found[start] = value_stream_metrics(
                organization=org, value_stream_ids=stream_ids, period=period
            )
    return found[choice.period.date_from], found[choice.previous.date_from]


def _dora_tile(
    org: Organization, key: str, value: Value, previous: Value, *, deployments_on_record: bool
) -> dict[str, Any]:
    """A DORA tile with its band; ``band_text`` says why a number has no band."""
    tile = metric_tile(key, value, previous)
    found, text = bands.band_and_text(
        key, value, year=org.dora_report_year, deployments_on_record=deployments_on_record
    )
    tile["band"] = found.value if found else None
    tile["band_text"] = text
    return tile


def _period_context(request: HttpRequest) -> dict[str, Any]:
    choice, error = _choose_period(request)
    return {
        "choice": choice,
        "period_error": error,
        "recent": _recent_periods(timezone.localdate()),
        "kinds": (("quarter", "Quarter"), ("month", "Month"), ("custom", "Custom dates")),
    }


def _dashboard_data(
    org: Organization, stream: ValueStream, choice: PeriodChoice, drawn: Period
) -> dict[str, Any]:
    """What the dashboard computes from the stream's records (metrics of the period and
    of the previous one, data coverage, the charts of ``drawn``): the expensive part,
    which depends on nothing else, so that it can be cached (metrics.cache)."""
    current, previous = _metrics(org, [stream.pk], choice)
    now = current[stream.pk]
    weekly = series.weekly_series(organization=org, value_stream_id=stream.pk, period=drawn)
    daily = series.daily_series(organization=org, value_stream_id=stream.pk, period=drawn)
    velocity_by_type = {t: now[f"flow_velocity_{t}"] or 0 for t in FLOW_TYPES}
    return {
        "now": now,
        "before": previous[stream.pk],
        "deployments_on_record": bool(
            streams_with_deployments(
                organization=org, value_stream_ids=[stream.pk], period=choice.period
            )
        ),
        "velocity_by_type": velocity_by_type,
        "coverage": series.data_coverage(
            organization=org, value_stream_id=stream.pk, period=choice.period
        ),
        "charts": {
            "velocity": charts.velocity_by_type_svg(weekly.weeks, weekly.velocity),
            "flow_time": charts.flow_time_trend_svg(
                weekly.weeks, weekly.median_days, weekly.p85_days
            ),
            "cfd": charts.cumulative_flow_svg(daily.days, daily.states),
            "distribution": charts.distribution_svg(velocity_by_type),
            "load": charts.flow_load_svg(daily.days, daily.wip),
        },
    }


def _board(
    org: Organization, stream: ValueStream, ctx: dict[str, Any], drawn: Period
) -> dict[str, Any]:
    """The dashboard's board: its tiles, charts and coverage, and all of them rendered
    as HTML (streams/dashboard.html#board, everything below the page's own chrome)."""
    choice: PeriodChoice = ctx["choice"]
    data = _dashboard_data(org, stream, choice, drawn)
    now, before = data["now"], data["before"]
    board = {
        "headline": [metric_tile(k, now[k], before[k]) for k in HEADLINE_KEYS],
        "distribution": [
            {
                **metric_tile(f"flow_distribution_{t}", now[f"flow_distribution_{t}"], None),
                "type": t,
                "count": data["velocity_by_type"][t],
            }
            for t in FLOW_TYPES
        ],
        "dora": [
            _dora_tile(
                org, k, now[k], before[k], deployments_on_record=data["deployments_on_record"]
            )
            for k in DORA_KEYS
        ],
        "report_year": org.dora_report_year,
        "coverage": data["coverage"],
        "charts": data["charts"],
    }
    context = {**ctx, **board, "organization": org, "stream": stream}
    board["board"] = render_to_string("streams/dashboard.html#board", context)
    return board


@require_GET
@org_view()
def stream_dashboard(request: HttpRequest, value_stream_id: int) -> HttpResponse:
    org = request.organization
    stream = get_for_request(request, ValueStream, pk=value_stream_id)
    ctx = _period_context(request)
    choice: PeriodChoice = ctx["choice"]
    # Charts of the current period stop today: the days ahead have no history yet.
    drawn = choice.period
    today = timezone.localdate()
    if drawn.date_from <= today < drawn.date_to:
        drawn = Period.for_organization(org, drawn.date_from, today)
    # Drawing the charts costs far more than the rest of the page, and rendering the
    # board (tiles, charts, coverage) most of what is left: both are computed once per
    # state of the organization's metric inputs (metrics.cache). The board depends on
    # nothing of the viewer (no role, no form token), so it is shared by every member.
    # Besides the stamp (which covers the stream's name) it depends on the period, on
    # today (the picker's options) and on the organization's settings it shows.
    board = metrics_cached(
        organization=org,
        name="stream_dashboard",
        parts=(
            stream.pk,
            choice.kind,
            choice.to_date,
            choice.period,
            choice.previous,
            drawn,
            ctx["period_error"],
            today,
            org.slug,
            org.time_zone,
            org.dora_report_year,
        ),
        compute=lambda: _board(org, stream, ctx, drawn),
    )
    ctx.update({"stream": stream, **board})
    return render(request, "streams/dashboard.html", ctx)


@require_GET
@org_view()
def stream_dashboard_items(request: HttpRequest, value_stream_id: int) -> HttpResponse:
    """The drill-down behind flow velocity and flow time: the items done in the period
    (the stream's and its descendants'), with their flow times, paginated."""
    org = request.organization
    stream = get_for_request(request, ValueStream, pk=value_stream_id)
    ctx = _period_context(request)
    choice: PeriodChoice = ctx["choice"]
    ids = series.stream_and_descendant_ids(organization=org, value_stream_id=stream.pk)
    sort = "flow_time" if request.GET.get("sort") == "flow_time" else "done"
    items = (
        FlowItem.objects.filter(
            organization=org,
            value_stream_id__in=ids,
            done_at__gte=choice.period.start,
            done_at__lt=choice.period.end,
        )
        .select_related("value_stream")
        .annotate(
            flow_time=ExpressionWrapper(
                F("done_at") - Coalesce("started_at", "done_at"), output_field=DurationField()
            ),
            flow_days=Extract("flow_time", "epoch") / V(86400.0),
            active_days=F("active_seconds") / V(86400.0),
        )
        .order_by("-flow_time" if sort == "flow_time" else "-done_at", "key")
    )
    ctx.update(
        {
            "stream": stream,
            "sort": sort,
            "page_obj": Paginator(items, ITEMS_PAGE_SIZE).get_page(request.GET.get("page")),
        }
    )
    template = (
        "streams/dashboard_items.html#items" if request.htmx else "streams/dashboard_items.html"
    )
    return render(request, template, ctx)


@require_GET
@org_view()
def stream_overview(request: HttpRequest) -> HttpResponse:
    """Every value stream side by side for the period, in one engine call."""
    org = request.organization
    ctx = _period_context(request)
    streams = list(ValueStream.objects.filter(organization=org).order_by("name"))
    current, previous = _metrics(org, [s.pk for s in streams], ctx["choice"])
    deploying = streams_with_deployments(
        organization=org, value_stream_ids=[s.pk for s in streams], period=ctx["choice"].period
    )
    rows = []
    for s in streams:
        now, before = current[s.pk], previous[s.pk]
        rows.append(
            {
                "stream": s,
                "tiles": [metric_tile(k, now[k], before[k]) for k in OVERVIEW_KEYS],
                "dora": [
                    _dora_tile(org, k, now[k], before[k], deployments_on_record=s.pk in deploying)
                    for k in ("deployment_frequency_per_day", "change_failure_rate")
                ],
            }
        )
    ctx.update({"rows": rows, "report_year": org.dora_report_year})
    return render(request, "streams/overview.html", ctx)
