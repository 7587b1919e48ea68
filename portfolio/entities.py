"""Rules every entity of the organization's model shares, in one place.

- ``entity_save`` puts the entity in the organization, refuses a reference to
  another organization's object, validates fields and the organization's
  uniqueness rules, and saves (the history table records who and when).
- ``entity_delete`` turns "still in use" into a message, not a 500.
- ``links_set`` replaces a many-to-many set through its organization-owned
  link model, so each added or removed link is a recorded change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import ProtectedError
from django.utils.text import slugify

from portfolio.models import ModelEntity, Organization, OrgOwned


def check_same_organization(instance: models.Model, organization: Organization) -> None:
    """Refuse any reference from ``instance`` to another organization's object.

    The message names what the caller gave (an id), never the other object:
    another organization's object is answered exactly like a missing one.
    """
    errors: dict[str, list[str]] = {}
    for field in instance._meta.concrete_fields:
        target = field.related_model
        if not (field.many_to_one and field.name != "organization" and isinstance(target, type)):
            continue
        if not issubclass(target, OrgOwned):
            continue
        value = getattr(instance, field.attname)
        if value is None:
            continue
        cached = instance._state.fields_cache.get(field.name)
        if cached is not None:
            same = cached.organization_id == organization.pk
        else:
            same = target._default_manager.filter(organization=organization, pk=value).exists()
        if not same:
            errors.setdefault(field.name, []).append(
                f"{field.verbose_name}: no {target._meta.verbose_name} with id {value} "
                "in this organization."
            )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def entity_save[E: ModelEntity](instance: E, *, organization: Organization) -> E:
    instance.organization = organization
    check_same_organization(instance, organization)
    instance.full_clean()
    instance.save()
    return instance


@transaction.atomic
def entity_delete(instance: ModelEntity, *, organization: Organization) -> None:
    if instance.organization_id != organization.pk:
        raise ValidationError("No such object in this organization.")
    try:
        with transaction.atomic():
            instance.delete()
    except ProtectedError as exc:
        users = sorted({str(obj) for obj in exc.protected_objects})
        kinds = sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects})
        shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
        raise ValidationError(
            f"{instance._meta.verbose_name.capitalize()} '{instance}' is still used by "
            f"{' and '.join(kinds)}: {shown}. Change or delete those first."
        ) from exc


def unique_slug(
    model: type[ModelEntity], *, organization: Organization, name: str, **scope: Any
) -> str:
    """A slug from ``name``, unique among the organization's ``model`` rows within ``scope``."""
    base = (slugify(name)[:44].strip("-") or model._meta.model_name)[:44]
    taken = set(
        model._default_manager.filter(
            organization=organization, slug__startswith=base, **scope
        ).values_list("slug", flat=True)
    )
    slug, n = base, 2
    while slug in taken:
        slug = f"{base}-{n}"
        n += 1
    return slug


@transaction.atomic
def links_set(
    *,
    organization: Organization,
    link_model: type[ModelEntity],
    owner_field: str,
    owner: ModelEntity,
    target_field: str,
    targets: Iterable[ModelEntity],
) -> None:
    """Make ``owner``'s links (through ``link_model``) exactly ``targets``."""
    wanted = {t.pk: t for t in targets}
    for target in wanted.values():
        if target.organization_id != organization.pk:
            raise ValidationError(
                f"{target_field}: no {target._meta.verbose_name} with id {target.pk} "
                "in this organization."
            )
    links = link_model._default_manager.filter(organization=organization, **{owner_field: owner})
    have = set(links.values_list(f"{target_field}_id", flat=True))
    for link in links.filter(**{f"{target_field}_id__in": have - set(wanted)}):
        link.delete()
    for pk in wanted.keys() - have:
        link_model._default_manager.create(
            organization=organization, **{owner_field: owner, target_field: wanted[pk]}
        )


@transaction.atomic
def position_move(queryset: models.QuerySet, item: models.Model, offset: int) -> None:
    """Move ``item`` ``offset`` places (-1 up, +1 down) among the ordered rows of ``queryset``."""
    ids = list(queryset.order_by("position", "id").values_list("pk", flat=True))
    i = ids.index(item.pk)
    ids.insert(max(0, min(len(ids) - 1, i + offset)), ids.pop(i))
    positions_renumber(queryset, ids)


@transaction.atomic
def positions_compact(queryset: models.QuerySet) -> None:
    """Close the gaps in the rows' positions (after a delete), keeping their order."""
    positions_renumber(
        queryset, list(queryset.order_by("position", "id").values_list("pk", flat=True))
    )


@transaction.atomic
def positions_renumber(queryset: models.QuerySet, ordered_ids: list[int]) -> None:
    """Give the rows of ``queryset`` positions 0..n-1 in the order of ``ordered_ids``."""
    rows = {row.pk: row for row in queryset}
    if set(ordered_ids) != set(rows):
        raise ValidationError("The new order must name each item exactly once.")
    for position, pk in enumerate(ordered_ids):
        row = rows[pk]
        if row.position != position:
            row.position = position
            row.save(update_fields=["position"])


@dataclass(frozen=True)
class Change:
    date: datetime
    user: str | None
    type: str  # "+" created, "~" changed, "-" deleted
    changed: list[str]


def history_of(instance: ModelEntity, *, limit: int = 20) -> list[Change]:
    """The entity's latest changes, newest first, each with the fields it changed.

    One query: consecutive records are compared in memory.
    """
    records = list(
        instance.history.select_related("history_user").order_by("-history_date", "-history_id")[
            : limit + 1
        ]
    )
    changes = []
    for record, previous in zip(records, [*records[1:], None], strict=True):
        if len(changes) == limit:
            break
        changed = []
        if record.history_type == "~" and previous is not None:
            changed = [
                str(instance._meta.get_field(c.field).verbose_name)
                for c in record.diff_against(previous).changes
            ]
        user = record.history_user.email if record.history_user else None
        changes.append(Change(record.history_date, user, record.history_type, changed))
    return changes
