"""The journey API: journeys, their ordered stages with the entry, work-start and
conversion flags, touchpoints with their components and value stream stage; the
role (403) and other-organization (404) cases, constant query counts and history."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from journeys.models import Journey, JourneyStage, Touchpoint
from journeys.services import journey_save, journey_stage_save, touchpoint_save
from portfolio.entities import entity_save
from portfolio.models import Component, Layer, Product, ProductFamily, Team
from portfolio.tenancy import organization_context
from streams.models import ValueStream
from streams.services import stage_add, value_stream_save
from tests.api import get, send, slugs
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def flags(client, journey: str) -> list[tuple[str, bool, bool, bool]]:
    rows = get(client, "journey-stages/", journey=journey).json()["results"]
    return [(r["slug"], r["entry"], r["work_start"], r["conversion"]) for r in rows]


@pytest.fixture
def editor(tenant_a):
    return client_for(tenant_a.editor)


def portfolio(org, prefix: str = "") -> None:
    """A product, two components and a value stream with two stages."""
    with organization_context(org.pk):
        layer = Layer.objects.filter(organization=org).first()
        team = entity_save(Team(slug=f"{prefix}team", name="Team"), organization=org)
        family = entity_save(ProductFamily(slug=f"{prefix}fam", name="F"), organization=org)
        entity_save(
            Product(slug=f"{prefix}dental", name="Dental", family=family, layer=layer),
            organization=org,
        )
        for slug in ("claims-api", "web-app"):
            entity_save(
                Component(slug=f"{prefix}{slug}", name=slug, layer=layer, team=team),
                organization=org,
            )
        stream = value_stream_save(
            organization=org, value_stream=ValueStream(slug=f"{prefix}dental", name="Dental")
        )
        stage_add(organization=org, value_stream=stream, name="Onboarding")
        stage_add(organization=org, value_stream=stream, name="Claims")


def journeys(org, n: int, prefix: str = "j") -> None:
    """n journeys, each with a product, three stages and a touchpoint in each stage."""
    portfolio(org, prefix=prefix)
    with organization_context(org.pk):
        product = Product.objects.get(slug=f"{prefix}dental")
        components = list(Component.objects.filter(slug__startswith=prefix))
        vs_stage = ValueStream.objects.get(slug=f"{prefix}dental").stages.first()
        for i in range(n):
            journey = journey_save(
                organization=org,
                journey=Journey(slug=f"{prefix}{i}", name=f"Journey {i}", product=product),
            )
            for name in ("Discover", "Apply", "Buy"):
                stage = journey_stage_save(
                    organization=org, stage=JourneyStage(journey=journey, name=name)
                )
                touchpoint_save(
                    organization=org,
                    touchpoint=Touchpoint(stage=stage, name="Web", value_stream_stage=vs_stage),
                    components=components,
                )


def test_journeys_crud_and_filters(editor, tenant_a):
    portfolio(tenant_a.org)
    body = {
        "slug": "get-cover",
        "name": "Get health cover",
        "persona": "Young family",
        "product": "dental",
    }
    created = send(editor, "post", "journeys/", body)
    assert created.status_code == 201, created.json()
    journey = created.json()
    assert journey == {**body, "id": journey["id"], "stages": []}
    assert get(editor, f"journeys/{journey['id']}/").json() == journey
    send(editor, "post", "journeys/", {"slug": "claim", "name": "Make a claim"})
    assert slugs(get(editor, "journeys/")) == ["get-cover", "claim"]
    assert slugs(get(editor, "journeys/", product="dental")) == ["get-cover"]
    assert slugs(get(editor, "journeys/", search="FAMILY")) == ["get-cover"]

    path = f"journeys/{journey['id']}/"
    assert send(editor, "patch", path, {"product": None}).json()["product"] is None
    assert send(editor, "patch", path, {"product": "nope"}).json() == {
        "product": ["'nope' is not a product."]
    }
    put = send(editor, "put", path, {"slug": "cover", "name": "Cover"}).json()
    assert (put["slug"], put["name"], put["persona"]) == ("cover", "Cover", "Young family")
    assert send(editor, "patch", path, {"slug": "claim"}).json() == {
        "slug": ["A journey with this slug already exists."]
    }
    send(editor, "post", "journey-stages/", {"journey": "cover", "name": "Discover"})
    assert send(editor, "delete", path).status_code == 204
    with organization_context(tenant_a.org.pk):
        assert not JourneyStage.objects.exists()


def test_journey_stages_flags_and_order(editor, tenant_a):
    journey = send(editor, "post", "journeys/", {"slug": "cover", "name": "Cover"}).json()
    send(editor, "post", "journeys/", {"slug": "other", "name": "Other"})
    first = send(
        editor,
        "post",
        "journey-stages/",
        {
            "journey": "cover",
            "name": "Discover",
            "emotion": 1,
            "pain_points": ["Too many plans"],
            "opportunities": ["A plan finder"],
        },
    )
    assert first.status_code == 201, first.json()
    discover = first.json()
    assert discover == {
        "id": discover["id"],
        "journey": "cover",
        "slug": "discover",
        "name": "Discover",
        "position": 0,
        "emotion": 1,
        "pain_points": ["Too many plans"],
        "opportunities": ["A plan finder"],
        "entry": True,
        "work_start": True,
        "conversion": True,
    }
    ids = [discover["id"]]
    for name in ("Compare", "Buy"):
        ids.append(
            send(editor, "post", "journey-stages/", {"journey": "cover", "name": name}).json()["id"]
        )
    # The defaults (docs/metrics.md#customer-journeys): entry on the first, work start on
    # the second, conversion on the last.
    assert flags(editor, "cover") == [
        ("discover", True, False, False),
        ("compare", False, True, False),
        ("buy", False, False, True),
    ]
    compare = f"journey-stages/{ids[1]}/"
    pinned = send(editor, "patch", compare, {"conversion": True})
    assert pinned.status_code == 200
    assert pinned.json()["conversion"] is True
    send(editor, "post", "journey-stages/", {"journey": "cover", "name": "Renew"})
    assert [s for s, *f in flags(editor, "cover") if f[2]] == ["compare"]
    refused = send(editor, "patch", compare, {"conversion": False})
    assert refused.status_code == 400
    assert refused.json() == {
        "conversion": [
            "'compare' is the journey's conversion stage; set conversion on another stage "
            "to move the flag."
        ]
    }
    # Sending a stage back as read changes nothing, and does not pin a default flag.
    read = get(editor, f"journey-stages/{ids[0]}/").json()
    again = send(
        editor, "put", f"journey-stages/{ids[0]}/", {k: read[k] for k in read if k != "id"}
    )
    assert again.json() == read
    assert send(editor, "patch", compare, {"emotion": 3}).json() == {
        "emotion": ["Ensure this value is less than or equal to 2."]
    }
    assert send(editor, "patch", compare, {"journey": "other"}).json() == {
        "journey": ["A stage stays in its journey; add a stage to the other journey instead."]
    }

    reorder = f"journeys/{journey['id']}/stages/reorder/"
    with organization_context(tenant_a.org.pk):
        renew = JourneyStage.objects.get(slug="renew").pk
    reordered = send(editor, "post", reorder, {"order": [ids[2], ids[1], ids[0], renew]})
    assert reordered.status_code == 200
    # The defaults follow the new order; the pinned conversion flag stays.
    assert [
        (s["slug"], s["entry"], s["work_start"], s["conversion"]) for s in reordered.json()
    ] == [
        ("buy", True, False, False),
        ("compare", False, True, True),
        ("discover", False, False, False),
        ("renew", False, False, False),
    ]
    assert get(editor, f"journeys/{journey['id']}/").json()["stages"] == [
        "buy",
        "compare",
        "discover",
        "renew",
    ]
    assert send(editor, "post", reorder, {"order": ids}).json() == {
        "order": ["The new order must name each item exactly once."]
    }

    assert send(editor, "delete", compare).status_code == 204
    # The pinned flag's stage is gone: conversion falls back to the last stage.
    assert flags(editor, "cover") == [
        ("buy", True, False, False),
        ("discover", False, True, False),
        ("renew", False, False, True),
    ]


def test_touchpoints_crud_and_filters(editor, tenant_a):
    portfolio(tenant_a.org)
    send(editor, "post", "journeys/", {"slug": "cover", "name": "Cover"})
    for name in ("Discover", "Apply"):
        send(editor, "post", "journey-stages/", {"journey": "cover", "name": name})
    body = {
        "stage": "cover/discover",
        "name": "Online quote",
        "channel": "web",
        "emotion": 0,
        "components": ["claims-api"],
        "value_stream_stage": "dental/onboarding",
    }
    created = send(editor, "post", "touchpoints/", body)
    assert created.status_code == 201, created.json()
    quote = created.json()
    assert quote == {
        **body,
        "id": quote["id"],
        "journey": "cover",
        "slug": "online-quote",
        "position": 0,
    }
    call = send(
        editor,
        "post",
        "touchpoints/",
        {"stage": "cover/apply", "name": "Call us", "channel": "phone", "position": 1},
    ).json()
    assert (call["value_stream_stage"], call["components"]) == (None, [])
    assert get(editor, f"touchpoints/{quote['id']}/").json() == quote

    assert slugs(get(editor, "touchpoints/", journey="cover")) == ["online-quote", "call-us"]
    assert slugs(get(editor, "touchpoints/", stage="cover/apply")) == ["call-us"]
    assert slugs(get(editor, "touchpoints/", stage="apply")) == []
    assert slugs(get(editor, "touchpoints/", channel="web")) == ["online-quote"]
    assert slugs(get(editor, "touchpoints/", value_stream_stage="dental/onboarding")) == [
        "online-quote"
    ]
    assert slugs(get(editor, "touchpoints/", component="claims-api")) == ["online-quote"]
    assert get(editor, "touchpoints/", channel="pigeon").status_code == 400

    path = f"touchpoints/{quote['id']}/"
    moved = send(
        editor,
        "patch",
        path,
        {
            "stage": "cover/apply",
            "value_stream_stage": None,
            "components": ["web-app", "claims-api"],
        },
    ).json()
    assert (moved["stage"], moved["value_stream_stage"], moved["components"]) == (
        "cover/apply",
        None,
        ["claims-api", "web-app"],
    )
    for field, value, message in [
        ("stage", "cover/nope", "'cover/nope' is not a journey stage."),
        ("stage", "cover", "'cover' is not a journey stage."),
        ("value_stream_stage", "dental/nope", "'dental/nope' is not a value stream stage."),
        ("components", ["nope"], "'nope' is not a component."),
    ]:
        assert send(editor, "patch", path, {field: value}).json() == {field: [message]}
    assert send(editor, "patch", path, {"slug": "call-us"}).json() == {
        "slug": ["A touchpoint with this journey and slug already exists."]
    }
    assert send(editor, "delete", path).status_code == 204
    assert slugs(get(editor, "touchpoints/")) == ["call-us"]


def test_a_reference_to_another_organizations_object_is_a_400_and_writes_nothing(
    editor, tenant_a, tenant_b
):
    journeys(tenant_b.org, 1, prefix="b")
    journeys(tenant_a.org, 1, prefix="a")

    def state():
        with organization_context(tenant_a.org.pk):
            return (
                sorted(Journey.objects.values_list("pk", "product_id")),
                sorted(JourneyStage.objects.values_list("pk", "journey_id")),
                sorted(Touchpoint.objects.values_list("pk", "stage_id", "value_stream_stage_id")),
                sorted(Touchpoint.components.through.objects.values_list("pk", "component_id")),
            )

    before = state()
    with organization_context(tenant_a.org.pk):
        mine = Touchpoint.objects.first().pk
    cases = [
        ("journeys/", {"slug": "x", "name": "X"}, "product", "bdental", "product"),
        ("journey-stages/", {"name": "X"}, "journey", "b0", "journey"),
        ("touchpoints/", {"name": "X"}, "stage", "b0/discover", "journey stage"),
        (
            "touchpoints/",
            {"name": "X", "stage": "a0/discover"},
            "value_stream_stage",
            "bdental/onboarding",
            "value stream stage",
        ),
    ]
    for path, body, field, theirs, kind in cases:
        for value in (theirs, theirs.replace("b", "z", 1)):
            answer = send(editor, "post", path, {**body, field: value})
            assert answer.json() == {field: [f"'{value}' is not a {kind}."]}, path
            if path == "touchpoints/":
                patched = send(editor, "patch", f"touchpoints/{mine}/", {field: value})
                assert patched.json() == {field: [f"'{value}' is not a {kind}."]}
    answer = send(
        editor,
        "post",
        "touchpoints/",
        {"name": "X", "stage": "a0/apply", "components": ["bclaims-api"]},
    )
    assert answer.json() == {"components": ["'bclaims-api' is not a component."]}
    assert state() == before


MODELS = {"journeys": Journey, "journey-stages": JourneyStage, "touchpoints": Touchpoint}


@pytest.mark.parametrize("path", MODELS)
def test_another_organizations_object_answers_404_like_a_missing_one(path, tenant_a, tenant_b):
    journeys(tenant_b.org, 1)
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
        if path == "journeys":
            reorder = send(client, "post", f"{path}/{pk}/stages/reorder/", {"order": []})
            assert reorder.status_code == 404
    assert get(client, f"{path}/{theirs.pk}/", org="org-b").status_code == 404
    with organization_context(tenant_b.org.pk):
        assert theirs.history.count() == changes


@pytest.mark.parametrize("path", MODELS)
def test_viewers_read_but_may_not_write(path, tenant_a):
    journeys(tenant_a.org, 1)
    with organization_context(tenant_a.org.pk):
        mine = MODELS[path].objects.first()
        journey = Journey.objects.first()
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
        ("post", f"journeys/{journey.pk}/stages/reorder/"),
    ]
    for method, target in writes:
        answer = send(viewer, method, target, {"name": "New", "journey": "j0", "order": []})
        assert answer.status_code == 403, (method, target)
        assert answer.json() == {"detail": "This needs the editor role."}
    with organization_context(tenant_a.org.pk):
        assert mine.history.count() == changes
    renamed = send(client_for(tenant_a.editor), "patch", f"{path}/{mine.pk}/", {"name": "New"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "New"


@pytest.mark.parametrize("path", MODELS)
def test_list_query_count_does_not_grow_with_rows(path, tenant_a):
    client = client_for(tenant_a.viewer)
    journeys(tenant_a.org, 3, prefix="few")
    with CaptureQueriesContext(connection) as few:
        assert get(client, f"{path}/").status_code == 200
    journeys(tenant_a.org, 30, prefix="many")
    with CaptureQueriesContext(connection) as many:
        answer = get(client, f"{path}/")
    assert answer.json()["count"] >= 33
    assert len(many) == len(few)


def test_history_of_a_journey_stage_names_its_flags(editor, tenant_a):
    send(editor, "post", "journeys/", {"slug": "cover", "name": "Cover"})
    one = send(editor, "post", "journey-stages/", {"journey": "cover", "name": "One"}).json()
    two = send(editor, "post", "journey-stages/", {"journey": "cover", "name": "Two"}).json()
    send(client_for(tenant_a.admin), "patch", f"journey-stages/{two['id']}/", {"entry": True})
    history = get(editor, f"journey-stages/{one['id']}/history/").json()["results"]
    assert [(r["history_type"], r["history_user"], r["changed_fields"]) for r in history] == [
        ("~", "admin@org-a.example", ["entry"]),
        ("~", "editor@org-a.example", ["work_start", "conversion"]),
        ("~", "editor@org-a.example", ["entry", "work_start", "conversion"]),
        ("+", "editor@org-a.example", ["journey", "slug", "name"]),
    ]
