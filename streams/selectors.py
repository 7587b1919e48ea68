"""Reads for value streams. Every function takes the organization."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q, QuerySet

from portfolio.models import Component, Layer, Organization
from streams.models import Stage, ValueStream


def value_streams(
    *, organization: Organization, query: str = "", kind: str = "", parent: str = ""
) -> QuerySet[ValueStream]:
    qs = (
        ValueStream.objects.filter(organization=organization)
        .select_related("parent")
        .annotate(
            n_stages=Count("stages", distinct=True), n_children=Count("children", distinct=True)
        )
        .order_by("name", "id")
    )
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(slug__icontains=query))
    if kind:
        qs = qs.filter(kind=kind)
    if parent == "none":
        qs = qs.filter(parent=None)
    elif parent:
        qs = qs.filter(parent__slug=parent)
    return qs


@dataclass
class TreeNode:
    stream: ValueStream
    children: list[TreeNode] = field(default_factory=list)


def value_stream_tree(*, organization: Organization) -> list[TreeNode]:
    """The cascade: root streams with their descendants, in one query."""
    streams = list(
        ValueStream.objects.filter(organization=organization)
        .annotate(n_stages=Count("stages"))
        .order_by("name", "id")
    )
    nodes = {s.pk: TreeNode(s) for s in streams}
    roots = []
    for s in streams:
        parent = nodes.get(s.parent_id)
        (parent.children if parent else roots).append(nodes[s.pk])
    return roots


def stages_of(*, organization: Organization, value_stream: ValueStream) -> list[Stage]:
    """The stream's stages in order, each with its components (and their layer and team)."""
    return list(
        Stage.objects.filter(organization=organization, value_stream=value_stream)
        .prefetch_related(
            Prefetch(
                "components",
                queryset=Component.objects.select_related("layer", "team").order_by("name"),
            )
        )
        .order_by("position", "id")
    )


@dataclass(frozen=True)
class StreamMap:
    stages: list[Stage]
    rows: list[tuple[Layer, list[list[Component]]]]  # per layer: the components of each stage


def value_stream_map(*, organization: Organization, value_stream: ValueStream) -> StreamMap:
    """Stages as columns, the portfolio's layers as rows, components in the cells."""
    stages = stages_of(organization=organization, value_stream=value_stream)
    layers = list(Layer.objects.filter(organization=organization))
    rows = []
    for layer in layers:
        cells = [[c for c in stage.components.all() if c.layer_id == layer.pk] for stage in stages]
        rows.append((layer, cells))
    return StreamMap(stages=stages, rows=rows)


def touchpoints_served(*, organization: Organization, value_stream: ValueStream) -> QuerySet:
    """The journeys' touchpoints that the stages of this stream, or of the streams it
    cascades to, serve (docs/metrics.md#roll-up: the same streams its metrics cover)."""
    from journeys.models import Touchpoint
    from metrics.series import stream_and_descendant_ids

    streams = stream_and_descendant_ids(organization=organization, value_stream_id=value_stream.pk)
    return (
        Touchpoint.objects.filter(
            organization=organization, value_stream_stage__value_stream_id__in=streams
        )
        .select_related("journey", "stage", "value_stream_stage__value_stream")
        .order_by("journey__name", "journey_id", "stage__position", "position", "id")
    )
