"""Value stream rules: the cascade is a tree, stages are ordered, keys stay in the organization."""

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from portfolio.entities import entity_save
from portfolio.models import Component, Layer, Team
from portfolio.tenancy import organization_context
from streams import services
from streams.models import Stage, StatusMapping, ValueStream

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(tenant_a):
    with organization_context(tenant_a.org.pk):
        yield tenant_a.org


def stream(org, slug, parent=None, kind="team"):
    return services.value_stream_save(
        organization=org,
        value_stream=ValueStream(slug=slug, name=slug.title(), kind=kind, parent=parent),
    )


def test_a_new_organization_has_the_seven_default_layers(org):
    assert list(Layer.objects.filter(organization=org).values_list("name", flat=True)) == [
        "Business products",
        "Business services",
        "Experience",
        "IT portfolio",
        "Common services",
        "Platforms",
        "IT4IT and infrastructure",
    ]


def test_the_cascade_rejects_a_cycle(org):
    top = stream(org, "dental", kind="business")
    mid = stream(org, "claims", parent=top)
    leaf = stream(org, "claims-api", parent=mid)
    top.parent = leaf
    with pytest.raises(ValidationError, match="cannot be its own ancestor"):
        services.value_stream_save(organization=org, value_stream=top)
    top.parent = top
    with pytest.raises(ValidationError, match="cannot be its own ancestor"):
        services.value_stream_save(organization=org, value_stream=top)


def test_slugs_are_unique_within_an_organization_only(org, tenant_b):
    stream(org, "dental")
    with pytest.raises(ValidationError, match="already exists"):
        stream(org, "dental")
    with organization_context(tenant_b.org.pk):
        stream(tenant_b.org, "dental")


def test_stages_are_added_in_order_moved_and_renumbered(org):
    vs = stream(org, "delivery")
    for name in ("Develop", "Build", "Test", "Deploy"):
        services.stage_add(organization=org, value_stream=vs, name=name)
    names = lambda: list(vs.stages.values_list("name", flat=True))  # noqa: E731
    assert names() == ["Develop", "Build", "Test", "Deploy"]
    services.stage_move(organization=org, stage=Stage.objects.get(slug="deploy"), offset=-1)
    assert names() == ["Develop", "Build", "Deploy", "Test"]
    ids = list(vs.stages.values_list("pk", flat=True))
    services.stages_reorder(organization=org, value_stream=vs, ordered_ids=ids[::-1])
    assert names() == ["Test", "Deploy", "Build", "Develop"]
    services.stage_delete(organization=org, stage=Stage.objects.get(slug="deploy"))
    assert list(vs.stages.values_list("position", flat=True)) == [0, 1, 2]
    with pytest.raises(ValidationError, match="exactly once"):
        services.stages_reorder(organization=org, value_stream=vs, ordered_ids=ids[:1])


def test_a_reference_to_another_organizations_object_is_refused(org, tenant_b):
    with organization_context(tenant_b.org.pk):
        other_team = entity_save(Team(slug="b-team", name="B"), organization=tenant_b.org)
    layer = Layer.objects.filter(organization=org).first()
    with pytest.raises(
        ValidationError, match=f"no team with id {other_team.pk} in this organization"
    ):
        entity_save(
            Component(slug="c", name="C", layer=layer, team_id=other_team.pk), organization=org
        )


def test_the_database_itself_refuses_a_cross_organization_key(org, tenant_b):
    with organization_context(tenant_b.org.pk):
        other_team = entity_save(Team(slug="b-team", name="B"), organization=tenant_b.org)
    layer = Layer.objects.filter(organization=org).first()
    # Around the services: the composite (organization_id, team_id) key stops it.
    with pytest.raises(DatabaseError, match="same_org"), transaction.atomic():
        Component.objects.create(
            organization=org, slug="c", name="C", layer=layer, team_id=other_team.pk
        )
        Component.objects.filter(slug="c").exists()
        with transaction.get_connection().cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_status_mappings_are_replaced_and_validated(org):
    vs = stream(org, "delivery")
    services.status_mappings_set(
        organization=org, value_stream=vs, mapping={"In Review": "waiting", "Doing": "active"}
    )
    services.status_mappings_set(
        organization=org, value_stream=vs, mapping={"in review": "waiting", "Done": "done"}
    )
    rows = StatusMapping.objects.filter(value_stream=vs).values_list("tool_status", "category")
    assert sorted(rows) == [("Done", "done"), ("in review", "waiting")]
    with pytest.raises(ValidationError, match="'Blocked': category 'stuck' is not one of"):
        services.status_mappings_set(
            organization=org, value_stream=vs, mapping={"Blocked": "stuck"}
        )


def test_deleting_a_layer_in_use_says_what_uses_it(org):
    from portfolio.entities import entity_delete

    layer = Layer.objects.filter(organization=org).first()
    team = entity_save(Team(slug="t", name="T"), organization=org)
    entity_save(Component(slug="api", name="Claims API", layer=layer, team=team), organization=org)
    with pytest.raises(ValidationError, match="still used by components: Claims API"):
        entity_delete(layer, organization=org)


def test_every_change_is_in_the_entitys_history(org):
    vs = stream(org, "delivery")
    vs.name = "Software delivery"
    services.value_stream_save(organization=org, value_stream=vs)
    assert [h.history_type for h in vs.history.order_by("history_date")] == ["+", "~"]
    assert vs.history.first().name == "Software delivery"
