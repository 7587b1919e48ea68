"""The journey dashboard: one journey's KPIs for a period with their monthly trend, the
conversion funnel and time in each stage, NPS by week and by touchpoint, and the
events behind every number.

The journey counterpart of ``streams.dashboard_views``, whose period picker and tiles
it shares. Whole quarters and months read the stored KPI snapshots when the workers
have written them, else compute live (``metrics.journey_kpis``); a custom range or
a period in progress always computes live.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from journeys.models import (
    Channel,
    Journey,
    JourneyEvent,
    JourneyEventType,
    JourneyStage,
    Touchpoint,
)
from metrics import charts, journey_series
from metrics.definitions import JOURNEY_KEYS, METRICS
from metrics.engine import Period, Value
from metrics.journey_kpis import journey_metrics
from metrics.manual import manual_values
from metrics.models import KpiSnapshot, PeriodKind
from metrics.snapshots import period_of
from metrics.tiles import metric_display, metric_tile
from portfolio.models import Organization
from portfolio.tenancy import get_for_request, org_view
from streams.dashboard_views import PeriodChoice, _period_context

TREND_MONTHS = 6
EVENTS_PAGE_SIZE = 25
# Units that say nothing next to the number: the label already names the score,
# and events carry amounts without a currency.
SILENT_UNITS = frozenset({"score", "amount"})
# The events each KPI is computed from (docs/metrics.md#journey-kpis): its number links
# to those of them in the period. Retention's cohort was acquired before the period;
# what moves it within the period is the customers who churned.
DRILL_TYPES: dict[str, tuple[str, ...]] = {
    "nps": ("survey",),
    "conversion_rate": ("stage_entered",),
    "journey_lead_time_median_days": ("stage_entered",),
    "journey_cycle_time_median_days": ("stage_entered",),
    "fcr": ("case_resolved",),
    "renewal_rate": ("renewal_due", "renewed"),
    "retention_rate": ("churned",),
    "cost_per_acquisition": ("acquisition_cost", "acquired"),
    "claim_cost_avg": ("claim_paid",),
}
# The value a filter takes for events that name no stage or touchpoint (a survey
# answered outside any touchpoint, or one naming a touchpoint since deleted).
NONE = "none"


def _kpi_tile(key: str, value: Value, previous: Value) -> dict[str, Any]:
    """The metric's tile (metrics.tiles), with the unit it shows and the event types
    its number drills to."""
    tile = metric_tile(key, value, previous)
    tile["suffix"] = "" if tile["unit"] in SILENT_UNITS else tile["unit"]
    tile["types"] = DRILL_TYPES[key]
    return tile


def _kpis(
    org: Organization, journey: Journey, choice: PeriodChoice
) -> tuple[dict[str, Value], dict[str, Value]]:
    """The journey's KPIs for the period and the previous one: from snapshots for whole
    quarters and months where stored (and complete), else live."""
    wanted = {choice.period.date_from: choice.period, choice.previous.date_from: choice.previous}
    found: dict[dt.date, dict[str, Value]] = {}
    if choice.kind != "custom" and not choice.to_date:
        rows = KpiSnapshot.objects.filter(
            organization=org,
            journey=journey,
            period_kind=choice.kind,
            period_start__in=list(wanted),
        ).values_list("period_start", "values")
        found = {start: values for start, values in rows if set(JOURNEY_KEYS) <= values.keys()}
    for start, period in wanted.items():
        if start not in found:
            found[start] = journey_metrics(
                organization=org, journey_ids=[journey.pk], period=period
            )[journey.pk]
    return found[choice.period.date_from], found[choice.previous.date_from]


def _trend_months(last_day: dt.date) -> list[dt.date]:
    """The first days of the TREND_MONTHS months up to the one ``last_day`` is in."""
    months = [period_of(PeriodKind.MONTH, last_day)[0]]
    while len(months) < TREND_MONTHS:
        months.insert(0, period_of(PeriodKind.MONTH, months[0] - dt.timedelta(days=1))[0])
    return months


def _trends(org: Organization, journey: Journey, last_day: dt.date) -> dict[str, str]:
    """Each KPI's monthly values from the stored month snapshots (a month without one
    is a gap), drawn as a sparkline: one query for every KPI."""
    months = _trend_months(last_day)
    stored = dict(
        KpiSnapshot.objects.filter(
            organization=org,
            journey=journey,
            period_kind=PeriodKind.MONTH,
            period_start__in=months,
        ).values_list("period_start", "values")
    )
    trends = {}
    for key in JOURNEY_KEYS:
        values = [stored.get(m, {}).get(key) for m in months]
        described = ", ".join(
            f"{m:%b %Y} {metric_display(key, v)}" for m, v in zip(months, values, strict=True)
        )
        trends[key] = charts.sparkline_svg(
            months,
            values,
            chart_id=f"trend-{key}",
            title=f"{METRICS[key].label} by month: {described}",
        )
    return trends


def _drawn(org: Organization, period: Period) -> Period:
    """The period up to today: charts of a period in progress stop where history does."""
    today = timezone.localdate()
    if period.date_from <= today < period.date_to:
        return Period.for_organization(org, period.date_from, today)
    return period


def _week_query(period: Period, monday: dt.date) -> str:
    """The custom period of one chart week, cut to the period it belongs to."""
    first = max(monday, period.date_from)
    last = min(monday + dt.timedelta(days=6), period.date_to)
    return f"period=custom&from={first.isoformat()}&to={last.isoformat()}"


@require_GET
@org_view()
def journey_dashboard(request: HttpRequest, journey_id: int) -> HttpResponse:
    org = request.organization
    journey = get_for_request(request, Journey, pk=journey_id)
    ctx = _period_context(request)
    choice: PeriodChoice = ctx["choice"]
    now, before = _kpis(org, journey, choice)
    trends = _trends(org, journey, choice.period.date_to)
    funnel = journey_series.journey_funnel(
        organization=org, journey_id=journey.pk, period=choice.period
    )
    times = journey_series.journey_stage_times(
        organization=org, journey_id=journey.pk, period=choice.period
    )
    drawn = _drawn(org, choice.period)
    weekly = journey_series.weekly_nps(organization=org, journey_id=journey.pk, period=drawn)
    # Values entered by hand for this quarter or month stand beside the computed
    # ones, labelled as manual; a custom range has none.
    manual = (
        {}
        if choice.kind == "custom"
        else manual_values(
            organization=org,
            period_kind=choice.kind,
            period_start=choice.period.date_from,
            journey_ids=[journey.pk],
        ).get(("journey", journey.pk), {})
    )
    ctx.update(
        {
            "journey": journey,
            "tiles": [
                {
                    **_kpi_tile(k, now[k], before[k]),
                    "trend": trends[k],
                    "manual": manual.get(k),
                    "manual_display": metric_display(k, manual[k].value) if k in manual else "",
                }
                for k in JOURNEY_KEYS
            ],
            "funnel": funnel,
            "entry_stage": next((s for s in funnel.stages if s.is_entry), None),
            "stages": [
                {"stage": s, "time": times.get(s.stage_id), "last": n == len(funnel.stages) - 1}
                for n, s in enumerate(funnel.stages)
            ],
            "touchpoints": [
                {**asdict(tp), "channel_label": Channel(tp.channel).label if tp.channel else ""}
                for tp in journey_series.nps_by_touchpoint(
                    organization=org, journey_id=journey.pk, period=choice.period
                )
            ],
            "trend_months": TREND_MONTHS,
            "weeks": [
                {
                    "monday": monday,
                    "nps": nps,
                    "responses": responses,
                    "query": _week_query(drawn, monday),
                }
                for monday, nps, responses in zip(
                    weekly.weeks, weekly.nps, weekly.responses, strict=True
                )
            ],
            "nps_chart": charts.nps_trend_svg(weekly.weeks, weekly.nps),
            "none": NONE,
        }
    )
    return render(request, "journeys/dashboard.html", ctx)


def _event_filters(
    query: QueryDict, stages: list[JourneyStage], touchpoints: list[Touchpoint]
) -> tuple[dict[str, Any], list[str]]:
    """The drill-down's filters from the query string, and a message for each value that
    is not usable (that filter is then left out, and the message says so)."""
    filters: dict[str, Any] = {}
    errors: list[str] = []
    types = [t for t in query.getlist("type") if t]
    unknown = [t for t in types if t not in JourneyEventType.values]
    if unknown:
        errors.append(
            f"type: '{unknown[0]}' is not one of {', '.join(JourneyEventType.values)}; "
            "showing events of every type"
        )
    elif types:
        filters["types"] = types
    for name, objects in (("stage", stages), ("touchpoint", touchpoints)):
        raw = query.get(name, "")
        if not raw:
            continue
        if raw == NONE:
            filters[name] = None
            continue
        found = next((o for o in objects if str(o.pk) == raw), None)
        if found is None:
            # Another organization's id reads exactly like a missing one.
            errors.append(
                f"{name}: '{raw}' is not the id of a {name} of this journey "
                f"(or '{NONE}' for events without one); showing every {name}"
            )
        else:
            filters[name] = found
    return filters, errors


def _filter_query(choice: PeriodChoice, filters: dict[str, Any]) -> str:
    """The period and the usable filters as a query string, for paging and links."""
    pairs = [("type", t) for t in filters.get("types", ())]
    pairs += [
        (name, _selected(filters, name)) for name in ("stage", "touchpoint") if name in filters
    ]
    return "&".join(q for q in (choice.query, urlencode(pairs)) if q)


@require_GET
@org_view()
def journey_dashboard_events(request: HttpRequest, journey_id: int) -> HttpResponse:
    """The drill-down behind the dashboard's numbers: the journey's events in the period,
    filtered by type, stage and touchpoint, newest first, paginated."""
    org = request.organization
    journey = get_for_request(request, Journey, pk=journey_id)
    ctx = _period_context(request)
    choice: PeriodChoice = ctx["choice"]
    stages = list(
        JourneyStage.objects.filter(organization=org, journey=journey).order_by("position", "id")
    )
    touchpoints = list(
        Touchpoint.objects.filter(organization=org, journey=journey).order_by(
            "stage__position", "position", "id"
        )
    )
    filters, errors = _event_filters(request.GET, stages, touchpoints)
    events = JourneyEvent.objects.filter(
        organization=org, journey=journey, at__gte=choice.period.start, at__lt=choice.period.end
    )
    if "types" in filters:
        events = events.filter(type__in=filters["types"])
    if "stage" in filters:
        events = events.filter(stage=filters["stage"])
    if "touchpoint" in filters:
        events = events.filter(touchpoint=filters["touchpoint"])
    events = events.select_related("stage", "touchpoint").order_by("-at", "-id")
    ctx.update(
        {
            "journey": journey,
            "stages": stages,
            "touchpoints": touchpoints,
            "types": JourneyEventType.choices,
            "filters": filters,
            "type_labels": [JourneyEventType(t).label for t in filters.get("types", ())],
            "filter_errors": errors,
            "selected_stage": _selected(filters, "stage"),
            "selected_touchpoint": _selected(filters, "touchpoint"),
            "filter_query": _filter_query(choice, filters),
            "period_fields": list(QueryDict(choice.query).items()),
            "none": NONE,
            "page_obj": Paginator(events, EVENTS_PAGE_SIZE).get_page(request.GET.get("page")),
        }
    )
    template = (
        "journeys/dashboard_events.html#events"
        if request.htmx
        else "journeys/dashboard_events.html"
    )
    return render(request, template, ctx)


def _selected(filters: dict[str, Any], name: str) -> str:
    """The filter's value as its select option's value ('' for no filter)."""
    if name not in filters:
        return ""
    return NONE if filters[name] is None else str(filters[name].pk)
