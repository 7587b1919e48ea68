"""Pages for the portfolio: the map, and a list/create/edit/delete page per entity.

The simple entities (layers, teams, product families, products, components)
share one implementation, configured by an ``EntityPage`` each.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Model, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from portfolio import selectors, services
from portfolio.entities import entity_delete, entity_save, history_of, unique_slug
from portfolio.forms import (
    ComponentForm,
    LayerForm,
    OrgModelForm,
    ProductFamilyForm,
    ProductForm,
    TeamForm,
)
from portfolio.models import Component, Layer, Organization, Product, ProductFamily, Role, Team
from portfolio.tenancy import get_for_request, org_view, require_role

PAGE_SIZE = 50


def _save_with_slug(*, organization: Organization, instance: Model) -> Model:
    if hasattr(instance, "slug") and not instance.slug:
        instance.slug = unique_slug(type(instance), organization=organization, name=instance.name)
    return entity_save(instance, organization=organization)


@dataclass(frozen=True)
class EntityPage:
    kind: str  # the URL segment, e.g. "teams"
    model: type[Model]
    form: type[OrgModelForm]
    title: str
    param: str  # the id's URL parameter, e.g. "team_id"
    columns: list[tuple[str, str]]  # (heading, attribute path)
    select_related: tuple[str, ...] = ()
    search: tuple[str, ...] = ("name",)
    annotate: dict[str, Any] = field(default_factory=dict)
    save: Callable[..., Model] = _save_with_slug

    @property
    def singular(self) -> str:
        return str(self.model._meta.verbose_name)

    def queryset(self, organization: Organization):
        qs = self.model._default_manager.filter(organization=organization)
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        if self.annotate:
            qs = qs.annotate(**self.annotate)
        # Aggregation drops Meta.ordering; pagination needs a stable order.
        return qs.order_by(*self.model._meta.ordering)


PAGES = {
    p.kind: p
    for p in [
        EntityPage(
            "layers",
            Layer,
            LayerForm,
            "Layers",
            "layer_id",
            [("Layer", "name"), ("Products", "n_products"), ("Components", "n_components")],
            annotate={
                "n_products": Count("products", distinct=True),
                "n_components": Count("components", distinct=True),
            },
            save=lambda *, organization, instance: services.layer_save(
                organization=organization, layer=instance
            ),
        ),
        EntityPage(
            "teams",
            Team,
            TeamForm,
            "Teams",
            "team_id",
            [("Team", "name"), ("Slug", "slug"), ("Components", "n_components")],
            search=("name", "slug"),
            annotate={"n_components": Count("components")},
        ),
        EntityPage(
            "families",
            ProductFamily,
            ProductFamilyForm,
            "Product families",
            "family_id",
            [("Family", "name"), ("Slug", "slug"), ("Products", "n_products")],
            search=("name", "slug"),
            annotate={"n_products": Count("products")},
        ),
        EntityPage(
            "products",
            Product,
            ProductForm,
            "Products",
            "product_id",
            [
                ("Product", "name"),
                ("Slug", "slug"),
                ("Family", "family.name"),
                ("Layer", "layer.name"),
            ],
            select_related=("family", "layer"),
            search=("name", "slug", "family__name"),
        ),
        EntityPage(
            "components",
            Component,
            ComponentForm,
            "Components",
            "component_id",
            [
                ("Component", "name"),
                ("Slug", "slug"),
                ("Kind", "get_kind_display"),
                ("Layer", "layer.name"),
                ("Team", "team.name"),
                ("Product", "product.name"),
            ],
            select_related=("layer", "team", "product"),
            search=("name", "slug", "team__name", "layer__name"),
        ),
    ]
}


def _value(obj: Model, attr: str) -> Any:
    for part in attr.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part)
        if callable(obj):
            obj = obj()
    return obj


@require_GET
@org_view()
def portfolio_map(request: HttpRequest) -> HttpResponse:
    rows = selectors.portfolio_map(organization=request.organization)
    empty = all(row.is_empty for row in rows)
    return render(request, "portfolio/map.html", {"rows": rows, "empty": empty, "pages": PAGES})


def _list_context(request: HttpRequest, page: EntityPage, form: OrgModelForm | None = None) -> dict:
    qs = page.queryset(request.organization)
    query = request.GET.get("q", "").strip()
    if query:
        match = Q()
        for name in page.search:
            match |= Q(**{f"{name}__icontains": query})
        qs = qs.filter(match)
    paginated = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(obj, [_value(obj, attr) for _, attr in page.columns]) for obj in paginated.object_list]
    return {
        "entity": page,
        "page_obj": paginated,
        "rows": rows,
        "query": query,
        "form": form or page.form(organization=request.organization),
        "pages": PAGES,
    }


def entity_list(request: HttpRequest, *, page: EntityPage) -> HttpResponse:
    if request.method == "POST":
        require_role(request, Role.EDITOR)
        form = page.form(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                obj = page.save(organization=request.organization, instance=form.save(commit=False))
            except ValidationError as exc:
                _errors_to_form(form, exc)
            else:
                messages.success(
                    request, f"{page.model._meta.verbose_name.capitalize()} “{obj}” added."
                )
                return redirect(f"portfolio_{page.kind}", org_slug=request.organization.slug)
        return render(
            request, "portfolio/entities.html", _list_context(request, page, form), status=400
        )
    template = "portfolio/entities.html#table" if request.htmx else "portfolio/entities.html"
    return render(request, template, _list_context(request, page))


def _errors_to_form(form: OrgModelForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def entity_edit(request: HttpRequest, *, page: EntityPage, **ids: int) -> HttpResponse:
    obj = get_for_request(request, page.model, pk=ids[page.param])
    if request.method == "POST":
        require_role(request, Role.EDITOR)
        form = page.form(request.POST, instance=obj, organization=request.organization)
        if form.is_valid():
            try:
                page.save(organization=request.organization, instance=form.save(commit=False))
            except ValidationError as exc:
                _errors_to_form(form, exc)
            else:
                messages.success(request, f"“{obj}” saved.")
                return redirect(f"portfolio_{page.kind}", org_slug=request.organization.slug)
        status = 400
    else:
        form = page.form(instance=obj, organization=request.organization)
        status = 200
    history = history_of(obj)
    return render(
        request,
        "portfolio/entity_edit.html",
        {
            "entity": page,
            "obj": obj,
            "form": form,
            "history": history,
            "pages": PAGES,
        },
        status=status,
    )


@require_POST
def entity_remove(request: HttpRequest, *, page: EntityPage, **ids: int) -> HttpResponse:
    obj = get_for_request(request, page.model, pk=ids[page.param])
    try:
        entity_delete(obj, organization=request.organization)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"“{obj}” deleted.")
    return redirect(f"portfolio_{page.kind}", org_slug=request.organization.slug)


@require_POST
@org_view(Role.EDITOR)
def layer_move(request: HttpRequest, layer_id: int) -> HttpResponse:
    """Move a layer one place up or down (POST direction=up|down)."""
    layer = get_for_request(request, Layer, pk=layer_id)
    offset = -1 if request.POST.get("direction") == "up" else 1
    services.layer_move(organization=request.organization, layer=layer, offset=offset)
    if request.htmx:
        return render(
            request, "portfolio/entities.html#table", _list_context(request, PAGES["layers"])
        )
    return redirect(reverse("portfolio_layers", kwargs={"org_slug": request.organization.slug}))


def urlpatterns() -> list:
    patterns = [path("portfolio/", portfolio_map, name="portfolio_map")]
    for page in PAGES.values():
        base = f"portfolio/{page.kind}/"
        patterns += [
            path(
                base,
                org_view()(functools.partial(entity_list, page=page)),
                name=f"portfolio_{page.kind}",
            ),
            path(
                f"{base}<int:{page.param}>/",
                org_view()(functools.partial(entity_edit, page=page)),
                name=f"portfolio_{page.kind}_edit",
            ),
            path(
                f"{base}<int:{page.param}>/delete/",
                org_view(Role.EDITOR)(functools.partial(entity_remove, page=page)),
                name=f"portfolio_{page.kind}_delete",
            ),
        ]
    patterns.append(
        path(
            "portfolio/layers/<int:layer_id>/move/",
            layer_move,
            name="portfolio_layer_move",
        )
    )
    return patterns
