"""The portfolio and OKR API: CRUD through the services, references by natural
key within the organization, the role (403) and other-organization (404) cases,
constant query counts, change history, and the OpenAPI schema."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.drainage import GENERATOR_STATS

from journeys.models import Journey
from journeys.services import journey_save
from portfolio.entities import entity_save
from portfolio.models import (
    Component,
    KeyResult,
    Layer,
    Objective,
    ObjectiveValueStream,
    Product,
    ProductFamily,
    Team,
)
from portfolio.services import api_token_create, key_result_save, layer_save, objective_save
from portfolio.tenancy import organization_context
from streams.models import ValueStream
from streams.services import value_stream_save
from tests.api import get, send, slugs, url
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(tenant_a):
    return client_for(tenant_a.editor)


def build_portfolio(org, n: int = 1, prefix: str = "p") -> None:
    """n teams, families, products and components, each linked to the others."""
    with organization_context(org.pk):
        for i in range(n):
            layer = layer_save(organization=org, layer=Layer(name=f"{prefix} layer {i}"))
            team = entity_save(Team(slug=f"{prefix}team{i}", name=f"Team {i}"), organization=org)
            family = entity_save(
                ProductFamily(slug=f"{prefix}fam{i}", name=f"Family {i}"), organization=org
            )
            product = entity_save(
                Product(slug=f"{prefix}prod{i}", name=f"Prod {i}", family=family, layer=layer),
                organization=org,
            )
            entity_save(
                Component(
                    slug=f"{prefix}comp{i}",
                    name=f"Comp {i}",
                    layer=layer,
                    team=team,
                    product=product,
                ),
                organization=org,
            )


def build_okrs(org, n: int = 1, prefix: str = "o") -> None:
    """n objectives (each under the first), each with a value stream, a journey and a
    key result linked to the stream's metric."""
    with organization_context(org.pk):
        parent = None
        for i in range(n):
            stream = value_stream_save(
                organization=org, value_stream=ValueStream(slug=f"{prefix}vs{i}", name=f"VS {i}")
            )
            journey = journey_save(
                organization=org, journey=Journey(slug=f"{prefix}j{i}", name=f"J {i}")
            )
            objective = objective_save(
                organization=org,
                objective=Objective(
                    slug=f"{prefix}obj{i}", title=f"Objective {i}", quarter="2026-Q3", parent=parent
                ),
                value_streams=[stream],
                journeys=[journey],
            )
            parent = parent or objective
            key_result_save(
                organization=org,
                key_result=KeyResult(
                    objective=objective,
                    slug=f"{prefix}kr{i}",
                    title=f"KR {i}",
                    baseline=10,
                    target=5,
                    metric_value_stream=stream,
                    metric_key="flow_time_median_days",
                ),
            )


# --- CRUD ---------------------------------------------------------------------------


def test_layers_crud_and_reorder(editor):
    created = send(editor, "post", "layers/", {"name": "Data"})
    assert created.status_code == 201, created.json()
    layer = created.json()
    assert layer == {"id": layer["id"], "name": "Data", "position": 7}
    listed = get(editor, "layers/").json()
    assert listed["count"] == 8
    assert listed["results"][-1] == layer
    assert get(editor, f"layers/{layer['id']}/").json() == layer
    assert send(editor, "patch", f"layers/{layer['id']}/", {"name": "Data platforms"}).json()[
        "name"
    ] == ("Data platforms")
    assert send(editor, "put", f"layers/{layer['id']}/", {"name": "Data"}).status_code == 200

    taken = send(editor, "post", "layers/", {"name": "Experience"})
    assert taken.status_code == 400
    assert taken.json() == {"name": ["A layer with this name already exists."]}

    ids = [row["id"] for row in listed["results"]]
    reordered = send(editor, "post", "layers/reorder/", {"order": ids[::-1]})
    assert reordered.status_code == 200
    assert [row["name"] for row in reordered.json()][:2] == ["Data", "IT4IT and infrastructure"]
    assert [row["position"] for row in reordered.json()] == list(range(8))
    partial = send(editor, "post", "layers/reorder/", {"order": ids[:2]})
    assert partial.status_code == 400
    assert partial.json() == {"order": ["The new order must name each item exactly once."]}

    assert send(editor, "delete", f"layers/{layer['id']}/").status_code == 204
    assert get(editor, f"layers/{layer['id']}/").status_code == 404


def test_teams_crud(editor, tenant_b):
    created = send(editor, "post", "teams/", {"slug": "claims-team", "name": "Claims team"})
    assert created.status_code == 201
    team = created.json()
    assert team == {"id": team["id"], "slug": "claims-team", "name": "Claims team"}
    assert slugs(get(editor, "teams/")) == ["claims-team"]
    assert get(editor, f"teams/{team['id']}/").json() == team
    renamed = send(editor, "put", f"teams/{team['id']}/", {"slug": "claims", "name": "Claims"})
    assert renamed.json() == {"id": team["id"], "slug": "claims", "name": "Claims"}

    taken = send(editor, "post", "teams/", {"slug": "claims", "name": "Other"})
    assert taken.json() == {"slug": ["A team with this slug already exists."]}
    assert "slug" in send(editor, "post", "teams/", {"slug": "Not A Slug", "name": "X"}).json()
    # Slugs are unique within one organization only.
    other = send(
        client_for(tenant_b.editor), "post", "teams/", {"slug": "claims", "name": "B"}, "org-b"
    )
    assert other.status_code == 201

    assert send(editor, "delete", f"teams/{team['id']}/").status_code == 204
    assert get(editor, "teams/").json()["count"] == 0


def test_product_families_and_products_crud(editor):
    family = send(editor, "post", "product-families/", {"slug": "insurance", "name": "Insurance"})
    assert family.status_code == 201
    family = family.json()
    assert family["products"] == []
    created = send(
        editor,
        "post",
        "products/",
        {
            "slug": "dental",
            "name": "Dental cover",
            "family": "insurance",
            "layer": "Business products",
        },
    )
    assert created.status_code == 201, created.json()
    product = created.json()
    assert product == {
        "id": product["id"],
        "slug": "dental",
        "name": "Dental cover",
        "family": "insurance",
        "layer": "Business products",
    }
    assert get(editor, f"product-families/{family['id']}/").json()["products"] == ["dental"]
    assert slugs(get(editor, "products/", family="insurance")) == ["dental"]
    assert slugs(get(editor, "products/", layer="Experience")) == []

    moved = send(editor, "patch", f"products/{product['id']}/", {"layer": "Experience"})
    assert moved.json()["layer"] == "Experience"
    unknown = send(editor, "patch", f"products/{product['id']}/", {"layer": "Nowhere"})
    assert unknown.json() == {"layer": ["'Nowhere' is not a layer."]}

    in_use = send(editor, "delete", f"product-families/{family['id']}/")
    assert in_use.status_code == 400
    assert in_use.json() == {
        "detail": [
            "Product family 'Insurance' is still used by products: Dental cover. "
            "Change or delete those first."
        ]
    }
    assert send(editor, "delete", f"products/{product['id']}/").status_code == 204
    assert send(editor, "delete", f"product-families/{family['id']}/").status_code == 204


def test_components_crud_and_filters(editor, tenant_a):
    build_portfolio(tenant_a.org)
    body = {
        "slug": "claims-api",
        "name": "Claims API",
        "kind": "service",
        "layer": "IT portfolio",
        "team": "pteam0",
        "product": "pprod0",
    }
    created = send(editor, "post", "components/", body)
    assert created.status_code == 201, created.json()
    component = created.json()
    assert component == {"id": component["id"], **body}
    assert get(editor, f"components/{component['id']}/").json() == component

    assert slugs(get(editor, "components/")) == ["claims-api", "pcomp0"]
    assert slugs(get(editor, "components/", layer="IT portfolio")) == ["claims-api"]
    assert slugs(get(editor, "components/", team="pteam0")) == ["claims-api", "pcomp0"]
    assert slugs(get(editor, "components/", kind="service")) == ["claims-api"]
    assert slugs(get(editor, "components/", product="pprod0")) == ["claims-api", "pcomp0"]
    bad_filter = get(editor, "components/", kind="robot")
    assert bad_filter.status_code == 400
    assert "kind" in bad_filter.json()

    unlinked = send(editor, "patch", f"components/{component['id']}/", {"product": None})
    assert unlinked.json()["product"] is None
    missing = send(editor, "post", "components/", {**body, "slug": "x", "team": "nope"})
    assert missing.status_code == 400
    assert missing.json() == {"team": ["'nope' is not a team."]}

    in_use = send(
        editor, "delete", "teams/{}/".format(get(editor, "teams/").json()["results"][0]["id"])
    )
    assert in_use.status_code == 400
    assert "still used by components: Claims API, Comp 0" in in_use.json()["detail"][0]
    assert send(editor, "delete", f"components/{component['id']}/").status_code == 204


def test_objectives_crud_links_owner_and_cycle(editor, tenant_a, tenant_b):
    build_okrs(tenant_a.org, 1)
    body = {
        "slug": "faster-claims",
        "title": "Pay claims faster",
        "quarter": "2026-Q4",
        "value_streams": ["ovs0"],
        "owner_email": "EDITOR@org-a.example",
    }
    created = send(editor, "post", "objectives/", body)
    assert created.status_code == 201, created.json()
    objective = created.json()
    assert objective == {
        "id": objective["id"],
        "slug": "faster-claims",
        "title": "Pay claims faster",
        "quarter": "2026-Q4",
        "parent": None,
        "owner_email": "editor@org-a.example",
        "value_streams": ["ovs0"],
        "journeys": [],
        "key_results": [],
        "progress": None,
        "status": "no_data",
    }
    assert slugs(get(editor, "objectives/", quarter="2026-Q4")) == ["faster-claims"]
    assert slugs(get(editor, "objectives/", value_stream="ovs0")) == ["oobj0", "faster-claims"]
    assert slugs(get(editor, "objectives/", journey="oj0")) == ["oobj0"]

    child = send(
        editor, "post", "objectives/", {**body, "slug": "child", "parent": "faster-claims"}
    ).json()
    assert child["parent"] == "faster-claims"
    assert slugs(get(editor, "objectives/", parent="faster-claims")) == ["child"]
    cycle = send(editor, "patch", f"objectives/{objective['id']}/", {"parent": "child"})
    assert cycle.status_code == 400
    assert cycle.json() == {"parent": ["An objective cannot descend from itself."]}

    # An owner is a person by email; owning grants nothing, so they need not be a member.
    answer = send(
        editor, "patch", f"objectives/{objective['id']}/", {"owner_email": "Ann@Example.com"}
    )
    assert answer.json()["owner_email"] == "ann@example.com"
    answer = send(
        editor, "patch", f"objectives/{objective['id']}/", {"owner_email": "not-an-email"}
    )
    assert answer.json() == {"owner_email": ["Enter a valid email address."]}
    assert "quarter" in send(editor, "post", "objectives/", {**body, "quarter": "2026-Q5"}).json()

    relinked = send(
        editor,
        "patch",
        f"objectives/{objective['id']}/",
        {"value_streams": [], "journeys": ["oj0"], "owner_email": None},
    ).json()
    assert (relinked["value_streams"], relinked["journeys"], relinked["owner_email"]) == (
        [],
        ["oj0"],
        None,
    )
    assert send(editor, "delete", f"objectives/{objective['id']}/").status_code == 204
    assert get(editor, f"objectives/{child['id']}/").json()["parent"] is None


def test_key_results_crud_and_metric_rules(editor, tenant_a):
    build_okrs(tenant_a.org, 1)
    body = {
        "objective": "oobj0",
        "slug": "claim-flow-time",
        "title": "Flow time under 5 days",
        "baseline": 12,
        "target": 5,
        "unit": "days",
        "metric": {"value_stream": "ovs0", "key": "flow_time_median_days"},
    }
    created = send(editor, "post", "key-results/", body)
    assert created.status_code == 201, created.json()
    kr = created.json()
    assert kr == {
        **body,
        "id": kr["id"],
        "baseline": 12.0,
        "target": 5.0,
        "weight": 1.0,
        "metric": {"value_stream": "ovs0", "journey": None, "key": "flow_time_median_days"},
        # Measured when saved: the stream has no items done in 2026-Q4 yet.
        "current": None,
        "current_as_of": kr["current_as_of"],
        "progress": None,
        "status": "no_data",
    }
    assert kr["current_as_of"] is not None
    assert slugs(get(editor, "key-results/", objective="oobj0")) == ["okr0", "claim-flow-time"]
    objective = get(editor, "objectives/").json()["results"][0]
    assert objective["key_results"] == ["okr0", "claim-flow-time"]

    path = f"key-results/{kr['id']}/"
    wrong_kind = send(editor, "patch", path, {"metric": {"value_stream": "ovs0", "key": "nps"}})
    assert wrong_kind.status_code == 400
    assert wrong_kind.json()["metric"][0].startswith("'nps' is not a value stream metric")
    both = send(
        editor, "patch", path, {"metric": {"value_stream": "ovs0", "journey": "oj0", "key": "nps"}}
    )
    assert both.json() == {
        "metric": ["A key result's metric belongs to a value stream or a journey, not both."]
    }
    assert send(editor, "patch", path, {"metric": {"journey": "nope", "key": "nps"}}).json() == {
        "metric": {"journey": ["'nope' is not a journey."]}
    }
    assert send(editor, "patch", path, {"target": 12}).json() == {
        "target": ["The target must differ from the baseline."]
    }
    journey_metric = send(editor, "patch", path, {"metric": {"journey": "oj0", "key": "nps"}})
    assert journey_metric.json()["metric"] == {"value_stream": None, "journey": "oj0", "key": "nps"}
    manual = send(editor, "patch", path, {"metric": None})
    assert manual.json()["metric"] is None
    with organization_context(tenant_a.org.pk):
        stored = KeyResult.objects.get(pk=kr["id"])
        assert (stored.metric_journey_id, stored.metric_key) == (None, "")
    assert send(editor, "delete", path).status_code == 204


# --- Tenancy and roles ------------------------------------------------------------


def test_a_reference_to_another_organizations_object_is_a_400_and_writes_nothing(
    editor, tenant_a, tenant_b
):
    build_portfolio(tenant_b.org, prefix="b")
    build_okrs(tenant_b.org, prefix="b")
    build_portfolio(tenant_a.org)
    build_okrs(tenant_a.org)
    with organization_context(tenant_a.org.pk):
        before = (
            Component.objects.count(),
            Objective.objects.count(),
            ObjectiveValueStream.objects.count(),
            KeyResult.objects.count(),
        )
    component = {"slug": "x", "name": "X", "layer": "Experience", "team": "pteam0"}
    cases = [
        ("components/", component, "team", "bteam0", "team"),
        ("components/", component, "product", "bprod0", "product"),
        (
            "products/",
            {"slug": "x", "name": "X", "layer": "Experience"},
            "family",
            "bfam0",
            "product family",
        ),
        (
            "objectives/",
            {"slug": "x", "title": "X", "quarter": "2026-Q3"},
            "parent",
            "bobj0",
            "objective",
        ),
        (
            "key-results/",
            {"slug": "x", "title": "X", "baseline": 1, "target": 2},
            "objective",
            "bobj0",
            "objective",
        ),
    ]
    for path, body, field, theirs, kind in cases:
        for value in (theirs, "missing"):
            answer = send(editor, "post", path, {**body, field: value})
            assert answer.status_code == 400
            assert answer.json() == {field: [f"'{value}' is not a {kind}."]}, path
    links = send(
        editor,
        "post",
        "objectives/",
        {"slug": "x", "title": "X", "quarter": "2026-Q3", "value_streams": ["ovs0", "bvs0"]},
    )
    assert links.json() == {"value_streams": ["'bvs0' is not a value stream."]}
    metric = send(
        editor,
        "post",
        "key-results/",
        {
            "objective": "oobj0",
            "slug": "x",
            "title": "X",
            "baseline": 1,
            "target": 2,
            "metric": {"value_stream": "bvs0", "key": "flow_velocity"},
        },
    )
    assert metric.json() == {"metric": {"value_stream": ["'bvs0' is not a value stream."]}}
    # Existing objects refuse them on update too.
    with organization_context(tenant_a.org.pk):
        mine = Component.objects.get(slug="pcomp0").pk
    assert send(editor, "patch", f"components/{mine}/", {"team": "bteam0"}).status_code == 400
    with organization_context(tenant_a.org.pk):
        assert Component.objects.get(pk=mine).team.slug == "pteam0"
        after = (
            Component.objects.count(),
            Objective.objects.count(),
            ObjectiveValueStream.objects.count(),
            KeyResult.objects.count(),
        )
    assert after == before


PORTFOLIO_MODELS = {
    "layers": Layer,
    "teams": Team,
    "product-families": ProductFamily,
    "products": Product,
    "components": Component,
    "objectives": Objective,
    "key-results": KeyResult,
}


@pytest.mark.parametrize("path", PORTFOLIO_MODELS)
def test_another_organizations_object_answers_404_like_a_missing_one(path, tenant_a, tenant_b):
    build_portfolio(tenant_b.org)
    build_okrs(tenant_b.org)
    model = PORTFOLIO_MODELS[path]
    with organization_context(tenant_b.org.pk):
        theirs = model.objects.filter(organization=tenant_b.org).first()
        history_before = theirs.history.count()
    client = client_for(tenant_a.admin)
    for pk in (theirs.pk, 2_000_000_000):
        for method in ("get", "put", "patch", "delete"):
            answer = send(client, method, f"{path}/{pk}/", {"name": "Mine", "title": "Mine"})
            assert answer.status_code == 404, (method, pk)
            assert answer.json() == {"detail": "Not found."}
        assert get(client, f"{path}/{pk}/history/").status_code == 404
    # B's own URL, from a member of A only: as for an organization that does not exist.
    assert get(client, f"{path}/{theirs.pk}/", org="org-b").status_code == 404
    with organization_context(tenant_b.org.pk):
        assert theirs.history.count() == history_before
        assert model.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("path", PORTFOLIO_MODELS)
def test_viewers_read_but_may_not_write(path, tenant_a):
    build_portfolio(tenant_a.org)
    build_okrs(tenant_a.org)
    model = PORTFOLIO_MODELS[path]
    with organization_context(tenant_a.org.pk):
        mine = model.objects.filter(organization=tenant_a.org).first()
        count, changes = model.objects.count(), mine.history.count()
    viewer = client_for(tenant_a.viewer)
    assert get(viewer, f"{path}/").status_code == 200
    assert get(viewer, f"{path}/{mine.pk}/").status_code == 200
    assert get(viewer, f"{path}/{mine.pk}/history/").status_code == 200
    for method, target in [
        ("post", f"{path}/"),
        ("put", f"{path}/{mine.pk}/"),
        ("patch", f"{path}/{mine.pk}/"),
        ("delete", f"{path}/{mine.pk}/"),
    ]:
        answer = send(viewer, method, target, {"name": "New", "slug": "new", "title": "New"})
        assert answer.status_code == 403, (method, target)
        assert answer.json() == {"detail": "This needs the editor role."}
    with organization_context(tenant_a.org.pk):
        assert (model.objects.count(), mine.history.count()) == (count, changes)
    # An editor may: a rename goes through.
    field = "title" if path in ("objectives", "key-results") else "name"
    renamed = send(client_for(tenant_a.editor), "patch", f"{path}/{mine.pk}/", {field: "Renamed"})
    assert renamed.status_code == 200
    assert renamed.json()[field] == "Renamed"


def test_signed_out_callers_and_tokens(client, tenant_a):
    assert client.get(url("teams/")).status_code == 401
    with organization_context(tenant_a.org.pk):
        key = api_token_create(organization=tenant_a.org, user=tenant_a.editor, name="ci").key
    created = client.post(
        url("teams/"),
        {"slug": "ci", "name": "CI"},
        content_type="application/json",
        headers={"Authorization": f"Token {key}"},
    )
    assert created.status_code == 201
    # The history records the token's user.
    history = client.get(
        url(f"teams/{created.json()['id']}/history/"), headers={"Authorization": f"Token {key}"}
    )
    assert history.json()["results"][0]["history_user"] == "editor@org-a.example"


# --- Lists, history, schema ---------------------------------------------------------


def queries_for(client, path: str, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        answer = get(client, path, **params)
    assert answer.status_code == 200
    return len(queries)


@pytest.mark.parametrize("path", PORTFOLIO_MODELS)
def test_list_query_count_does_not_grow_with_rows(path, tenant_a):
    client = client_for(tenant_a.viewer)
    build_portfolio(tenant_a.org, 3, prefix="a")
    build_okrs(tenant_a.org, 3, prefix="a")
    few = queries_for(client, f"{path}/")
    build_portfolio(tenant_a.org, 30, prefix="b")
    build_okrs(tenant_a.org, 30, prefix="b")
    with organization_context(tenant_a.org.pk):
        assert PORTFOLIO_MODELS[path].objects.count() >= 33
    assert queries_for(client, f"{path}/") == few


def test_history_lists_changes_newest_first_with_who_and_what(tenant_a):
    editor, admin = client_for(tenant_a.editor), client_for(tenant_a.admin)
    team = send(editor, "post", "teams/", {"slug": "claims", "name": "Claims"}).json()
    send(admin, "patch", f"teams/{team['id']}/", {"name": "Claims team"})
    send(admin, "patch", f"teams/{team['id']}/", {"name": "Claims team"})
    send(editor, "put", f"teams/{team['id']}/", {"slug": "claims-team", "name": "Claims"})
    history = get(client_for(tenant_a.viewer), f"teams/{team['id']}/history/").json()
    rows = [(r["history_type"], r["history_user"], r["changed_fields"]) for r in history["results"]]
    assert rows == [
        ("~", "editor@org-a.example", ["slug", "name"]),
        ("~", "admin@org-a.example", []),
        ("~", "admin@org-a.example", ["name"]),
        ("+", "editor@org-a.example", ["slug", "name"]),
    ]
    dates = [r["history_date"] for r in history["results"]]
    assert dates == sorted(dates, reverse=True)
    # Renamed API fields are shown by their API names.
    build_okrs(tenant_a.org)
    with organization_context(tenant_a.org.pk):
        kr = KeyResult.objects.get(slug="okr0").pk
    send(editor, "patch", f"key-results/{kr}/", {"metric": None, "unit": "days"})
    changes = get(editor, f"key-results/{kr}/history/").json()["results"][0]["changed_fields"]
    assert changes == ["unit", "metric"]


def test_history_pages_compare_across_the_page_boundary(tenant_a):
    with organization_context(tenant_a.org.pk):
        team = entity_save(Team(slug="t", name="Name 0"), organization=tenant_a.org)
        for i in range(1, 101):
            team.name = f"Name {i}"
            entity_save(team, organization=tenant_a.org)
    client = client_for(tenant_a.viewer)
    with CaptureQueriesContext(connection) as first_queries:
        first = get(client, f"teams/{team.pk}/history/").json()
    assert first["count"] == 101
    assert [r["changed_fields"] for r in first["results"]] == [["name"]] * 100
    assert [r["history_user"] for r in first["results"]] == [None] * 100
    last = get(client, f"teams/{team.pk}/history/", page=2).json()["results"]
    assert [(r["history_type"], r["changed_fields"]) for r in last] == [("+", ["slug", "name"])]
    with CaptureQueriesContext(connection) as last_queries:
        get(client, f"teams/{team.pk}/history/", page=2)
    assert len(first_queries) == len(last_queries)


def test_the_openapi_schema_validates_without_warnings(tmp_path, client):
    GENERATOR_STATS.reset()
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = target.read_text()
    for path in ("/layers/{id}/history/", "/value-streams/{id}/stages/reorder/", "/touchpoints/"):
        assert f"/api/v1/orgs/{{org_slug}}{path}:" in schema
    assert client.get("/api/v1/schema/").status_code == 200


ROOT = "/api/v1/orgs/{org_slug}/"


def test_every_model_operation_documents_its_errors():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    resources = [
        *PORTFOLIO_MODELS,
        "value-streams",
        "stages",
        "journeys",
        "journey-stages",
        "touchpoints",
    ]
    model_paths = [
        p for p in schema["paths"] if p.startswith(tuple(ROOT + r + "/" for r in resources))
    ]
    assert len(model_paths) >= 12 * 3
    for path in model_paths:
        for method, operation in schema["paths"][path].items():
            codes = set(operation["responses"])
            assert {"401", "403", "404"} <= codes, (method, path)
            listing = operation["operationId"].endswith("_list") and "{id}" not in path
            if method != "get" or listing:
                assert "400" in codes, (method, path)
            error = operation["responses"]["404"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}
    assert "additionalProperties" in schema["components"]["schemas"]["ValidationError"]
