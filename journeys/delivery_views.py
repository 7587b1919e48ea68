"""The journey-to-delivery view: a journey's stages and touchpoints with their KPIs,
beside the value streams that deliver them and those streams' flow and DORA metrics.

It answers the question "for this journey's weak stage, which value streams and
teams serve it, and how is their flow?" (docs/metrics.md#customer-journeys) for one
period, picked as on the value stream dashboard (streams.dashboard_views).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from journeys import selectors
from journeys.models import Journey, JourneyStage, Touchpoint
from metrics import bands
from metrics.definitions import METRICS
from metrics.engine import Value, value_stream_metrics
from metrics.journey_delivery import StageTouchpointMetrics, stage_touchpoint_metrics
from metrics.tiles import metric_display
from portfolio.models import Component, Organization, Team
from portfolio.tenancy import get_for_request, org_view
from streams.dashboard_views import PeriodChoice, _period_context
from streams.models import StageComponent, ValueStream

# The delivery numbers shown beside each touchpoint (docs/metrics.md#flow-metrics
# and #dora-metrics); the DORA ones carry their band.
DELIVERY_KEYS = (
    "flow_time_median_days",
    "flow_load",
    "flow_efficiency",
    "change_failure_rate",
    "time_to_restore_median_hours",
)
# The survey responses an NPS needs to take part in the ranking. Below it one answer
# moves the score by 50 points or more (a single detractor is -100): such a figure is
# shown with its count but ranked as if there were none, so that one unhappy customer
# does not make a touchpoint the journey's weakest.
MIN_RESPONSES_TO_RANK = 3
WEAKNESS_RULE = (
    "Weakest first: lowest touchpoint NPS first (touchpoints with fewer than "
    f"{MIN_RESPONSES_TO_RANK} survey responses, too few to rank, after those with "
    "more), then lower emotion, then lower stage conversion; each stage follows its "
    "weakest touchpoint."
)
ORDERS = ("weakest", "journey")
MINUS = "\u2212"  # as the journey map writes negative scores


# --- Formatting ----------------------------------------------------------------------


def _signed(value: Value) -> str:
    """An NPS (-100..100) as a whole signed number, with a real minus sign."""
    if value is None:
        return "—"
    rounded = round(value)
    return f"+{rounded}" if rounded > 0 else str(rounded).replace("-", MINUS)


def _percent(value: Value) -> str:
    return "—" if value is None else f"{value:.0f}%"


def _days(value: Value) -> str:
    return "—" if value is None else f"{value:,.1f} days"


# --- Rows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryMetric:
    key: str
    label: str
    unit: str
    value: Value
    display: str
    band: str | None = None
    band_text: str = ""


@dataclass(frozen=True)
class DeliveryStream:
    """A value stream behind a touchpoint, with its metrics for the period. ``via`` is
    empty for the stream of the touchpoint's own value-stream stage; for a stream it
    cascades to, the touchpoint's components that the stream's stages touch."""

    stream: ValueStream
    metrics: list[DeliveryMetric]
    via: list[Component] = field(default_factory=list)
    rolled_up: bool = False  # its numbers include the streams it cascades to


@dataclass
class TouchpointRow:
    touchpoint: Touchpoint
    nps: Value
    responses: int
    conversion: Value  # its stage's
    components: list[Component]  # the touchpoint's own
    stage_components: list[Component]  # its value-stream stage's, not already listed
    teams: list[Team]
    streams: list[DeliveryStream]
    rank: int = 0  # 1 = the weakest touchpoint of the journey

    @property
    def nps_display(self) -> str:
        return _signed(self.nps)

    @property
    def ranked(self) -> bool:
        """Whether its NPS takes part in the ranking (MIN_RESPONSES_TO_RANK)."""
        return rankable(self.nps, self.responses) is not None


@dataclass
class StageGroup:
    stage: JourneyStage
    nps: Value
    responses: int
    conversion: Value
    time_in_stage_days: Value
    touchpoints: list[TouchpointRow]
    last: bool  # no later stage: conversion and time in stage are undefined

    @property
    def nps_display(self) -> str:
        return _signed(self.nps)

    @property
    def conversion_display(self) -> str:
        return _percent(self.conversion)

    @property
    def time_in_stage_display(self) -> str:
        return _days(self.time_in_stage_days)


def rankable(nps: Value, responses: int) -> Value:
    """The NPS the ranking uses: None below MIN_RESPONSES_TO_RANK responses."""
    return nps if responses >= MIN_RESPONSES_TO_RANK else None


def weakness(nps: Value, emotion: int | None, conversion: Value) -> tuple:
    """The sort key of the weakness rule (WEAKNESS_RULE): lower sorts first, and an
    unknown value after every known one."""
    return (
        nps is None,
        nps or 0,
        emotion is None,
        emotion or 0,
        conversion is None,
        conversion or 0,
    )


# --- Reads ---------------------------------------------------------------------------


def _stages(organization: Organization, journey: Journey) -> list[JourneyStage]:
    """The journey's stages in order, each with its touchpoints, their components
    and teams, and their value-stream stage with its stream, components and teams."""
    components = Component.objects.filter(organization=organization).select_related("team")
    touchpoints = selectors.touchpoints_for_map(organization=organization).prefetch_related(
        Prefetch("value_stream_stage__components", queryset=components.order_by("name", "id"))
    )
    return list(
        JourneyStage.objects.filter(organization=organization, journey=journey)
        .prefetch_related(Prefetch("touchpoints", queryset=touchpoints))
        .order_by("position", "id")
    )


@dataclass(frozen=True)
class StreamGraph:
    """Every value stream of the organization, its children, and the components its
    stages touch: enough to find the streams a touchpoint's stream cascades to."""

    streams: dict[int, ValueStream]
    children: dict[int, list[int]]
    components: dict[int, set[int]]

    def descendants(self, stream_id: int) -> list[int]:
        found: list[int] = []
        todo, seen = list(self.children.get(stream_id, [])), {stream_id}
        while todo:
            current = todo.pop()
            if current in seen:  # a parent cycle must not loop forever
                continue
            seen.add(current)
            found.append(current)
            todo.extend(self.children.get(current, []))
        return found


def _stream_graph(organization: Organization) -> StreamGraph:
    streams = {
        s.pk: s
        for s in ValueStream.objects.filter(organization=organization).only(
            "id", "name", "kind", "parent_id"
        )
    }
    children: dict[int, list[int]] = {}
    for s in streams.values():
        if s.parent_id is not None:
            children.setdefault(s.parent_id, []).append(s.pk)
    components: dict[int, set[int]] = {}
    for stream_id, component_id in StageComponent.objects.filter(
        organization=organization
    ).values_list("stage__value_stream_id", "component_id"):
        components.setdefault(stream_id, set()).add(component_id)
    return StreamGraph(streams=streams, children=children, components=components)


# --- Assembly ------------------------------------------------------------------------


def _delivery_metrics(organization: Organization, values: dict[str, Value]) -> list[DeliveryMetric]:
    year = organization.dora_report_year
    metrics = []
    for key in DELIVERY_KEYS:
        value = values[key]
        # None of DELIVERY_KEYS needs to know whether deployments are on record
        # (bands.NEEDS_DEPLOYMENTS): band_and_text raises should one ever do.
        found, text = bands.band_and_text(key, value, year=year)
        metrics.append(
            DeliveryMetric(
                key=key,
                label=METRICS[key].label,
                unit=METRICS[key].unit,
                value=value,
                display=metric_display(key, value),
                band=found.value if found else None,
                band_text=text,
            )
        )
    return metrics


def _unique(components: Iterable[Component]) -> list[Component]:
    return sorted({c.pk: c for c in components}.values(), key=lambda c: (c.name, c.pk))


def _delivering(graph: StreamGraph, touchpoint: Touchpoint, own: list[Component]) -> dict:
    """The streams the touchpoint's stream cascades to whose stages touch the
    touchpoint's components (its value-stream stage's when it names none), each
    with those components."""
    vs_stage = touchpoint.value_stream_stage
    matched = own or list(vs_stage.components.all())
    by_id = {c.pk: c for c in matched}
    found = {}
    for stream_id in graph.descendants(vs_stage.value_stream_id):
        shared = graph.components.get(stream_id, set()) & by_id.keys()
        if shared:
            found[stream_id] = _unique(by_id[pk] for pk in shared)
    return found


def _groups(
    organization: Organization,
    stages: Sequence[JourneyStage],
    kpis: StageTouchpointMetrics,
    graph: StreamGraph,
    choice: PeriodChoice,
) -> list[StageGroup]:
    """Stage groups in journey order with their touchpoints, delivery included."""
    delivering = {
        tp.pk: _delivering(graph, tp, list(tp.components.all()))
        for stage in stages
        for tp in stage.touchpoints.all()
        if tp.value_stream_stage
    }
    wanted = {
        tp.value_stream_stage.value_stream_id
        for stage in stages
        for tp in stage.touchpoints.all()
        if tp.value_stream_stage
    } | {stream_id for via in delivering.values() for stream_id in via}
    # One engine call for every stream on the page: a fixed number of queries.
    values = (
        value_stream_metrics(
            organization=organization, value_stream_ids=sorted(wanted), period=choice.period
        )
        if wanted
        else {}
    )
    metrics = {pk: _delivery_metrics(organization, v) for pk, v in values.items()}
    groups = []
    for stage in stages:
        s = kpis.stages[stage.pk]
        rows = [
            _touchpoint_row(tp, kpis, s, graph, metrics, delivering.get(tp.pk, {}))
            for tp in stage.touchpoints.all()
        ]
        groups.append(
            StageGroup(
                stage=stage,
                nps=s["nps"],
                responses=s["responses"],
                conversion=s["stage_conversion"],
                time_in_stage_days=s["time_in_stage_median_days"],
                touchpoints=rows,
                last=stage is stages[-1],
            )
        )
    return groups


def _touchpoint_row(
    tp: Touchpoint,
    kpis: StageTouchpointMetrics,
    stage_kpis: dict[str, Value],
    graph: StreamGraph,
    metrics: dict[int, list[DeliveryMetric]],
    delivering: dict[int, list[Component]],
) -> TouchpointRow:
    own = _unique(tp.components.all())
    vs_stage = tp.value_stream_stage
    streams: list[DeliveryStream] = []
    stage_only: list[Component] = []
    if vs_stage:
        listed = {c.pk for c in own}
        stage_only = [c for c in vs_stage.components.all() if c.pk not in listed]
        stream_id = vs_stage.value_stream_id
        streams.append(
            DeliveryStream(
                vs_stage.value_stream,
                metrics[stream_id],
                rolled_up=bool(graph.children.get(stream_id)),
            )
        )
        streams += sorted(
            (DeliveryStream(graph.streams[pk], metrics[pk], via) for pk, via in delivering.items()),
            key=lambda d: (d.stream.name, d.stream.pk),
        )
    teams = {c.team_id: c.team for c in [*own, *stage_only]}
    t = kpis.touchpoints[tp.pk]
    return TouchpointRow(
        touchpoint=tp,
        nps=t["nps"],
        responses=t["responses"],
        conversion=stage_kpis["stage_conversion"],
        components=own,
        stage_components=stage_only,
        teams=sorted(teams.values(), key=lambda team: (team.name, team.pk)),
        streams=streams,
    )


def _ordered(groups: list[StageGroup], order: str) -> list[StageGroup]:
    """Rank every touchpoint by the weakness rule, then order the page: weakest first
    (stages by their weakest touchpoint, a stage without touchpoints by its own
    numbers), or in the journey's order."""
    position = {id(g): i for i, g in enumerate(groups)}

    def key(row: TouchpointRow, group: StageGroup) -> tuple:
        tp = row.touchpoint
        return (
            *weakness(rankable(row.nps, row.responses), tp.emotion, row.conversion),
            position[id(group)],
            tp.position,
            tp.pk,
        )

    ranked = sorted(
        ((key(r, g), r) for g in groups for r in g.touchpoints), key=lambda pair: pair[0]
    )
    for rank, (_, row) in enumerate(ranked, start=1):
        row.rank = rank
    if order == "journey":
        return groups
    for group in groups:
        group.touchpoints.sort(key=lambda r, g=group: key(r, g))

    def group_key(group: StageGroup) -> tuple:
        if group.touchpoints:
            return key(group.touchpoints[0], group)
        return (
            *weakness(rankable(group.nps, group.responses), group.stage.emotion, group.conversion),
            position[id(group)],
            0,
            0,
        )

    return sorted(groups, key=group_key)


# --- The page ------------------------------------------------------------------------


@require_GET
@org_view()
def journey_delivery(request: HttpRequest, journey_id: int) -> HttpResponse:
    """A journey's stages and touchpoints beside the delivery behind them, for a period.

    Per touchpoint: its emotion, channel, NPS and survey responses in the period
    (metrics.journey_delivery), its stage's pain points, conversion and median
    time in stage; and the value stream of its value-stream stage with that
    stream's flow time, flow load, flow efficiency, change failure rate and time
    to restore (rolled up over the streams it cascades to, docs/metrics.md#roll-up),
    plus each stream it cascades to whose stages touch the touchpoint's
    components, with that stream's own numbers.

    Weakness rule, weakest first: the lowest touchpoint NPS first, touchpoints
    with fewer than MIN_RESPONSES_TO_RANK survey responses (or none) after all those
    with more; ties by lower emotion (not
    scored last), then by lower stage conversion (undefined last), then journey
    order. Stages are grouped, each placed by its weakest touchpoint (a stage
    without touchpoints by its own NPS, emotion and conversion). ``?order=journey``
    shows the journey's own order instead, keeping the ranks.

    Queries: a fixed number however many stages, touchpoints and streams (the
    prefetches, two for the journey KPIs, one engine call for all streams).
    """
    org = request.organization
    journey = get_for_request(request, selectors.journey_for_map(organization=org), pk=journey_id)
    ctx: dict[str, Any] = _period_context(request)
    choice: PeriodChoice = ctx["choice"]
    order = request.GET.get("order") if request.GET.get("order") in ORDERS else ORDERS[0]
    stages = _stages(org, journey)
    kpis = stage_touchpoint_metrics(
        organization=org, journey_ids=[journey.pk], period=choice.period
    )
    groups = _ordered(_groups(org, stages, kpis, _stream_graph(org), choice), order)
    rows = [row for group in groups for row in group.touchpoints]
    ctx.update(
        {
            "journey": journey,
            "groups": groups,
            "order": order,
            "weakness_rule": WEAKNESS_RULE,
            "min_responses": MIN_RESPONSES_TO_RANK,
            "touchpoint_count": len(rows),
            "linked_count": sum(1 for row in rows if row.streams),
            "stream_count": len({d.stream.pk for row in rows for d in row.streams}),
            "report_year": org.dora_report_year,
            # Column heads short enough for one line; the full label is the head's title.
            "delivery_heads": [(METRICS[k].short_label, METRICS[k].label) for k in DELIVERY_KEYS],
        }
    )
    return render(request, "journeys/delivery.html", ctx)
