"""The value stream API: streams with their status map and cascade, stages with
their components and order; the role (403) and other-organization (404) cases,
constant query counts and change history."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portfolio.entities import entity_save
from portfolio.models import Component, Layer, Team
from portfolio.tenancy import organization_context
from streams.models import Stage, StatusMapping, ValueStream
from streams.services import (
    stage_add,
    stage_components_set,
    status_mappings_set,
    value_stream_save,
)
from tests.api import get, send, slugs
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(tenant_a):
    return client_for(tenant_a.editor)


def components(org, *slugs: str, prefix: str = "") -> list[Component]:
    with organization_context(org.pk):
        layer = Layer.objects.filter(organization=org).first()
        team = entity_save(Team(slug=f"{prefix}team", name="Team"), organization=org)
        return [
            entity_save(
                Component(slug=slug, name=slug.title(), layer=layer, team=team), organization=org
            )
            for slug in slugs
        ]


def streams(org, n: int, prefix: str = "vs") -> None:
    """n streams under one parent, each with a status map and two stages with a component."""
    [component] = components(org, f"{prefix}-api", prefix=prefix)
    with organization_context(org.pk):
        parent = None
        for i in range(n):
            stream = value_stream_save(
                organization=org,
                value_stream=ValueStream(slug=f"{prefix}{i}", name=f"Stream {i}", parent=parent),
            )
            parent = parent or stream
            status_mappings_set(
                organization=org,
                value_stream=stream,
                mapping={"To Do": "new", "Doing": "active", "Done": "done"},
            )
            for name in ("Build", "Deploy"):
                stage = stage_add(organization=org, value_stream=stream, name=name)
                stage_components_set(organization=org, stage=stage, components=[component])


def test_value_streams_crud_with_status_map_and_cascade(editor, tenant_a):
    body = {
        "slug": "dental",
        "name": "Dental insurance",
        "kind": "business",
        "status_map": {"In Review": "waiting", "Done": "done"},
    }
    created = send(editor, "post", "value-streams/", body)
    assert created.status_code == 201, created.json()
    dental = created.json()
    assert dental == {
        **body,
        "id": dental["id"],
        "description": "",
        "parent": None,
        "owner_email": None,
        "stages": [],
    }
    assert get(editor, f"value-streams/{dental['id']}/").json() == dental
    child = send(
        editor,
        "post",
        "value-streams/",
        {
            "slug": "claims",
            "name": "Claims",
            "parent": "dental",
            "owner_email": "editor@org-a.example",
        },
    ).json()
    assert (child["parent"], child["owner_email"], child["kind"]) == (
        "dental",
        "editor@org-a.example",
        "team",
    )

    cycle = send(editor, "patch", f"value-streams/{dental['id']}/", {"parent": "claims"})
    assert cycle.status_code == 400
    assert cycle.json() == {
        "parent": ["'claims' descends from 'dental': a value stream cannot be its own ancestor."]
    }
    path = f"value-streams/{dental['id']}/"
    bad_category = send(editor, "patch", path, {"status_map": {"In Review": "doing"}})
    assert bad_category.json() == {"status_map": {"In Review": ['"doing" is not a valid choice.']}}
    twice = send(editor, "patch", path, {"status_map": {"Done": "done", "done": "done"}})
    assert twice.json() == {
        "status_map": ["'done' is mapped twice (statuses are compared without case)."]
    }
    # A failed write leaves the stream as it was.
    assert get(editor, path).json()["status_map"] == body["status_map"]
    replaced = send(editor, "patch", path, {"status_map": {"Doing": "active"}, "description": "D"})
    assert replaced.json()["status_map"] == {"Doing": "active"}
    assert replaced.json()["description"] == "D"
    put = send(editor, "put", path, {"slug": "dental", "name": "Dental", "kind": "business"})
    assert put.status_code == 200
    assert put.json()["status_map"] == {"Doing": "active"}  # not given, so not replaced
    taken = send(editor, "post", "value-streams/", {"slug": "claims", "name": "Other"})
    assert taken.json() == {"slug": ["A value stream with this slug already exists."]}

    in_use = send(editor, "delete", path)
    assert in_use.status_code == 400
    assert in_use.json() == {
        "detail": [
            "Value stream 'Dental' is still used by value streams: Claims. "
            "Change or delete those first."
        ]
    }
    assert send(editor, "delete", f"value-streams/{child['id']}/").status_code == 204
    assert send(editor, "delete", path).status_code == 204
    with organization_context(tenant_a.org.pk):
        assert not StatusMapping.objects.exists()


def test_value_stream_filters(editor, tenant_a):
    streams(tenant_a.org, 3)
    send(editor, "post", "value-streams/", {"slug": "dental", "name": "Dental", "kind": "business"})
    assert slugs(get(editor, "value-streams/", kind="business")) == ["dental"]
    assert slugs(get(editor, "value-streams/", parent="vs0")) == ["vs1", "vs2"]
    assert slugs(get(editor, "value-streams/", root="true")) == ["dental", "vs0"]
    assert slugs(get(editor, "value-streams/", search="STREAM 2")) == ["vs2"]
    assert slugs(get(editor, "value-streams/", search="dent")) == ["dental"]
    assert get(editor, "value-streams/", kind="galaxy").status_code == 400


def test_stages_crud_order_and_components(editor, tenant_a):
    components(tenant_a.org, "claims-api", "web-app")
    stream = send(editor, "post", "value-streams/", {"slug": "delivery", "name": "Delivery"})
    stream = stream.json()
    send(editor, "post", "value-streams/", {"slug": "other", "name": "Other"})
    ids = []
    for name in ("Develop", "Build", "Test", "Deploy"):
        answer = send(editor, "post", "stages/", {"value_stream": "delivery", "name": name})
        assert answer.status_code == 201, answer.json()
        ids.append(answer.json()["id"])
    created = send(
        editor,
        "post",
        "stages/",
        {"value_stream": "delivery", "name": "Release", "slug": "ship", "components": ["web-app"]},
    ).json()
    assert created == {
        "id": created["id"],
        "value_stream": "delivery",
        "slug": "ship",
        "name": "Release",
        "position": 4,
        "components": ["web-app"],
    }
    ids.append(created["id"])
    assert get(editor, f"stages/{ids[0]}/").json()["slug"] == "develop"
    assert slugs(get(editor, "stages/", value_stream="delivery")) == [
        "develop",
        "build",
        "test",
        "deploy",
        "ship",
    ]
    assert slugs(get(editor, "stages/", component="web-app")) == ["ship"]

    path = f"stages/{ids[1]}/"
    linked = send(editor, "patch", path, {"components": ["claims-api", "web-app"]}).json()
    assert linked["components"] == ["claims-api", "web-app"]
    assert send(editor, "patch", path, {"name": "Compile"}).json()["components"] == [
        "claims-api",
        "web-app",
    ]
    moved = send(editor, "patch", path, {"value_stream": "other"})
    assert moved.json() == {
        "value_stream": [
            "A stage stays in its value stream; add a stage to the other stream instead."
        ]
    }
    taken = send(editor, "patch", path, {"slug": "test"})
    assert taken.json() == {"slug": ["A stage with this value stream and slug already exists."]}
    unknown = send(editor, "patch", path, {"components": ["claims-api", "nope"]})
    assert unknown.json() == {"components": ["'nope' is not a component."]}
    assert get(editor, path).json()["components"] == ["claims-api", "web-app"]

    reorder = f"value-streams/{stream['id']}/stages/reorder/"
    reordered = send(editor, "post", reorder, {"order": ids[::-1]})
    assert reordered.status_code == 200
    assert [s["slug"] for s in reordered.json()] == ["ship", "deploy", "test", "build", "develop"]
    assert [s["position"] for s in reordered.json()] == [0, 1, 2, 3, 4]
    assert get(editor, f"value-streams/{stream['id']}/").json()["stages"] == [
        "ship",
        "deploy",
        "test",
        "build",
        "develop",
    ]
    assert send(editor, "post", reorder, {"order": ids[:2]}).json() == {
        "order": ["The new order must name each item exactly once."]
    }
    assert send(editor, "post", reorder, {"order": "first"}).status_code == 400

    assert send(editor, "delete", f"stages/{ids[2]}/").status_code == 204
    remaining = get(editor, "stages/", value_stream="delivery").json()["results"]
    assert [(s["slug"], s["position"]) for s in remaining] == [
        ("ship", 0),
        ("deploy", 1),
        ("build", 2),
        ("develop", 3),
    ]


def test_a_reference_to_another_organizations_object_is_a_400_and_writes_nothing(
    editor, tenant_a, tenant_b
):
    streams(tenant_b.org, 1, prefix="b")
    streams(tenant_a.org, 1, prefix="a")
    with organization_context(tenant_a.org.pk):
        before = (ValueStream.objects.count(), Stage.objects.count(), StatusMapping.objects.count())
        a_stream = ValueStream.objects.get(slug="a0").pk
        a_stage = Stage.objects.filter(value_stream_id=a_stream).first().pk
    for value in ("b0", "missing"):
        answer = send(editor, "post", "value-streams/", {"slug": "x", "name": "X", "parent": value})
        assert answer.json() == {"parent": [f"'{value}' is not a value stream."]}
        answer = send(editor, "post", "stages/", {"value_stream": value, "name": "X"})
        assert answer.json() == {"value_stream": [f"'{value}' is not a value stream."]}
    for value in ("b-api", "missing"):
        answer = send(
            editor, "post", "stages/", {"value_stream": "a0", "name": "X", "components": [value]}
        )
        assert answer.json() == {"components": [f"'{value}' is not a component."]}
        answer = send(editor, "patch", f"stages/{a_stage}/", {"components": ["a-api", value]})
        assert answer.status_code == 400
    # Nor can a reorder name another organization's stages.
    with organization_context(tenant_b.org.pk):
        theirs = list(Stage.objects.values_list("pk", flat=True))
    answer = send(editor, "post", f"value-streams/{a_stream}/stages/reorder/", {"order": theirs})
    assert answer.status_code == 400
    with organization_context(tenant_a.org.pk):
        after = (ValueStream.objects.count(), Stage.objects.count(), StatusMapping.objects.count())
        assert list(Stage.objects.get(pk=a_stage).components.values_list("slug", flat=True)) == [
            "a-api"
        ]
    assert after == before


MODELS = {"value-streams": ValueStream, "stages": Stage}


@pytest.mark.parametrize("path", MODELS)
def test_another_organizations_object_answers_404_like_a_missing_one(path, tenant_a, tenant_b):
    streams(tenant_b.org, 1)
    with organization_context(tenant_b.org.pk):
        theirs = MODELS[path].objects.first()
        changes = theirs.history.count()
    client = client_for(tenant_a.admin)
    for pk in (theirs.pk, 2_000_000_000):
        for method in ("get", "put", "patch", "delete"):
            answer = send(client, method, f"{path}/{pk}/", {"name": "Mine"})
            assert answer.status_code == 404, (method, pk)
            assert answer.json() == {"detail": "Not found."}
        assert get(client, f"{path}/{pk}/history/").status_code == 404
        if path == "value-streams":
            reorder = send(client, "post", f"{path}/{pk}/stages/reorder/", {"order": []})
            assert reorder.status_code == 404
    assert get(client, f"{path}/{theirs.pk}/", org="org-b").status_code == 404
    with organization_context(tenant_b.org.pk):
        assert theirs.history.count() == changes


@pytest.mark.parametrize("path", MODELS)
def test_viewers_read_but_may_not_write(path, tenant_a):
    streams(tenant_a.org, 1)
    with organization_context(tenant_a.org.pk):
        mine = MODELS[path].objects.first()
        stream = ValueStream.objects.first()
        changes = mine.history.count()
    viewer = client_for(tenant_a.viewer)
    assert get(viewer, f"{path}/").status_code == 200
    assert get(viewer, f"{path}/{mine.pk}/").status_code == 200
    assert get(viewer, f"{path}/{mine.pk}/history/").status_code == 200
    writes = [
        ("post", f"{path}/"),
        ("put", f"{path}/{mine.pk}/"),
        ("patch", f"{path}/{mine.pk}/"),
        ("delete", f"{path}/{mine.pk}/"),
        ("post", f"value-streams/{stream.pk}/stages/reorder/"),
    ]
    for method, target in writes:
        answer = send(viewer, method, target, {"name": "New", "value_stream": "vs0", "order": []})
        assert answer.status_code == 403, (method, target)
    with organization_context(tenant_a.org.pk):
        assert mine.history.count() == changes
    renamed = send(client_for(tenant_a.editor), "patch", f"{path}/{mine.pk}/", {"name": "New"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "New"


@pytest.mark.parametrize("path", MODELS)
def test_list_query_count_does_not_grow_with_rows(path, tenant_a):
    client = client_for(tenant_a.viewer)
    streams(tenant_a.org, 3, prefix="few")
    with CaptureQueriesContext(connection) as few:
        assert get(client, f"{path}/").status_code == 200
    streams(tenant_a.org, 30, prefix="many")
    with CaptureQueriesContext(connection) as many:
        answer = get(client, f"{path}/")
    assert answer.json()["count"] >= 33
    assert len(many) == len(few)


def test_history_of_a_stage(editor, tenant_a):
    stream = send(editor, "post", "value-streams/", {"slug": "d", "name": "D"}).json()
    first = send(editor, "post", "stages/", {"value_stream": "d", "name": "Build"}).json()
    second = send(editor, "post", "stages/", {"value_stream": "d", "name": "Test"}).json()
    send(editor, "patch", f"stages/{first['id']}/", {"name": "Compile"})
    send(
        editor,
        "post",
        f"value-streams/{stream['id']}/stages/reorder/",
        {"order": [second["id"], first["id"]]},
    )
    history = get(client_for(tenant_a.admin), f"stages/{first['id']}/history/").json()
    assert [(r["history_type"], r["changed_fields"]) for r in history["results"]] == [
        ("~", ["position"]),
        ("~", ["name"]),
        ("+", ["value_stream", "slug", "name"]),
    ]
    assert {r["history_user"] for r in history["results"]} == {"editor@org-a.example"}
