"""Value stream templates: what each creates, idempotence, reuse by slug, all-or-nothing,
and the templates page (roles, other organization, applying)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError

from journeys.models import Journey, JourneyStage, Touchpoint
from portfolio.models import ModelEntity, Organization
from portfolio.tenancy import organization_context
from streams import services
from streams.models import Stage, StatusMapping, ValueStream
from streams.templates import (
    TEMPLATES,
    ModelSpec,
    StageSpec,
    StreamSpec,
    model_apply,
    template_apply,
)
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

# The stages each template ships, in order.
EXPECTED_STAGES = {
    "software-delivery": {"software-delivery": ["Develop", "Build", "Test", "Deploy"]},
    "dental-insurance": {
        "dental": [
            "Awareness and acquisition",
            "Onboarding and plan activation",
            "Policy management and healthcare access",
            "Value-added services and well-being",
            "Retention and advocacy",
        ]
    },
    "telecom-service": {
        "telecom-service": [
            "Marketing and sales",
            "Provisioning and activation",
            "Network infrastructure and maintenance",
            "Billing and customer service",
            "Customer experience and support",
        ]
    },
    "credit-card": {
        "credit-card": [
            "Awareness and acquisition",
            "Onboarding and activation",
            "Daily business management",
            "Growth and value enhancement",
            "Retention and advocacy",
        ]
    },
}
ETOM_FLOWS = {"p2o", "o2a", "u2c", "t2r", "cpq", "q2c"}


def history_rows(org: Organization) -> int:
    """Rows in every history table of the organization's model."""
    return sum(
        model.history.filter(organization_id=org.pk).count()
        for model in apps.get_models()
        if issubclass(model, ModelEntity)
    )


def stage_names(org: Organization, slug: str) -> list[str]:
    return list(
        Stage.objects.filter(organization=org, value_stream__slug=slug)
        .order_by("position", "id")
        .values_list("name", flat=True)
    )


@pytest.fixture
def org(tenant_a):
    with organization_context(tenant_a.org.pk):
        yield tenant_a.org


def test_the_catalogue_has_the_four_templates_of_the_domain():
    assert list(TEMPLATES) == list(EXPECTED_STAGES)


@pytest.mark.parametrize("key", list(TEMPLATES))
def test_every_template_applies_with_its_stages_in_order(org, key):
    result = template_apply(organization=org, key=key)
    for slug, names in EXPECTED_STAGES[key].items():
        assert stage_names(org, slug) == names
    for spec in TEMPLATES[key].model.value_streams:
        assert stage_names(org, spec.slug) == [s.name for s in spec.stages]
        stream = ValueStream.objects.get(organization=org, slug=spec.slug)
        mapping = dict(stream.status_mappings.values_list("tool_status", "category"))
        assert mapping["To Do"] == "new"
        assert mapping["In Progress"] == "active"
        assert mapping["In Review"] == mapping["Blocked"] == "waiting"
        assert mapping["Done"] == "done"
        assert mapping["Won't Do"] == "canceled"
    assert result.created[ValueStream] == len(TEMPLATES[key].model.value_streams)
    assert "created" in str(result)


@pytest.mark.parametrize("key", list(TEMPLATES))
def test_applying_a_template_twice_creates_and_changes_nothing(org, key):
    template_apply(organization=org, key=key)
    before = history_rows(org)
    assert before > 0
    counts = [m.objects.count() for m in (ValueStream, Stage, StatusMapping, Touchpoint)]
    again = template_apply(organization=org, key=key)
    assert again.created_total == 0
    assert str(again).endswith("nothing new was created.")
    assert history_rows(org) == before
    assert [m.objects.count() for m in (ValueStream, Stage, StatusMapping, Touchpoint)] == counts


def test_the_software_delivery_stream_is_a_team_stream(org):
    template_apply(organization=org, key="software-delivery")
    assert ValueStream.objects.get(organization=org, slug="software-delivery").kind == "team"


def test_telecom_cascades_to_the_six_etom_flows(org):
    template_apply(organization=org, key="telecom-service")
    top = ValueStream.objects.get(organization=org, slug="telecom-service")
    assert top.kind == "business"
    children = ValueStream.objects.filter(organization=org, parent=top)
    assert set(children.values_list("slug", flat=True)) == ETOM_FLOWS
    for child in children:
        assert child.name.endswith(f"({child.slug.upper()})")
        assert Stage.objects.filter(organization=org, value_stream=child).count() >= 4


def test_the_dental_journey_sits_on_the_business_streams_stages(org):
    template_apply(organization=org, key="dental-insurance")
    journey = Journey.objects.get(organization=org, slug="get-cover")
    assert journey.persona == "Young family"
    touchpoints = Touchpoint.objects.filter(organization=org, journey=journey).select_related(
        "value_stream_stage__value_stream"
    )
    assert touchpoints.count() >= 8
    assert {tp.value_stream_stage.value_stream.slug for tp in touchpoints} == {"dental"}
    served = {tp.value_stream_stage.slug for tp in touchpoints}
    assert {"awareness", "onboarding", "policy-management"} <= served
    stages = JourneyStage.objects.filter(organization=org, journey=journey).order_by("position")
    flags = {s.slug: (s.is_entry, s.is_work_start, s.is_conversion) for s in stages}
    assert flags["discover"] == (True, False, False)
    assert flags["apply"] == (False, True, False)
    assert flags["onboard"] == (False, False, True)
    assert all(s.pain_points and s.opportunities and s.emotion is not None for s in stages)


def test_existing_slugs_are_reused_and_kept_as_they_are(org):
    mine = services.value_stream_save(
        organization=org,
        value_stream=ValueStream(slug="software-delivery", name="Our pipeline", kind="team"),
    )
    develop = services.stage_add(organization=org, value_stream=mine, name="Code", slug="develop")
    services.status_mappings_set(
        organization=org, value_stream=mine, mapping={"in review": "active", "QA": "active"}
    )
    result = template_apply(organization=org, key="software-delivery")
    assert ValueStream.objects.filter(organization=org).count() == 1
    mine.refresh_from_db()
    assert mine.name == "Our pipeline"
    assert result.created[ValueStream] == 0
    assert result.created[Stage] == 3
    # The existing "develop" stage is reused (and keeps its name); the others are appended.
    assert stage_names(org, "software-delivery") == ["Code", "Build", "Test", "Deploy"]
    assert Stage.objects.get(organization=org, value_stream=mine, slug="develop").pk == develop.pk
    mapping = dict(mine.status_mappings.values_list("tool_status", "category"))
    # The organization's own mappings stay; only the statuses it lacked are added.
    assert mapping["in review"] == "active"
    assert mapping["QA"] == "active"
    assert "In Review" not in mapping
    assert mapping["Done"] == "done"


def test_a_bad_reference_rolls_the_whole_application_back(org):
    spec = ModelSpec(
        value_streams=(
            StreamSpec(slug="fine", name="Fine", kind="team", stages=(StageSpec("a", "A"),)),
            StreamSpec(
                slug="broken",
                name="Broken",
                kind="team",
                stages=(StageSpec("b", "B", components=("no-such-component",)),),
            ),
        )
    )
    with pytest.raises(ValidationError, match="component 'no-such-component' is not in"):
        model_apply(organization=org, model=spec, name="Broken")
    assert not ValueStream.objects.filter(organization=org).exists()
    assert not Stage.objects.filter(organization=org).exists()


def test_an_unknown_template_is_refused(org):
    with pytest.raises(ValidationError, match="template 'nope' is not one of software-delivery"):
        template_apply(organization=org, key="nope")


def test_a_template_applies_to_one_organization_only(org, tenant_b):
    with organization_context(tenant_b.org.pk):
        template_apply(organization=tenant_b.org, key="credit-card")
    template_apply(organization=org, key="credit-card")
    with organization_context(tenant_b.org.pk):
        assert ValueStream.objects.filter(organization=tenant_b.org).count() == 1
    assert ValueStream.objects.filter(organization=org).count() == 1


# --- The templates page --------------------------------------------------------------


def url(org: Organization) -> str:
    return f"/o/{org.slug}/streams/templates/"


@pytest.mark.parametrize("role", ["admin", "editor"])
def test_editors_and_admins_see_what_each_template_creates(tenant_a, role):
    answer = client_for(tenant_a.member(role)).get(url(tenant_a.org))
    assert answer.status_code == 200
    page = answer.content.decode()
    for template in TEMPLATES.values():
        assert f'data-testid="template-{template.key}"' in page
        for stream in template.model.value_streams:
            assert stream.name in page
    assert "Onboarding and plan activation" in page
    assert "Get dental cover" in page


def test_viewers_may_neither_see_nor_apply_templates(tenant_a):
    client = client_for(tenant_a.viewer)
    assert client.get(url(tenant_a.org)).status_code == 403
    answer = client.post(url(tenant_a.org), {"template": "credit-card"})
    assert answer.status_code == 403
    with organization_context(tenant_a.org.pk):
        assert not ValueStream.objects.filter(organization=tenant_a.org).exists()


def test_another_organizations_templates_page_answers_404(tenant_a, tenant_b):
    client = client_for(tenant_a.admin)
    assert client.get(url(tenant_b.org)).status_code == 404
    assert client.post(url(tenant_b.org), {"template": "credit-card"}).status_code == 404
    with organization_context(tenant_b.org.pk):
        assert not ValueStream.objects.filter(organization=tenant_b.org).exists()


def test_an_editor_applies_a_template_and_sees_what_it_created(tenant_a):
    client = client_for(tenant_a.editor)
    answer = client.post(url(tenant_a.org), {"template": "telecom-service"})
    assert answer.status_code == 302
    assert answer["Location"] == url(tenant_a.org)
    message = str(next(iter(get_messages(answer.wsgi_request))))
    assert message.startswith("Applied “Telecom service”: created 7 value streams, ")
    with organization_context(tenant_a.org.pk):
        assert ValueStream.objects.filter(organization=tenant_a.org).count() == 7
    page = client.get(url(tenant_a.org)).content.decode()
    assert "7 of 7 value streams already here" in page
    again = client.post(url(tenant_a.org), {"template": "telecom-service"}, follow=True)
    assert "nothing new was created" in again.content.decode()


def test_applying_an_unknown_template_says_so_and_changes_nothing(tenant_a):
    client = client_for(tenant_a.editor)
    answer = client.post(url(tenant_a.org), {"template": "bakery"}, follow=True)
    assert answer.status_code == 200
    assert "template &#x27;bakery&#x27; is not one of" in answer.content.decode()
    with organization_context(tenant_a.org.pk):
        assert not ValueStream.objects.filter(organization=tenant_a.org).exists()
