"""Reads for organizations and their members. Every function takes the organization."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, QuerySet, Subquery
from django.utils import timezone

from portfolio.models import (
    ApiToken,
    Component,
    Invitation,
    Layer,
    Membership,
    Objective,
    Organization,
    Product,
    Role,
    Team,
    may_administer,
)


def memberships_of_user(*, user: AbstractBaseUser) -> QuerySet[Membership]:
    """The user's memberships in every organization (for the switcher)."""
    return (
        Membership.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__name")
    )


def members_of(*, organization: Organization) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("user__email", "pk")
    )


def invitations_pending(*, organization: Organization) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        organization=organization,
        accepted_at=None,
        revoked_at=None,
        expires_at__gt=timezone.now(),
    ).select_related("invited_by")


def api_tokens_visible(*, organization: Organization, membership: Membership) -> QuerySet[ApiToken]:
    """A member sees their own tokens; an admin sees every token of the organization."""
    qs = ApiToken.objects.filter(organization=organization).select_related("user")
    if not may_administer(membership):
        qs = qs.filter(user_id=membership.user_id)
    return qs.order_by("revoked_at", "-created_at")


@dataclass(frozen=True)
class OrganizationCounts:
    members: int
    admins: int
    editors: int
    viewers: int
    pending_invitations: int
    active_tokens: int
    model: dict[str, int]

    @property
    def model_empty(self) -> bool:
        return not self.model["value streams"] and not self.model["journeys"]


def organization_counts(*, organization: Organization) -> OrganizationCounts:
    from django.db.models import Q

    roles = Membership.objects.filter(organization=organization).aggregate(
        members=Count("pk"),
        admins=Count("pk", filter=Q(role=Role.ADMIN)),
        editors=Count("pk", filter=Q(role=Role.EDITOR)),
        viewers=Count("pk", filter=Q(role=Role.VIEWER)),
    )
    return OrganizationCounts(
        **roles,
        pending_invitations=invitations_pending(organization=organization).count(),
        active_tokens=ApiToken.objects.filter(organization=organization, revoked_at=None).count(),
        model=model_counts(organization=organization),
    )


def model_counts(*, organization: Organization) -> dict[str, int]:
    """How many of each entity of the model the organization has, in one query."""
    from journeys.models import Journey, Touchpoint
    from streams.models import Stage, ValueStream

    kinds = {
        "value streams": ValueStream,
        "stages": Stage,
        "journeys": Journey,
        "touchpoints": Touchpoint,
        "components": Component,
        "products": Product,
        "teams": Team,
        "layers": Layer,
        "objectives": Objective,
    }
    first, *rest = [
        model.objects.filter(organization=organization)
        .values("organization")
        .annotate(n=Count("pk"))
        .values("n")
        for model in kinds.values()
    ]
    row = (
        Organization.objects.filter(pk=organization.pk)
        .values(**{f"k{i}": Subquery(qs[:1]) for i, qs in enumerate([first, *rest])})
        .get()
    )
    return {name: row[f"k{i}"] or 0 for i, name in enumerate(kinds)}


@dataclass(frozen=True)
class MapRow:
    """One layer of the portfolio map: its products and components, by product family."""

    layer: Layer
    groups: list[tuple[str, list[Product], list[Component]]]

    @property
    def is_empty(self) -> bool:
        return not any(products or components for _, products, components in self.groups)


def portfolio_map(*, organization: Organization) -> list[MapRow]:
    """Layers top to bottom; in each, products and components grouped by product
    family (components outside any product under "No product"). Three queries."""
    layers = list(Layer.objects.filter(organization=organization))
    products = list(
        Product.objects.filter(organization=organization)
        .select_related("family")
        .order_by("family__name", "name")
    )
    components = list(
        Component.objects.filter(organization=organization)
        .select_related("team", "product__family")
        .order_by("name")
    )
    rows = []
    for layer in layers:
        groups: dict[str, tuple[list[Product], list[Component]]] = {}
        for product in products:
            if product.layer_id == layer.pk:
                groups.setdefault(product.family.name, ([], []))[0].append(product)
        for component in components:
            if component.layer_id == layer.pk:
                family = component.product.family.name if component.product else "No product"
                groups.setdefault(family, ([], []))[1].append(component)
        ordered = sorted(groups.items(), key=lambda kv: (kv[0] == "No product", kv[0]))
        rows.append(MapRow(layer=layer, groups=[(name, p, c) for name, (p, c) in ordered]))
    return rows
