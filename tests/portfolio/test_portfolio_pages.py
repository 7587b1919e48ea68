"""Portfolio pages: the map, and list/create/edit/delete of layers, teams, families,
products and components."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portfolio.entities import entity_save
from portfolio.models import Component, Layer, Product, ProductFamily, Team
from portfolio.tenancy import organization_context
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def layer(org, name="Platforms") -> Layer:
    with organization_context(org.pk):
        return Layer.objects.get(organization=org, name=name)


def build(org):
    with organization_context(org.pk):
        team = entity_save(Team(slug="claims", name="Claims team"), organization=org)
        fam = entity_save(ProductFamily(slug="insurance", name="Insurance"), organization=org)
        product = entity_save(
            Product(
                slug="dental",
                name="Dental cover",
                family=fam,
                layer=layer(org, "Business products"),
            ),
            organization=org,
        )
        entity_save(
            Component(
                slug="claims-api",
                name="Claims API",
                layer=layer(org, "IT portfolio"),
                team=team,
                product=product,
            ),
            organization=org,
        )
        entity_save(
            Component(slug="crm", name="CRM", kind="platform", layer=layer(org), team=team),
            organization=org,
        )


def test_the_map_shows_layers_with_products_and_components_and_teams(tenant_a):
    build(tenant_a.org)
    html = client_for(tenant_a.viewer).get("/o/org-a/portfolio/").content.decode()
    order = [html.index(name) for name in ("Business products", "IT portfolio", "Platforms")]
    assert order == sorted(order)
    assert "Dental cover" in html
    assert "Claims API <small>Claims team</small>" in html
    assert "No product" in html  # CRM belongs to no product


def test_the_empty_map_offers_templates(tenant_a):
    html = client_for(tenant_a.viewer).get("/o/org-a/portfolio/").content.decode()
    assert "Start from a template" in html


def test_map_query_count_does_not_grow_with_components(tenant_a):
    build(tenant_a.org)
    client = client_for(tenant_a.viewer)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            client.get("/o/org-a/portfolio/")
        return len(ctx.captured_queries)

    few = count()
    with organization_context(tenant_a.org.pk):
        team = Team.objects.get(organization=tenant_a.org)
        for i in range(40):
            entity_save(
                Component(slug=f"c{i}", name=f"C{i}", layer=layer(tenant_a.org), team=team),
                organization=tenant_a.org,
            )
    assert count() == few


@pytest.mark.parametrize("kind", ["layers", "teams", "families", "products", "components"])
def test_entity_lists_are_readable_by_viewers_with_a_constant_query_count(tenant_a, kind):
    build(tenant_a.org)
    client = client_for(tenant_a.viewer)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/o/org-a/portfolio/{kind}/").status_code == 200
    few = len(ctx.captured_queries)
    with organization_context(tenant_a.org.pk):
        team = Team.objects.get(organization=tenant_a.org)
        fam = ProductFamily.objects.get(organization=tenant_a.org)
        for i in range(30):
            entity_save(Team(slug=f"t{i}", name=f"T{i}"), organization=tenant_a.org)
            entity_save(ProductFamily(slug=f"f{i}", name=f"F{i}"), organization=tenant_a.org)
            entity_save(
                Product(slug=f"p{i}", name=f"P{i}", family=fam, layer=layer(tenant_a.org)),
                organization=tenant_a.org,
            )
            entity_save(
                Component(slug=f"c{i}", name=f"C{i}", layer=layer(tenant_a.org), team=team),
                organization=tenant_a.org,
            )
            entity_save(Layer(name=f"L{i}", position=10 + i), organization=tenant_a.org)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/o/org-a/portfolio/{kind}/").status_code == 200
    assert len(ctx.captured_queries) == few


def test_editor_adds_a_component_with_a_generated_slug(tenant_a):
    build(tenant_a.org)
    with organization_context(tenant_a.org.pk):
        team = Team.objects.get(organization=tenant_a.org)
    data = {
        "name": "Payments Service",
        "kind": "service",
        "layer": layer(tenant_a.org).pk,
        "team": team.pk,
    }
    assert (
        client_for(tenant_a.viewer).post("/o/org-a/portfolio/components/", data).status_code == 403
    )
    assert (
        client_for(tenant_a.editor).post("/o/org-a/portfolio/components/", data).status_code == 302
    )
    with organization_context(tenant_a.org.pk):
        assert Component.objects.filter(organization=tenant_a.org, slug="payments-service").exists()


def test_another_organizations_team_is_a_form_error(tenant_a, tenant_b):
    build(tenant_b.org)
    with organization_context(tenant_b.org.pk):
        theirs = Team.objects.get(organization=tenant_b.org)
    data = {"name": "X", "kind": "app", "layer": layer(tenant_a.org).pk, "team": theirs.pk}
    answer = client_for(tenant_a.editor).post("/o/org-a/portfolio/components/", data)
    assert answer.status_code == 400
    assert "Select a valid choice" in answer.content.decode()


def test_duplicate_slug_is_a_form_error(tenant_a):
    build(tenant_a.org)
    answer = client_for(tenant_a.editor).post(
        "/o/org-a/portfolio/teams/", {"name": "X", "slug": "claims"}
    )
    assert answer.status_code == 400
    assert "already exists" in answer.content.decode()


def test_deleting_a_team_in_use_explains_why_not(tenant_a):
    build(tenant_a.org)
    with organization_context(tenant_a.org.pk):
        team = Team.objects.get(organization=tenant_a.org)
    client = client_for(tenant_a.editor)
    answer = client.post(f"/o/org-a/portfolio/teams/{team.pk}/delete/", follow=True)
    assert "is still used by components" in answer.content.decode()


def test_edit_page_saves_and_shows_history(tenant_a):
    build(tenant_a.org)
    with organization_context(tenant_a.org.pk):
        team = Team.objects.get(organization=tenant_a.org)
    client = client_for(tenant_a.editor)
    assert (
        client.post(
            f"/o/org-a/portfolio/teams/{team.pk}/", {"name": "Claims squad", "slug": "claims"}
        ).status_code
        == 302
    )
    html = client.get(f"/o/org-a/portfolio/teams/{team.pk}/").content.decode()
    assert "changed name" in html
    assert "editor@org-a.example" in html


def test_layers_move_up_and_down(tenant_a):
    platforms = layer(tenant_a.org)
    client = client_for(tenant_a.editor)
    client.post(f"/o/org-a/portfolio/layers/{platforms.pk}/move/", {"direction": "up"})
    with organization_context(tenant_a.org.pk):
        names = list(Layer.objects.filter(organization=tenant_a.org).values_list("name", flat=True))
    assert names.index("Platforms") == names.index("Common services") - 1
    assert (
        client_for(tenant_a.viewer)
        .post(f"/o/org-a/portfolio/layers/{platforms.pk}/move/", {"direction": "up"})
        .status_code
        == 403
    )


def test_another_organizations_objects_are_404(tenant_a, tenant_b):
    build(tenant_b.org)
    with organization_context(tenant_b.org.pk):
        team = Team.objects.get(organization=tenant_b.org)
    assert client_for(tenant_a.admin).get(f"/o/org-a/portfolio/teams/{team.pk}/").status_code == 404


def test_components_page_through_a_thousand_rows_in_constant_queries(tenant_a):
    build(tenant_a.org)
    client = client_for(tenant_a.viewer)
    with CaptureQueriesContext(connection) as ctx:
        client.get("/o/org-a/portfolio/components/")
    few = len(ctx.captured_queries)
    with organization_context(tenant_a.org.pk):
        team = Team.objects.get(organization=tenant_a.org)
        Component.objects.bulk_create(
            Component(
                organization=tenant_a.org,
                slug=f"c-{i:04}",
                name=f"Comp {i:04}",
                layer=layer(tenant_a.org),
                team=team,
            )
            for i in range(998)
        )
    with CaptureQueriesContext(connection) as ctx:
        html = client.get("/o/org-a/portfolio/components/?page=20").content.decode()
    assert len(ctx.captured_queries) == few
    assert "Page 20 of 20 (1000)" in html
