"""Journey rules: one entry, work-start and conversion stage; touchpoints in their journey."""

import pytest
from django.core.exceptions import ValidationError

from journeys import services
from journeys.models import Journey, JourneyStage, Touchpoint
from portfolio.tenancy import organization_context

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(tenant_a):
    with organization_context(tenant_a.org.pk):
        yield tenant_a.org


def flags(journey) -> list[tuple[str, bool, bool, bool]]:
    return list(
        JourneyStage.objects.filter(journey=journey)
        .order_by("position")
        .values_list("slug", "is_entry", "is_work_start", "is_conversion")
    )


def build(org, *names):
    journey = services.journey_save(organization=org, journey=Journey(slug="claim", name="Claim"))
    for name in names:
        services.journey_stage_save(
            organization=org, stage=JourneyStage(journey=journey, name=name)
        )
    return journey


def test_flags_default_to_first_second_and_last(org):
    j = build(org, "Discover", "Apply", "Assess", "Paid")
    assert flags(j) == [
        ("discover", True, False, False),
        ("apply", False, True, False),
        ("assess", False, False, False),
        ("paid", False, False, True),
    ]


def test_one_stage_carries_every_flag(org):
    assert flags(build(org, "Only")) == [("only", True, True, True)]


def test_setting_a_flag_moves_it(org):
    j = build(org, "Discover", "Apply", "Assess", "Paid")
    stage = JourneyStage.objects.get(journey=j, slug="assess")
    services.journey_stage_save(organization=org, stage=stage, set_flags=["is_conversion"])
    assert [s for s, *f in flags(j) if f[2]] == ["assess"]
    # Set on purpose, it stays when a stage is added after it; entry follows the default.
    services.journey_stage_save(organization=org, stage=JourneyStage(journey=j, name="Renew"))
    assert [s for s, *f in flags(j) if f[2]] == ["assess"]
    assert [s for s, *f in flags(j) if f[0]] == ["discover"]


def test_default_flags_follow_new_stages(org):
    j = build(org, "Discover", "Apply")
    services.journey_stage_save(organization=org, stage=JourneyStage(journey=j, name="Paid"))
    assert [s for s, *f in flags(j) if f[2]] == ["paid"]


def test_deleting_the_flagged_stage_gives_the_flag_to_the_default(org):
    j = build(org, "Discover", "Apply", "Paid")
    services.journey_stage_delete(organization=org, stage=JourneyStage.objects.get(slug="paid"))
    assert flags(j) == [("discover", True, False, False), ("apply", False, True, True)]


def test_emotion_is_between_minus_two_and_two(org):
    j = build(org, "Discover")
    stage = JourneyStage.objects.get(journey=j)
    stage.emotion = 3
    with pytest.raises(ValidationError, match="less than or equal to 2"):
        services.journey_stage_save(organization=org, stage=stage)


def test_a_touchpoint_belongs_to_its_stages_journey_and_slugs_are_unique_per_journey(org):
    j = build(org, "Discover", "Apply")
    apply = JourneyStage.objects.get(slug="apply")
    tp = services.touchpoint_save(
        organization=org, touchpoint=Touchpoint(stage=apply, name="Online quote", channel="web")
    )
    assert (tp.journey_id, tp.slug) == (j.pk, "online-quote")
    again = services.touchpoint_save(
        organization=org, touchpoint=Touchpoint(stage=apply, name="Online quote", channel="web")
    )
    assert again.slug == "online-quote-2"


def test_reordering_moves_default_flags_but_not_explicit_ones(org):
    j = build(org, "Discover", "Apply", "Paid")
    paid = JourneyStage.objects.get(slug="paid")
    ids = list(
        JourneyStage.objects.filter(journey=j).order_by("position").values_list("pk", flat=True)
    )
    services.journey_stages_reorder(organization=org, journey=j, ordered_ids=ids[::-1])
    # Defaults follow positions: Paid is now first (entry), Discover last (conversion).
    assert flags(j) == [
        ("paid", True, False, False),
        ("apply", False, True, False),
        ("discover", False, False, True),
    ]
    services.journey_stage_save(organization=org, stage=paid, set_flags=["is_conversion"])
    services.journey_stages_reorder(organization=org, journey=j, ordered_ids=ids)
    assert [s for s, *f in flags(j) if f[2]] == ["paid"]


def test_new_touchpoints_come_last_in_their_stage(org):
    build(org, "Discover")
    stage = JourneyStage.objects.get(slug="discover")
    for name in ("Ad", "Web", "Call"):
        services.touchpoint_save(organization=org, touchpoint=Touchpoint(stage=stage, name=name))
    names = (
        Touchpoint.objects.filter(stage=stage).order_by("position").values_list("name", flat=True)
    )
    assert list(names) == ["Ad", "Web", "Call"]
