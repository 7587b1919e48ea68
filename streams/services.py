"""Writes for value streams, their stages and status mappings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError
from django.db import transaction

from portfolio.entities import (
    entity_delete,
    entity_save,
    links_set,
    position_move,
    positions_compact,
    positions_renumber,
    unique_slug,
)
from portfolio.models import Component, Organization
from streams.models import Stage, StageComponent, StateCategory, StatusMapping, ValueStream


def _check_parent(value_stream: ValueStream) -> None:
    """A value stream's ancestors never include itself (the cascade is a tree)."""
    node, seen = value_stream.parent, set()
    while node is not None and node.pk not in seen:
        if value_stream.pk is not None and node.pk == value_stream.pk:
            raise ValidationError(
                {
                    "parent": f"'{value_stream.parent.slug}' descends from '{value_stream.slug}': "
                    "a value stream cannot be its own ancestor."
                }
            )
        seen.add(node.pk)
        node = node.parent


@transaction.atomic
def value_stream_save(*, organization: Organization, value_stream: ValueStream) -> ValueStream:
    _check_parent(value_stream)
    return entity_save(value_stream, organization=organization)


@transaction.atomic
def value_stream_delete(*, organization: Organization, value_stream: ValueStream) -> None:
    entity_delete(value_stream, organization=organization)


@transaction.atomic
def stage_add(
    *, organization: Organization, value_stream: ValueStream, name: str, slug: str = ""
) -> Stage:
    """Append a stage to the stream (its slug derived from the name unless given)."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A stage needs a name."})
    stage = Stage(
        value_stream=value_stream,
        name=name,
        slug=slug
        or unique_slug(Stage, organization=organization, name=name, value_stream=value_stream),
        position=Stage.objects.filter(organization=organization, value_stream=value_stream).count(),
    )
    return entity_save(stage, organization=organization)


@transaction.atomic
def stage_save(*, organization: Organization, stage: Stage) -> Stage:
    return entity_save(stage, organization=organization)


@transaction.atomic
def stage_delete(*, organization: Organization, stage: Stage) -> None:
    stream = stage.value_stream
    entity_delete(stage, organization=organization)
    positions_compact(Stage.objects.filter(organization=organization, value_stream=stream))


@transaction.atomic
def stages_reorder(
    *, organization: Organization, value_stream: ValueStream, ordered_ids: list[int]
) -> None:
    positions_renumber(
        Stage.objects.filter(organization=organization, value_stream=value_stream), ordered_ids
    )


@transaction.atomic
def stage_move(*, organization: Organization, stage: Stage, offset: int) -> None:
    """Move a stage up (offset -1) or down (+1) among its stream's stages."""
    position_move(
        Stage.objects.filter(organization=organization, value_stream_id=stage.value_stream_id),
        stage,
        offset,
    )


@transaction.atomic
def stage_components_set(
    *, organization: Organization, stage: Stage, components: Iterable[Component]
) -> None:
    links_set(
        organization=organization,
        link_model=StageComponent,
        owner_field="stage",
        owner=stage,
        target_field="component",
        targets=components,
    )


@transaction.atomic
def status_mappings_set(
    *, organization: Organization, value_stream: ValueStream, mapping: Mapping[str, str]
) -> None:
    """Make the stream's tool-status mapping exactly ``mapping`` (status -> category)."""
    errors = []
    clean: dict[str, tuple[str, str]] = {}
    for status, category in mapping.items():
        status = (status or "").strip()
        if not status:
            errors.append("A tool status cannot be empty.")
        elif category not in StateCategory.values:
            allowed = ", ".join(StateCategory.values)
            errors.append(f"'{status}': category '{category}' is not one of {allowed}.")
        elif status.lower() in clean:
            errors.append(f"'{status}' is mapped twice (statuses are compared without case).")
        else:
            clean[status.lower()] = (status, category)
    if errors:
        raise ValidationError(errors)
    existing = {
        m.tool_status.lower(): m
        for m in StatusMapping.objects.filter(organization=organization, value_stream=value_stream)
    }
    for key, row in existing.items():
        if key not in clean:
            row.delete()
    for key, (status, category) in clean.items():
        row = existing.get(key)
        if row is None:
            entity_save(
                StatusMapping(value_stream=value_stream, tool_status=status, category=category),
                organization=organization,
            )
        elif (row.tool_status, row.category) != (status, category):
            row.tool_status, row.category = status, category
            entity_save(row, organization=organization)
