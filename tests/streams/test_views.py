"""Value stream pages: list, tree, detail with the stage editor, status mapping and the map."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portfolio.entities import entity_save
from portfolio.models import Component, Layer, Team
from portfolio.tenancy import organization_context
from streams import services
from streams.models import Stage, StatusMapping, ValueStream
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def make_stream(org, slug="delivery", **kw) -> ValueStream:
    with organization_context(org.pk):
        return services.value_stream_save(
            organization=org, value_stream=ValueStream(slug=slug, name=slug.title(), **kw)
        )


def stage_names(stream) -> list[str]:
    with organization_context(stream.organization_id):
        return list(Stage.objects.filter(value_stream=stream).values_list("name", flat=True))


def test_list_shows_streams_and_filters_by_kind_and_search(tenant_a):
    make_stream(tenant_a.org, "dental", kind="business")
    make_stream(tenant_a.org, "claims-delivery", kind="team")
    client = client_for(tenant_a.viewer)
    html = client.get("/o/org-a/streams/").content.decode()
    assert "Dental" in html
    assert "Claims-Delivery" in html
    html = client.get("/o/org-a/streams/?kind=business").content.decode()
    assert "Dental" in html
    assert "Claims-Delivery" not in html
    html = client.get("/o/org-a/streams/?q=claims").content.decode()
    assert "Dental" not in html


def test_empty_list_offers_templates(tenant_a):
    html = client_for(tenant_a.viewer).get("/o/org-a/streams/").content.decode()
    assert "Start from a template" in html


def test_list_query_count_does_not_grow_with_rows(tenant_a):
    client = client_for(tenant_a.viewer)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/o/org-a/streams/").status_code == 200
        return len(ctx.captured_queries)

    make_stream(tenant_a.org, "s0")
    few = count()
    for i in range(1, 60):
        make_stream(tenant_a.org, f"s{i}")
    assert count() == few


def test_editor_creates_a_stream_viewer_may_not(tenant_a):
    data = {"name": "Claims delivery", "slug": "", "kind": "team"}
    assert client_for(tenant_a.viewer).post("/o/org-a/streams/", data).status_code == 403
    answer = client_for(tenant_a.editor).post("/o/org-a/streams/", data)
    assert answer.status_code == 302
    with organization_context(tenant_a.org.pk):
        assert ValueStream.objects.get(organization=tenant_a.org).slug == "claims-delivery"


def test_a_parent_from_another_organization_is_a_form_error(tenant_a, tenant_b):
    other = make_stream(tenant_b.org, "theirs")
    answer = client_for(tenant_a.editor).post(
        "/o/org-a/streams/", {"name": "Mine", "kind": "team", "parent": other.pk}
    )
    assert answer.status_code == 400
    assert "Select a valid choice" in answer.content.decode()


def test_a_cycle_is_a_form_error(tenant_a):
    top = make_stream(tenant_a.org, "top", kind="business")
    child = make_stream(tenant_a.org, "child", parent=top)
    answer = client_for(tenant_a.editor).post(
        f"/o/org-a/streams/{top.pk}/",
        {"name": "Top", "slug": "top", "kind": "business", "parent": child.pk},
    )
    assert answer.status_code == 400
    assert "cannot be its own ancestor" in answer.content.decode()


def test_stage_editor_adds_renames_moves_and_deletes_with_htmx(tenant_a):
    stream = make_stream(tenant_a.org)
    client = client_for(tenant_a.editor)
    htmx = {"HX-Request": "true"}
    for name in ("Develop", "Build", "Test"):
        answer = client.post(f"/o/org-a/streams/{stream.pk}/stages/", {"name": name}, headers=htmx)
        assert answer.status_code == 200
        assert answer.content.decode().lstrip().startswith('<section id="stages"')
    assert stage_names(stream) == ["Develop", "Build", "Test"]
    with organization_context(tenant_a.org.pk):
        test = Stage.objects.get(value_stream=stream, slug="test")
    client.post(
        f"/o/org-a/streams/{stream.pk}/stages/{test.pk}/move/", {"direction": "up"}, headers=htmx
    )
    assert stage_names(stream) == ["Develop", "Test", "Build"]
    client.post(f"/o/org-a/streams/{stream.pk}/stages/{test.pk}/", {"name": "Verify"}, headers=htmx)
    assert stage_names(stream) == ["Develop", "Verify", "Build"]
    with organization_context(tenant_a.org.pk):
        ids = list(Stage.objects.filter(value_stream=stream).values_list("pk", flat=True))
    client.post(f"/o/org-a/streams/{stream.pk}/stages/reorder/", {"order": ids[::-1]}, headers=htmx)
    assert stage_names(stream) == ["Build", "Verify", "Develop"]
    client.post(f"/o/org-a/streams/{stream.pk}/stages/{test.pk}/delete/", headers=htmx)
    assert stage_names(stream) == ["Build", "Develop"]
    bad = client.post(f"/o/org-a/streams/{stream.pk}/stages/", {"name": " "}, headers=htmx)
    assert "A stage needs a name" in bad.content.decode()


def test_viewers_cannot_edit_stages(tenant_a):
    stream = make_stream(tenant_a.org)
    client = client_for(tenant_a.viewer)
    assert client.post(f"/o/org-a/streams/{stream.pk}/stages/", {"name": "X"}).status_code == 403
    html = client.get(f"/o/org-a/streams/{stream.pk}/").content.decode()
    assert "Add stage" not in html


def test_stage_components_accept_only_the_organizations_components(tenant_a, tenant_b):
    stream = make_stream(tenant_a.org)
    with organization_context(tenant_a.org.pk):
        stage = services.stage_add(organization=tenant_a.org, value_stream=stream, name="Build")
        layer = Layer.objects.filter(organization=tenant_a.org).last()
        team = entity_save(Team(slug="t", name="T"), organization=tenant_a.org)
        mine = entity_save(
            Component(slug="ci", name="CI", layer=layer, team=team), organization=tenant_a.org
        )
    with organization_context(tenant_b.org.pk):
        layer_b = Layer.objects.filter(organization=tenant_b.org).last()
        team_b = entity_save(Team(slug="t", name="T"), organization=tenant_b.org)
        theirs = entity_save(
            Component(slug="x", name="X", layer=layer_b, team=team_b), organization=tenant_b.org
        )
    client = client_for(tenant_a.editor)
    url = f"/o/org-a/streams/{stream.pk}/stages/{stage.pk}/components/"
    answer = client.post(url, {"components": [mine.pk, theirs.pk]}, headers={"HX-Request": "true"})
    assert "Choose components from the list" in answer.content.decode()
    client.post(url, {"components": [mine.pk]}, headers={"HX-Request": "true"})
    with organization_context(tenant_a.org.pk):
        assert list(stage.components.values_list("slug", flat=True)) == ["ci"]
    # The map puts it on its layer, under its stage.
    html = client.get(f"/o/org-a/streams/{stream.pk}/map/").content.decode()
    assert "IT4IT and infrastructure" in html
    assert ">CI <small>T</small>" in html


def test_status_mapping_is_edited_as_lines_with_line_errors(tenant_a):
    stream = make_stream(tenant_a.org)
    client = client_for(tenant_a.editor)
    url = f"/o/org-a/streams/{stream.pk}/status-map/"
    bad = client.post(url, {"mapping": "In Review = waiting\nnonsense\nBlocked = stuck"})
    assert bad.status_code == 400
    assert "line 2: write &#x27;Status = category&#x27;" in bad.content.decode()
    bad = client.post(url, {"mapping": "Blocked = stuck"})
    assert "category &#x27;stuck&#x27; is not one of" in bad.content.decode()
    assert client.post(url, {"mapping": "In Review = waiting\nDone = done"}).status_code == 302
    with organization_context(tenant_a.org.pk):
        assert StatusMapping.objects.filter(value_stream=stream).count() == 2


def test_tree_shows_the_cascade(tenant_a):
    top = make_stream(tenant_a.org, "dental", kind="business")
    make_stream(tenant_a.org, "claims", parent=top)
    html = client_for(tenant_a.viewer).get("/o/org-a/streams/tree/").content.decode()
    # Claims is listed inside Dental's nested list.
    assert re.search(r">Dental</a>.*?<ul>\s*<li>\s*<a [^>]*>Claims</a>", html, re.S)


def test_another_organizations_stream_is_404(tenant_a, tenant_b):
    theirs = make_stream(tenant_b.org, "theirs")
    client = client_for(tenant_a.admin)
    for path in ("", "map/"):
        assert client.get(f"/o/org-a/streams/{theirs.pk}/{path}").status_code == 404


def test_detail_shows_history(tenant_a):
    stream = make_stream(tenant_a.org)
    client = client_for(tenant_a.editor)
    client.post(
        f"/o/org-a/streams/{stream.pk}/",
        {"name": "Software delivery", "slug": "delivery", "kind": "team"},
    )
    html = client.get(f"/o/org-a/streams/{stream.pk}/").content.decode()
    assert "editor@org-a.example" in html
    assert "changed name" in html


def test_list_filters_by_parent(tenant_a):
    top = make_stream(tenant_a.org, "dental", kind="business")
    make_stream(tenant_a.org, "claims", parent=top)
    make_stream(tenant_a.org, "other")
    client = client_for(tenant_a.viewer)
    html = client.get("/o/org-a/streams/?parent=dental").content.decode()
    assert ">Claims</a>" in html
    assert ">Other</a>" not in html
    assert '<option value="dental"' in html
    html = client.get("/o/org-a/streams/?parent=none").content.decode()
    assert ">Other</a>" in html
    assert ">Claims</a>" not in html


def test_the_list_pages_through_a_thousand_streams_in_constant_queries(tenant_a):
    client = client_for(tenant_a.viewer)
    make_stream(tenant_a.org, "first")
    with CaptureQueriesContext(connection) as ctx:
        client.get("/o/org-a/streams/")
    one = len(ctx.captured_queries)
    with organization_context(tenant_a.org.pk):
        ValueStream.objects.bulk_create(
            ValueStream(organization=tenant_a.org, slug=f"vs-{i:04}", name=f"Stream {i:04}")
            for i in range(999)
        )
    with CaptureQueriesContext(connection) as ctx:
        html = client.get("/o/org-a/streams/?page=20").content.decode()
    assert len(ctx.captured_queries) == one
    assert "Page 20 of 20 (1000 value streams)" in html
    assert "Stream 0998" in html
