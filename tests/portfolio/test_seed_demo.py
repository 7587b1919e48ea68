"""seed_demo: the Acme Health demo, its portfolio, value streams and journeys; idempotent,
and a refresh brings an edited demo back to the seed."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count

from journeys import services as journey_services
from journeys.models import Journey, JourneyEvent, JourneyStage, Touchpoint, TouchpointComponent
from portfolio.entities import entity_save
from portfolio.management.commands.seed_demo import (
    DEMO_ITEMS_PER_DAY,
    DEMO_PASSWORD,
    DEMO_SLUG,
    demo_history_start,
    demo_model,
)
from portfolio.models import (
    Component,
    Layer,
    Membership,
    Organization,
    Product,
    ProductFamily,
    Role,
    Team,
)
from portfolio.tenancy import organization_context
from streams import services as stream_services
from streams.models import (
    Deployment,
    FlowItem,
    FlowTransition,
    Stage,
    StageComponent,
    StatusMapping,
    ValueStream,
)
from streams.templates import template_apply
from tests.streams.test_templates import history_rows

pytestmark = pytest.mark.django_db

DELIVERY_STAGES = ["Develop", "Build", "Test", "Deploy"]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def demo():
    # The model's tests need no delivery history; one test below seeds it.
    seed("--no-events")
    org = Organization.objects.get(slug=DEMO_SLUG)
    with organization_context(org.pk):
        yield org


def snapshot(org: Organization) -> dict[str, list]:
    """The demo's model and members, without ids: what a refresh must restore."""

    def rows(qs, *fields) -> list:
        return sorted(qs.filter(organization=org).values_list(*fields))

    return {
        "members": rows(Membership.objects, "user__email", "role"),
        "teams": rows(Team.objects, "slug", "name"),
        "families": rows(ProductFamily.objects, "slug", "name"),
        "products": rows(Product.objects, "slug", "name", "family__slug", "layer__name"),
        "components": rows(
            Component.objects, "slug", "name", "kind", "layer__name", "team__slug", "product__slug"
        ),
        "streams": rows(
            ValueStream.objects,
            "slug",
            "name",
            "kind",
            "description",
            "parent__slug",
            "owner_email",
        ),
        "stages": rows(Stage.objects, "value_stream__slug", "position", "slug", "name"),
        "stage_components": rows(
            StageComponent.objects, "stage__value_stream__slug", "stage__slug", "component__slug"
        ),
        "status_mappings": rows(
            StatusMapping.objects, "value_stream__slug", "tool_status", "category"
        ),
        "journeys": rows(Journey.objects, "slug", "name", "persona", "product__slug"),
        "journey_flags": [
            (j.slug, sorted(j.explicit_flags)) for j in Journey.objects.order_by("slug")
        ],
        "journey_stages": rows(
            JourneyStage.objects,
            "journey__slug",
            "position",
            "slug",
            "name",
            "emotion",
            "pain_points",
            "opportunities",
            "is_entry",
            "is_work_start",
            "is_conversion",
        ),
        "touchpoints": rows(
            Touchpoint.objects,
            "journey__slug",
            "stage__slug",
            "position",
            "slug",
            "name",
            "channel",
            "emotion",
            "value_stream_stage__value_stream__slug",
            "value_stream_stage__slug",
        ),
        "touchpoint_components": rows(
            TouchpointComponent.objects,
            "touchpoint__journey__slug",
            "touchpoint__slug",
            "component__slug",
        ),
    }


def demo_items() -> int:
    """1,500 flow items per 182 days of history."""
    today = dt.datetime.now(dt.UTC).date()
    return round(DEMO_ITEMS_PER_DAY * (today - demo_history_start(today)).days)


def test_seed_demo_prints_its_history_and_then_the_demo_logins_and_is_idempotent():
    history, logins = seed().splitlines()
    assert history.startswith(f"demo history: {demo_items()} flow items, ")
    assert history.endswith(" journey events")
    assert logins == (
        "demo organization 'acme-health': sign in as admin@acme-health.example / "
        "throughline-demo (also editor@acme-health.example, viewer@acme-health.example)"
    )
    org = Organization.objects.get(slug=DEMO_SLUG)
    with organization_context(org.pk):
        before = demo_counts(org)
    # Seeding again, events included, adds nothing and changes no member.
    seed()
    with organization_context(org.pk):
        assert demo_counts(org) == before
    assert before["roles"] == ["admin", "editor", "viewer"]


def demo_counts(org: Organization) -> dict[str, object]:
    return {
        "roles": sorted(Membership.objects.filter(organization=org).values_list("role", flat=True)),
        **{
            model.__name__: model.objects.filter(organization=org).count()
            for model in (FlowItem, FlowTransition, Deployment, JourneyEvent)
        },
    }


def test_the_demo_has_delivery_history_and_snapshots(demo):
    seed()
    from metrics.models import KpiSnapshot
    from streams.models import Deployment, FlowItem

    assert FlowItem.objects.filter(organization=demo).count() == demo_items()
    assert FlowItem.objects.filter(organization=demo, done_at__isnull=False).count() > 1000
    # From the start of the quarter before the last full one: the last full quarter's
    # report compares with a whole quarter.
    first = FlowItem.objects.filter(organization=demo).order_by("created_at").first()
    today = dt.datetime.now(dt.UTC).date()
    assert first.created_at.date() < demo_history_start(today) + dt.timedelta(days=7)
    assert Deployment.objects.filter(organization=demo, environment="production").exists()
    quarters = KpiSnapshot.objects.filter(organization=demo, period_kind="quarter")
    assert quarters.filter(value_stream__slug="dental").count() >= 2
    # Both journeys have events and quarterly KPIs: Get cover sells policies (NPS,
    # conversion, renewals, cost per acquisition), Make a claim pays claims.
    cover = quarters.filter(journey__slug="get-cover").order_by("period_start").last()
    claim = quarters.filter(journey__slug="make-a-claim").order_by("period_start").last()
    for key in (
        "nps",
        "conversion_rate",
        "journey_lead_time_median_days",
        "fcr",
        "renewal_rate",
        "retention_rate",
        "cost_per_acquisition",
    ):
        assert cover.values[key] is not None, key
    for key in ("nps", "conversion_rate", "fcr", "claim_cost_avg"):
        assert claim.values[key] is not None, key
    assert claim.values["cost_per_acquisition"] is None  # no acquisitions on claims
    # Seeding twice on one day changes no event.
    before = sorted(FlowItem.objects.filter(organization=demo).values_list("key", "done_at"))
    seed()
    assert (
        sorted(FlowItem.objects.filter(organization=demo).values_list("key", "done_at")) == before
    )


def test_the_demo_organization_and_its_members(demo, client):
    assert (demo.name, demo.time_zone) == ("Acme Health", "Australia/Sydney")
    roles = dict(Membership.objects.filter(organization=demo).values_list("user__email", "role"))
    assert roles == {
        "admin@acme-health.example": Role.ADMIN,
        "editor@acme-health.example": Role.EDITOR,
        "viewer@acme-health.example": Role.VIEWER,
    }
    assert not Organization.objects.filter(slug="demo").exists()
    answer = client.post(
        "/accounts/login/", {"username": "viewer@acme-health.example", "password": DEMO_PASSWORD}
    )
    assert answer.status_code == 302


def test_the_portfolio_has_families_products_teams_and_components_on_every_layer(demo):
    families = dict(
        ProductFamily.objects.filter(organization=demo)
        .annotate(n=Count("products"))
        .values_list("slug", "n")
    )
    assert families == {"health-insurance": 3, "wellbeing": 2}
    assert set(Product.objects.filter(organization=demo).values_list("layer__name", flat=True)) == {
        "Business products"
    }
    assert Team.objects.filter(organization=demo).count() == 6
    per_layer = dict(
        Layer.objects.filter(organization=demo)
        .annotate(n=Count("components"))
        .values_list("name", "n")
    )
    assert per_layer == {
        "Business products": 1,
        "Business services": 3,
        "Experience": 4,
        "IT portfolio": 4,
        "Common services": 3,
        "Platforms": 3,
        "IT4IT and infrastructure": 3,
    }
    # Every team owns something.
    assert not Team.objects.filter(organization=demo, components=None).exists()


def test_the_dental_stream_cascades_to_the_team_delivery_streams(demo):
    dental = ValueStream.objects.get(organization=demo, slug="dental")
    assert (dental.kind, dental.parent, dental.owner_email) == (
        "business",
        None,
        "editor@acme-health.example",
    )
    stages = Stage.objects.filter(organization=demo, value_stream=dental).order_by("position")
    assert [s.slug for s in stages] == [
        "awareness",
        "onboarding",
        "policy-management",
        "wellbeing",
        "retention",
    ]
    for stage in stages:
        layers = set(stage.components.values_list("layer__name", flat=True))
        assert len(layers) >= 3, f"{stage.slug} touches only {layers}"
    children = ValueStream.objects.filter(organization=demo, parent=dental).order_by("slug")
    assert [c.slug for c in children] == [
        "claims-delivery",
        "digital-channels-delivery",
        "policy-platform-delivery",
    ]
    assert ValueStream.objects.filter(organization=demo).count() == 4
    for child in children:
        assert child.kind == "team"
        names = Stage.objects.filter(organization=demo, value_stream=child).order_by("position")
        assert [s.name for s in names] == DELIVERY_STAGES
        assert StageComponent.objects.filter(organization=demo, stage__value_stream=child).exists()
    for stream in [dental, *children]:
        mapping = dict(stream.status_mappings.values_list("tool_status", "category"))
        assert mapping["In Review"] == "waiting"
        assert mapping["Done"] == "done"


def test_the_journeys_cross_the_portfolio_and_the_value_streams(demo):
    journeys = dict(Journey.objects.filter(organization=demo).values_list("slug", "product__slug"))
    assert journeys == {"get-cover": "dental", "make-a-claim": "dental"}
    claim = JourneyStage.objects.filter(organization=demo, journey__slug="make-a-claim")
    assert list(claim.order_by("position").values_list("slug", flat=True)) == [
        "incident",
        "lodge",
        "assessment",
        "decision",
        "payment",
    ]
    assessment = claim.get(slug="assessment")
    assert assessment.emotion == -2
    assert len(assessment.pain_points) >= 2
    assert min(claim.values_list("emotion", flat=True)) == -2
    stages = JourneyStage.objects.filter(organization=demo)
    assert stages.count() == 10
    for stage in stages:
        assert stage.emotion is not None and stage.pain_points and stage.opportunities
        assert stage.touchpoints.exists()
    touchpoints = Touchpoint.objects.filter(organization=demo)
    assert touchpoints.count() == 19
    # Every touchpoint is served by components and by a stage of a value stream.
    assert not touchpoints.filter(value_stream_stage=None).exists()
    assert not touchpoints.filter(components=None).exists()
    assert set(touchpoints.values_list("channel", flat=True)) >= {"web", "app", "phone", "email"}
    served = set(
        touchpoints.filter(journey__slug="get-cover").values_list(
            "value_stream_stage__slug", flat=True
        )
    )
    assert {"awareness", "onboarding", "policy-management", "wellbeing"} <= served


def test_seed_demo_is_idempotent(demo):
    before, history = snapshot(demo), history_rows(demo)
    seed("--no-events")
    assert history_rows(demo) == history
    assert snapshot(demo) == before


def test_the_demo_already_holds_everything_the_dental_template_makes(demo):
    assert template_apply(organization=demo, key="dental-insurance").created_total == 0


def test_seed_demo_refreshes_an_edited_demo(demo):
    seeded = snapshot(demo)
    org = demo
    onboarding = Stage.objects.get(organization=org, value_stream__slug="dental", slug="onboarding")
    onboarding.name = "Signing up"
    stream_services.stage_save(organization=org, stage=onboarding)
    stream_services.stage_move(organization=org, stage=onboarding, offset=2)
    stream_services.stage_components_set(organization=org, stage=onboarding, components=[])
    dental = ValueStream.objects.get(organization=org, slug="dental")
    stream_services.status_mappings_set(
        organization=org, value_stream=dental, mapping={"Done": "active"}
    )
    api = Component.objects.get(organization=org, slug="claims-api")
    api.team = Team.objects.get(organization=org, slug="data-team")
    entity_save(api, organization=org)
    assessment = JourneyStage.objects.get(organization=org, slug="assessment")
    assessment.emotion, assessment.pain_points = 2, []
    journey_services.journey_stage_save(
        organization=org, stage=assessment, set_flags=["is_conversion"]
    )
    journey_services.touchpoint_delete(
        organization=org,
        touchpoint=Touchpoint.objects.get(organization=org, slug="status-call"),
    )
    editor = Membership.objects.get(organization=org, user__email="editor@acme-health.example")
    editor.role = Role.VIEWER
    editor.save()
    assert snapshot(org) != seeded

    seed("--no-events")
    assert snapshot(org) == seeded
    # What the seed does not name is left alone.
    stream_services.value_stream_save(
        organization=org, value_stream=ValueStream(slug="mine", name="Mine", kind="team")
    )
    seed("--no-events")
    assert ValueStream.objects.filter(organization=org, slug="mine").exists()


def test_the_demo_model_names_every_reference_it_uses():
    model = demo_model()
    components = {c.slug for c in model.components}
    stages = {f"{s.slug}/{st.slug}" for s in model.value_streams for st in s.stages}
    for stream in model.value_streams:
        for stage in stream.stages:
            assert set(stage.components) <= components
    for journey in model.journeys:
        for stage in journey.stages:
            for tp in stage.touchpoints:
                assert set(tp.components) <= components
                assert tp.value_stream_stage in stages


def test_the_demo_has_okrs_for_the_last_and_current_quarter(demo):
    from portfolio.models import CheckIn, Objective
    from portfolio.okrs import okrs_for_quarter, quarter_of, quarter_shift

    current = quarter_of(dt.datetime.now(dt.UTC).date())
    for quarter in (quarter_shift(current, -1), current):
        okrs = okrs_for_quarter(organization=demo, quarter=quarter)
        assert [
            (o.slug.removesuffix(f"-{quarter.lower()}"), o.parent is not None) for o in okrs
        ] == [
            ("members-recommend", False),  # by title, each parent before its children
            ("faster-claims", False),
            ("ship-safely", True),
        ]
        faster = okrs[1]
        assert [kr.metric["key"] if kr.metric else None for kr in faster.key_results] == [
            "journey_lead_time_median_days",
            "flow_time_median_days",
            None,
        ]
        assert [vs["slug"] for vs in faster.value_streams] == ["claims-delivery", "dental"]
    # The last quarter's manual key result has all its check-ins: 4, 9, 15, then 20 people.
    last = okrs_for_quarter(organization=demo, quarter=quarter_shift(current, -1))
    assert last[1].key_results[2].current == 20
    before = (Objective.objects.count(), CheckIn.objects.count())
    seed("--no-events")
    assert (Objective.objects.count(), CheckIn.objects.count()) == before
