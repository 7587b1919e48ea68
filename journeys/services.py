"""Writes for journeys, their stages and touchpoints."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from journeys.models import Journey, JourneyStage, Touchpoint, TouchpointComponent
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

FLAGS = ("is_entry", "is_work_start", "is_conversion")


@transaction.atomic
def journey_save(*, organization: Organization, journey: Journey) -> Journey:
    return entity_save(journey, organization=organization)


@transaction.atomic
def journey_delete(*, organization: Organization, journey: Journey) -> None:
    entity_delete(journey, organization=organization)


@transaction.atomic
def journey_flags_normalize(*, organization: Organization, journey: Journey) -> None:
    """Make exactly one stage each the entry, work-start and conversion stage.

    A flag someone set on purpose stays on its stage; the others take their
    defaults (docs/metrics.md#customer-journeys): entry on the first stage, work start
    on the second (the first if there is one), conversion on the last.
    """
    journey.refresh_from_db(fields=["explicit_flags"])
    stages = list(
        JourneyStage.objects.filter(organization=organization, journey=journey).order_by(
            "position", "id"
        )
    )
    if not stages:
        return
    defaults = {
        "is_entry": stages[0],
        "is_work_start": stages[1] if len(stages) > 1 else stages[0],
        "is_conversion": stages[-1],
    }
    explicit = [f for f in FLAGS if f in journey.explicit_flags]
    wanted = {}
    for flag in FLAGS:
        flagged = [s for s in stages if getattr(s, flag)]
        if flag in explicit and flagged:
            wanted[flag] = flagged[0]
        else:
            wanted[flag] = defaults[flag]
            if flag in explicit:
                explicit.remove(flag)
    changed = [s for s in stages if any(getattr(s, f) != (wanted[f] is s) for f in FLAGS)]
    # Clear first, then set, so the one-flag-per-journey indexes never see two.
    if changed:
        JourneyStage.objects.filter(
            organization=organization, pk__in=[s.pk for s in changed]
        ).update(is_entry=False, is_work_start=False, is_conversion=False)
    for stage in changed:
        for flag in FLAGS:
            setattr(stage, flag, wanted[flag] is stage)
        stage.save(update_fields=list(FLAGS))
    if explicit != journey.explicit_flags:
        journey.explicit_flags = explicit
        journey.save(update_fields=["explicit_flags"])


@transaction.atomic
def journey_stage_save(
    *, organization: Organization, stage: JourneyStage, set_flags: Iterable[str] = ()
) -> JourneyStage:
    """Save a stage. The flags in ``set_flags`` are set on purpose: each moves to
    this stage from the journey's other stages and stays there."""
    set_flags = [f for f in set_flags if f in FLAGS]
    if stage.pk is None and not stage.slug:
        stage.slug = unique_slug(
            JourneyStage, organization=organization, name=stage.name, journey=stage.journey
        )
    if stage.pk is None and stage.position == 0:
        stage.position = JourneyStage.objects.filter(
            organization=organization, journey_id=stage.journey_id
        ).count()
    for flag in FLAGS:
        setattr(stage, flag, flag in set_flags or (stage.pk is not None and _stored(stage, flag)))
    for flag in set_flags:
        others = JourneyStage.objects.filter(
            organization=organization, journey_id=stage.journey_id, **{flag: True}
        )
        if stage.pk is not None:
            others = others.exclude(pk=stage.pk)
        for other in others:  # saved one by one so each change is in its history
            setattr(other, flag, False)
            other.save(update_fields=[flag])
    entity_save(stage, organization=organization)
    journey = stage.journey
    if set_flags:
        # Kept in FLAGS order, the order journey_flags_normalize writes them in.
        journey.explicit_flags = [f for f in FLAGS if f in journey.explicit_flags or f in set_flags]
        journey.save(update_fields=["explicit_flags"])
    journey_flags_normalize(organization=organization, journey=journey)
    stage.refresh_from_db()
    return stage


def _stored(stage: JourneyStage, flag: str) -> bool:
    return JourneyStage.objects.filter(
        organization_id=stage.organization_id, pk=stage.pk, **{flag: True}
    ).exists()


@transaction.atomic
def journey_stage_delete(*, organization: Organization, stage: JourneyStage) -> None:
    journey = stage.journey
    entity_delete(stage, organization=organization)
    positions_compact(JourneyStage.objects.filter(organization=organization, journey=journey))
    journey_flags_normalize(organization=organization, journey=journey)


@transaction.atomic
def journey_stages_reorder(
    *, organization: Organization, journey: Journey, ordered_ids: list[int]
) -> None:
    positions_renumber(
        JourneyStage.objects.filter(organization=organization, journey=journey), ordered_ids
    )
    # Flags nobody set on purpose follow their default stages to the new places.
    journey_flags_normalize(organization=organization, journey=journey)


@transaction.atomic
def journey_stage_move(*, organization: Organization, stage: JourneyStage, offset: int) -> None:
    """Move a stage left (offset -1) or right (+1); default flags follow the new order."""
    position_move(
        JourneyStage.objects.filter(organization=organization, journey_id=stage.journey_id),
        stage,
        offset,
    )
    journey_flags_normalize(organization=organization, journey=stage.journey)


@transaction.atomic
def touchpoint_save(
    *,
    organization: Organization,
    touchpoint: Touchpoint,
    components: Iterable[Component] | None = None,
) -> Touchpoint:
    """Save a touchpoint: it belongs to its stage's journey."""
    if touchpoint.stage_id is None:
        raise ValidationError({"stage": "A touchpoint belongs to a stage."})
    stage = touchpoint.stage
    if stage.organization_id != organization.pk:
        raise ValidationError(
            {"stage": f"stage: no journey stage with id {stage.pk} in this organization."}
        )
    touchpoint.journey_id = stage.journey_id
    if touchpoint.pk is None and not touchpoint.position:
        # A new touchpoint comes last in its stage.
        touchpoint.position = Touchpoint.objects.filter(
            organization=organization, stage_id=stage.pk
        ).count()
    if touchpoint.pk is None and not touchpoint.slug:
        touchpoint.slug = unique_slug(
            Touchpoint, organization=organization, name=touchpoint.name, journey_id=stage.journey_id
        )
    entity_save(touchpoint, organization=organization)
    if components is not None:
        links_set(
            organization=organization,
            link_model=TouchpointComponent,
            owner_field="touchpoint",
            owner=touchpoint,
            target_field="component",
            targets=components,
        )
    return touchpoint


@transaction.atomic
def touchpoints_reorder(
    *, organization: Organization, stage: JourneyStage, ordered_ids: list[int]
) -> None:
    positions_renumber(
        Touchpoint.objects.filter(organization=organization, stage=stage), ordered_ids
    )


@transaction.atomic
def touchpoint_delete(*, organization: Organization, touchpoint: Touchpoint) -> None:
    entity_delete(touchpoint, organization=organization)
