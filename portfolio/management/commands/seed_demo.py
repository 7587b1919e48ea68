"""``seed_demo``: create or refresh the demo organization, Acme Health.

Acme Health is a health insurer built from the dental insurance template
(streams.templates): a portfolio on every layer, the dental business value stream
cascading to team-level delivery streams, and the "get cover" and "make a claim"
journeys, with an admin, an editor and a viewer. Everything is upserted by slug
through the services, so a second run changes nothing (no history rows) and a run
after someone edited the demo brings what the seed names back to the seed.
"""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser
from dataclasses import replace
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from journeys.models import Channel
from portfolio import services
from portfolio.models import ComponentKind, Membership, Organization, Role
from portfolio.tenancy import organization_context
from streams.templates import (
    DELIVERY_STATUS_MAPPING,
    SOFTWARE_DELIVERY_STAGES,
    TEMPLATES,
    ComponentSpec,
    FamilySpec,
    JourneySpec,
    JourneyStageSpec,
    ModelSpec,
    ProductSpec,
    StreamSpec,
    TeamSpec,
    TemplateResult,
    TouchpointSpec,
    model_apply,
)

DEMO_SLUG = "acme-health"
DEMO_NAME = "Acme Health"
DEMO_TIME_ZONE = "Australia/Sydney"
DEMO_PASSWORD = "throughline-demo"  # noqa: S105 - a published demo login
DEMO_ADMIN_EMAIL = "admin@acme-health.example"
DEMO_EDITOR_EMAIL = "editor@acme-health.example"
DEMO_VIEWER_EMAIL = "viewer@acme-health.example"
DEMO_USERS = [
    (DEMO_ADMIN_EMAIL, Role.ADMIN),
    (DEMO_EDITOR_EMAIL, Role.EDITOR),
    (DEMO_VIEWER_EMAIL, Role.VIEWER),
]

# --- The portfolio (docs/metrics.md#the-portfolio), top layer to bottom -----------------

TEAMS = (
    TeamSpec("claims-team", "Claims team"),
    TeamSpec("policy-team", "Policy team"),
    TeamSpec("digital-team", "Digital channels team"),
    TeamSpec("member-services-team", "Member services team"),
    TeamSpec("platform-team", "Platform team"),
    TeamSpec("data-team", "Data team"),
)

FAMILIES = (
    FamilySpec(
        "health-insurance",
        "Health insurance",
        (
            ProductSpec("dental", "Dental cover"),
            ProductSpec("hospital", "Hospital cover"),
            ProductSpec("extras", "Extras cover"),
        ),
    ),
    FamilySpec(
        "wellbeing",
        "Wellbeing",
        (
            ProductSpec("wellbeing-program", "Wellbeing program"),
            ProductSpec("telehealth", "Telehealth"),
        ),
    ),
)

APP, SERVICE, PLATFORM = ComponentKind.APP, ComponentKind.SERVICE, ComponentKind.PLATFORM
PRODUCTS, SERVICES, EXPERIENCE = "Business products", "Business services", "Experience"
IT, COMMON, PLATFORMS, INFRA = (
    "IT portfolio",
    "Common services",
    "Platforms",
    "IT4IT and infrastructure",
)

COMPONENTS = (
    ComponentSpec(
        "dental-plans", "Dental plan catalogue", PRODUCTS, "policy-team", SERVICE, "dental"
    ),
    ComponentSpec(
        "claims-benefits", "Claims and benefits", SERVICES, "claims-team", SERVICE, "dental"
    ),
    ComponentSpec("dentist-network", "Dentist network", SERVICES, "claims-team", SERVICE, "dental"),
    ComponentSpec(
        "wellbeing-rewards",
        "Wellbeing rewards",
        SERVICES,
        "digital-team",
        SERVICE,
        "wellbeing-program",
    ),
    ComponentSpec("web-app", "Member website", EXPERIENCE, "digital-team", APP),
    ComponentSpec("mobile-app", "Member mobile app", EXPERIENCE, "digital-team", APP),
    ComponentSpec("quote-and-join", "Online quote and join", EXPERIENCE, "digital-team", APP),
    ComponentSpec("call-centre-crm", "Call-centre CRM", EXPERIENCE, "member-services-team", APP),
    ComponentSpec("claims-api", "Claims API", IT, "claims-team", SERVICE, "dental"),
    ComponentSpec("claims-assessment", "Claims assessment engine", IT, "claims-team", SERVICE),
    ComponentSpec("policy-admin", "Policy admin system", IT, "policy-team", APP),
    ComponentSpec("payments", "Payments", IT, "policy-team", SERVICE),
    ComponentSpec("identity", "Identity and auth", COMMON, "platform-team", SERVICE),
    ComponentSpec("notifications", "Notifications", COMMON, "platform-team", SERVICE),
    ComponentSpec("document-store", "Document store", COMMON, "platform-team", SERVICE),
    ComponentSpec("data-platform", "Data platform", PLATFORMS, "data-team", PLATFORM),
    ComponentSpec(
        "integration-platform", "Integration platform", PLATFORMS, "platform-team", PLATFORM
    ),
    ComponentSpec(
        "marketing-platform", "Marketing automation", PLATFORMS, "digital-team", PLATFORM
    ),
    ComponentSpec("ci-cd", "CI/CD pipelines", INFRA, "platform-team", PLATFORM),
    ComponentSpec("observability", "Observability", INFRA, "platform-team", PLATFORM),
    ComponentSpec("cloud", "Cloud landing zone", INFRA, "platform-team", PLATFORM),
)

# --- Value streams: the dental template's stream, on the portfolio, and its teams' streams

# Each stage of the business stream crosses three or more layers (a stage touches
# components on several layers: docs/metrics.md#value-streams).
DENTAL_STAGE_COMPONENTS = {
    "awareness": (
        "dental-plans",
        "web-app",
        "quote-and-join",
        "marketing-platform",
        "data-platform",
    ),
    "onboarding": (
        "dental-plans",
        "quote-and-join",
        "mobile-app",
        "policy-admin",
        "payments",
        "identity",
        "notifications",
    ),
    "policy-management": (
        "claims-benefits",
        "dentist-network",
        "mobile-app",
        "call-centre-crm",
        "claims-api",
        "claims-assessment",
        "document-store",
        "integration-platform",
    ),
    "wellbeing": ("wellbeing-rewards", "mobile-app", "notifications", "data-platform"),
    "retention": (
        "dental-plans",
        "web-app",
        "call-centre-crm",
        "policy-admin",
        "payments",
        "notifications",
        "data-platform",
    ),
}


def _delivery(slug: str, name: str, team: str, develop: tuple[str, ...]) -> StreamSpec:
    """A team's delivery stream: the software delivery template's stages on its components."""
    components = {
        "develop": develop,
        "build": ("ci-cd",),
        "test": (*develop, "observability"),
        "deploy": ("ci-cd", "cloud", "observability"),
    }
    return StreamSpec(
        slug=slug,
        name=name,
        kind="team",
        parent="dental",
        description=f"The {team}'s delivery of its changes to production.",
        stages=tuple(replace(s, components=components[s.slug]) for s in SOFTWARE_DELIVERY_STAGES),
        status_mapping=DELIVERY_STATUS_MAPPING,
    )


TEAM_STREAMS = (
    _delivery(
        "claims-delivery",
        "Claims delivery",
        "claims team",
        ("claims-api", "claims-assessment", "claims-benefits"),
    ),
    _delivery(
        "digital-channels-delivery",
        "Digital channels delivery",
        "digital channels team",
        ("web-app", "mobile-app", "quote-and-join"),
    ),
    _delivery(
        "policy-platform-delivery",
        "Policy platform delivery",
        "policy team",
        ("policy-admin", "payments", "dental-plans"),
    ),
)

# --- Journeys ------------------------------------------------------------------------

GET_COVER_COMPONENTS = {
    "search-ads": ("marketing-platform", "web-app"),
    "dentist-referral": ("dentist-network",),
    "plan-comparison": ("web-app", "dental-plans"),
    "online-quote": ("quote-and-join", "dental-plans"),
    "online-application": ("quote-and-join", "policy-admin", "payments", "identity"),
    "sales-call": ("call-centre-crm", "policy-admin"),
    "welcome-pack": ("notifications", "document-store", "policy-admin"),
    "app-registration": ("mobile-app", "identity"),
    "find-dentist": ("mobile-app", "dentist-network"),
    "check-up-reminders": ("notifications", "data-platform"),
}

MAKE_A_CLAIM = JourneySpec(
    slug="make-a-claim",
    name="Make a claim",
    persona="Young family",
    product="dental",
    stages=(
        JourneyStageSpec(
            slug="incident",
            name="Dental visit",
            emotion=-1,
            pain_points=("An unexpected gap to pay at the dentist",),
            opportunities=("Show the expected gap before treatment",),
            touchpoints=(
                TouchpointSpec(
                    "claim-at-the-chair",
                    "Claim on the spot at the dentist",
                    Channel.AGENT,
                    "dental/policy-management",
                    0,
                    ("claims-benefits", "claims-api", "integration-platform"),
                ),
            ),
        ),
        JourneyStageSpec(
            slug="lodge",
            name="Lodge claim",
            emotion=0,
            pain_points=("Photos of receipts are often rejected as unreadable",),
            opportunities=("Read the receipt automatically and confirm the amounts",),
            touchpoints=(
                TouchpointSpec(
                    "claim-in-app",
                    "Claim in the app",
                    Channel.APP,
                    "dental/policy-management",
                    0,
                    ("mobile-app", "claims-api", "document-store", "identity"),
                ),
                TouchpointSpec(
                    "claim-by-phone",
                    "Claim by phone",
                    Channel.PHONE,
                    "dental/policy-management",
                    -1,
                    ("call-centre-crm", "claims-api"),
                ),
            ),
        ),
        JourneyStageSpec(
            slug="assessment",
            name="Assessment",
            emotion=-2,
            pain_points=(
                "No news for up to ten days while the claim is assessed",
                "Asked again for documents already sent",
                "Every claim over $300 waits for a manual review",
            ),
            opportunities=(
                "Approve routine claims automatically",
                "Live claim status in the app",
            ),
            touchpoints=(
                TouchpointSpec(
                    "claim-status",
                    "Check the claim status",
                    Channel.APP,
                    "dental/policy-management",
                    -2,
                    ("mobile-app", "claims-api"),
                ),
                TouchpointSpec(
                    "more-information",
                    "Request for more information",
                    Channel.EMAIL,
                    "dental/policy-management",
                    -2,
                    ("notifications", "claims-assessment", "document-store"),
                ),
                TouchpointSpec(
                    "status-call",
                    "Call to chase the claim",
                    Channel.PHONE,
                    "dental/policy-management",
                    -2,
                    ("call-centre-crm", "claims-assessment"),
                ),
            ),
        ),
        JourneyStageSpec(
            slug="decision",
            name="Decision",
            emotion=0,
            pain_points=("The benefit statement does not say why an item was not paid",),
            opportunities=("Explain each item paid or declined in plain words",),
            touchpoints=(
                TouchpointSpec(
                    "benefit-statement",
                    "Benefit statement",
                    Channel.EMAIL,
                    "dental/policy-management",
                    0,
                    ("notifications", "claims-assessment", "document-store"),
                ),
            ),
        ),
        JourneyStageSpec(
            slug="payment",
            name="Payment",
            emotion=1,
            pain_points=("The refund takes three days to reach the bank account",),
            opportunities=("Pay refunds in real time",),
            touchpoints=(
                TouchpointSpec(
                    "refund-paid",
                    "Refund paid notification",
                    Channel.APP,
                    "dental/policy-management",
                    1,
                    ("payments", "notifications", "mobile-app"),
                ),
                TouchpointSpec(
                    "claim-survey",
                    "How did we do? survey",
                    Channel.EMAIL,
                    "dental/retention",
                    0,
                    ("notifications", "data-platform"),
                ),
            ),
        ),
    ),
)


def demo_model() -> ModelSpec:
    """The dental insurance template, drawn on Acme Health's portfolio and extended with
    its team streams and the claim journey. It names everything the template names, so
    applying the template to the demo afterwards adds nothing."""
    dental = TEMPLATES["dental-insurance"].model
    (stream,) = dental.value_streams
    stream = replace(
        stream,
        owner_email=DEMO_EDITOR_EMAIL,
        stages=tuple(replace(s, components=DENTAL_STAGE_COMPONENTS[s.slug]) for s in stream.stages),
    )
    (get_cover,) = dental.journeys
    get_cover = replace(
        get_cover,
        name="Get dental cover",
        product="dental",
        stages=tuple(
            replace(
                stage,
                touchpoints=tuple(
                    replace(tp, components=GET_COVER_COMPONENTS[tp.slug])
                    for tp in stage.touchpoints
                ),
            )
            for stage in get_cover.stages
        ),
    )
    return ModelSpec(
        teams=TEAMS,
        families=FAMILIES,
        components=COMPONENTS,
        value_streams=(stream, *TEAM_STREAMS),
        journeys=(get_cover, MAKE_A_CLAIM),
    )


def _demo_user(email: str) -> AbstractBaseUser:
    user, created = services.user_get_or_create(email=email, password=DEMO_PASSWORD)
    # The printed login must work, even after someone changed the password.
    if not created and not user.check_password(DEMO_PASSWORD):
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def demo_seed() -> tuple[Organization, TemplateResult]:
    """Create or refresh Acme Health: its members, then its model (upserted by slug)."""
    users = {email: _demo_user(email) for email, _ in DEMO_USERS}
    org = Organization.objects.filter(slug=DEMO_SLUG).first()
    if org is None:
        with organization_context(None):
            org = services.organization_create(
                slug=DEMO_SLUG,
                name=DEMO_NAME,
                admin=users[DEMO_ADMIN_EMAIL],
                time_zone=DEMO_TIME_ZONE,
            )
    elif (org.name, org.time_zone) != (DEMO_NAME, DEMO_TIME_ZONE):
        org.name, org.time_zone = DEMO_NAME, DEMO_TIME_ZONE
        org.save(update_fields=["name", "time_zone"])
    with organization_context(org.pk):
        for email, role in DEMO_USERS:
            membership = Membership.objects.filter(organization=org, user=users[email]).first()
            if membership is None:
                Membership.objects.create(organization=org, user=users[email], role=role)
            elif membership.role != role:
                membership.role = role
                membership.save(update_fields=["role"])
        services.layers_create_defaults(organization=org)
        result = model_apply(organization=org, model=demo_model(), name=DEMO_NAME, overwrite=True)
    return org, result


# The history runs from the start of the quarter before the last full one up to
# today, so the last full quarter's report compares with a whole previous quarter.
# Items and customers scale with its length (1,500 and 300 per 182 days).
DEMO_ITEMS_PER_DAY = 1500 / 182
DEMO_CUSTOMERS_PER_DAY = 300 / 182  # per journey


def demo_history_start(today: dt.date) -> dt.date:
    from portfolio.okrs import quarter_dates, quarter_of, quarter_shift

    return quarter_dates(quarter_shift(quarter_of(today), -2))[0]


def _journey_shapes(organization: Organization) -> list:
    """The demo journeys as the event generator sees them: stages in order with their
    touchpoints; Get cover sells policies, Make a claim pays claims."""
    from bench.generate import JourneyShape
    from journeys.models import Journey

    shapes = []
    for journey in Journey.objects.filter(organization=organization).prefetch_related(
        "stages__touchpoints"
    ):
        stages = [
            (stage.slug, [t.slug for t in stage.touchpoints.all()])
            for stage in sorted(journey.stages.all(), key=lambda s: s.position)
        ]
        claims = "claim" in journey.slug
        shapes.append(
            JourneyShape(
                journey.slug,
                stages,
                instance="CLM" if claims else "APP",
                policies=not claims,
                claims=claims,
            )
        )
    return shapes


def demo_events(organization: Organization, *, today: dt.date | None = None) -> dict[str, int]:
    """Generate and import the team streams' flow and DORA history, then recompute
    the snapshots so every dashboard shows numbers at once.

    The events are deterministic for a given day and imported by key, so running
    the seed twice on one day changes nothing.
    """
    import tempfile
    from pathlib import Path

    from bench.generate import generate, generate_journey_events
    from metrics.snapshots import snapshots_recompute
    from streams.ingest import events_import

    today = today or dt.datetime.now(dt.UTC).date()
    end = dt.datetime.combine(today, dt.time(0), tzinfo=dt.UTC)
    start = dt.datetime.combine(demo_history_start(today), dt.time(0), tzinfo=dt.UTC)
    days = (end - start).days
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp, organization_context(organization.pk):
        generate(
            Path(tmp),
            value_streams=[s.slug for s in TEAM_STREAMS],
            items=round(DEMO_ITEMS_PER_DAY * days),
            start=start,
            end=end,
            seed=2026,
            key_prefix="ACME-",
            deployments_per_day=0.8,
        )
        generate_journey_events(
            Path(tmp),
            journeys=_journey_shapes(organization),
            customers=round(DEMO_CUSTOMERS_PER_DAY * days),
            start=start,
            end=end,
            seed=2026,
            key_prefix="ACME-",
        )
        for kind in (
            "flow_items",
            "flow_transitions",
            "deployments",
            "changes",
            "incidents",
            "journey_events",
        ):
            with (Path(tmp) / f"{kind}.csv").open() as rows:
                result = events_import(organization=organization, kind=kind, rows=rows)
            counts[kind] = result.created + result.updated + result.unchanged
        snapshots_recompute(organization=organization)
    return counts


def _demo_objectives(quarter: str) -> list[dict[str, Any]]:
    """Acme Health's OKRs for one quarter, in the model JSON
    (docs/formats.md#the-model-json): faster claims (with a delivery objective aligned
    to it) and happier new members."""
    q = quarter.lower()

    def metric(kind: str, subject: str, key: str) -> dict[str, str]:
        return {kind: subject, "key": key}

    return [
        {
            "slug": f"faster-claims-{q}",
            "title": "Pay dental claims faster",
            "quarter": quarter,
            "parent": None,
            "owner_email": DEMO_EDITOR_EMAIL,
            "value_streams": ["dental", "claims-delivery"],
            "journeys": ["make-a-claim"],
            "key_results": [
                {
                    "slug": "claim-lead-time",
                    "title": "Claims paid within 15 days of submission",
                    "baseline": 20,
                    "target": 15,
                    "unit": "days",
                    "weight": 2,
                    "metric": metric("journey", "make-a-claim", "journey_lead_time_median_days"),
                },
                {
                    "slug": "claims-flow-time",
                    "title": "Claims changes delivered in under 2 days",
                    "baseline": 3,
                    "target": 2,
                    "unit": "days",
                    "metric": metric("value_stream", "claims-delivery", "flow_time_median_days"),
                },
                {
                    "slug": "assessors-trained",
                    "title": "Claims assessors trained on the new triage",
                    "baseline": 0,
                    "target": 24,
                    "unit": "people",
                    "metric": None,
                },
            ],
        },
        {
            "slug": f"ship-safely-{q}",
            "title": "Ship claims changes safely every day",
            "quarter": quarter,
            "parent": f"faster-claims-{q}",
            "owner_email": DEMO_EDITOR_EMAIL,
            "value_streams": ["claims-delivery"],
            "journeys": [],
            "key_results": [
                {
                    "slug": "deploy-daily",
                    "title": "Deploy claims to production every other day",
                    "baseline": 0.2,
                    "target": 0.5,
                    "unit": "per day",
                    "metric": metric(
                        "value_stream", "claims-delivery", "deployment_frequency_per_day"
                    ),
                },
                {
                    "slug": "fewer-failures",
                    "title": "Change failure rate down to 10%",
                    "baseline": 15,
                    "target": 10,
                    "unit": "%",
                    "metric": metric("value_stream", "claims-delivery", "change_failure_rate"),
                },
            ],
        },
        {
            "slug": f"members-recommend-{q}",
            "title": "New members recommend us",
            "quarter": quarter,
            "parent": None,
            "owner_email": DEMO_ADMIN_EMAIL,
            "value_streams": ["digital-channels-delivery"],
            "journeys": ["get-cover"],
            "key_results": [
                {
                    "slug": "get-cover-nps",
                    "title": "Get-cover NPS of 30",
                    "baseline": 10,
                    "target": 30,
                    "unit": "score",
                    "metric": metric("journey", "get-cover", "nps"),
                },
                {
                    "slug": "get-cover-conversion",
                    "title": "Convert 49% of applications",
                    "baseline": 42,
                    "target": 49,
                    "unit": "%",
                    "metric": metric("journey", "get-cover", "conversion_rate"),
                },
            ],
        },
    ]


# The manual key result's check-ins: (days into the quarter, people trained, confidence).
DEMO_CHECK_INS = ((14, 4, 6), (35, 9, 7), (56, 15, 7), (77, 20, 8))


def demo_okrs(organization: Organization, *, today: dt.date | None = None) -> None:
    """The last full quarter's and the current quarter's OKRs, with the manual key
    result's check-ins up to today. Upserted by slug; check-ins are added once."""
    from portfolio.model_io import model_import
    from portfolio.models import CheckIn, KeyResult
    from portfolio.okrs import (
        check_in_create,
        key_results_measure,
        quarter_dates,
        quarter_of,
        quarter_shift,
    )

    today = today or dt.datetime.now(dt.UTC).date()
    current = quarter_of(today)
    quarters = (quarter_shift(current, -1), current)
    with organization_context(organization.pk):
        editor = Membership.objects.get(organization=organization, user__email=DEMO_EDITOR_EMAIL)
        model_import(
            organization=organization,
            data={"objectives": [o for q in quarters for o in _demo_objectives(q)]},
        )
        for quarter in quarters:
            kr = KeyResult.objects.get(
                organization=organization,
                objective__slug=f"faster-claims-{quarter.lower()}",
                slug="assessors-trained",
            )
            if CheckIn.objects.filter(key_result=kr).exists():
                continue
            start, _ = quarter_dates(quarter)
            for days, value, confidence in DEMO_CHECK_INS:
                day = start + dt.timedelta(days=days)
                if day > today:
                    break
                check_in_create(
                    organization=organization,
                    key_result=kr,
                    value=value,
                    confidence=confidence,
                    note=f"{value} of 24 assessors through the triage course.",
                    author=editor.user,
                    at=dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC),
                )
        # The history was just regenerated up to today: measure the linked key
        # results as the workers would after a recompute (nothing new if unchanged).
        key_results_measure(organization=organization)


class Command(BaseCommand):
    help = (
        "Creates or refreshes the demo organization Acme Health (acme-health): its portfolio, "
        "value streams, journeys and an admin, an editor and a viewer. Idempotent."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--no-events",
            action="store_true",
            help="refresh the model and members only, not the generated delivery history",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            org, _ = demo_seed()
            counts = {} if options["no_events"] else demo_events(org)
            demo_okrs(org)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if counts:
            self.stdout.write(
                "demo history: "
                + ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items())
            )
        self.stdout.write(
            f"demo organization '{org.slug}': sign in as {DEMO_ADMIN_EMAIL} / {DEMO_PASSWORD} "
            f"(also {DEMO_EDITOR_EMAIL}, {DEMO_VIEWER_EMAIL})"
        )
