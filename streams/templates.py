"""Value stream templates: the catalogue an organization can start from, and the one
routine that builds such a model through the services.

A template is a small model: value streams with their ordered stages, status mappings and
place in the cascade, and for the healthcare case a customer journey whose touchpoints sit
on the business stream's stages. ``template_apply`` adds what the organization lacks and
reuses what it has, matched by slug: an existing object keeps its own fields, and only its
missing stages, status mappings, touchpoints and links are added, so applying a template
twice creates nothing. ``model_apply(overwrite=True)`` also brings the objects it names back
to the spec (the demo organization's refresh); objects it does not name are left alone.

Either way nothing is saved that is already as wanted, so an unchanged model gains no
history rows, and every application runs in one transaction: a bad reference anywhere
rolls all of it back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.text import slugify

from journeys.models import Channel, Journey, JourneyStage, Touchpoint
from journeys.services import (
    FLAGS,
    journey_flags_normalize,
    journey_save,
    journey_stage_save,
    journey_stages_reorder,
    touchpoint_save,
)
from portfolio.entities import entity_save
from portfolio.models import (
    Component,
    ComponentKind,
    Layer,
    Organization,
    Product,
    ProductFamily,
    Team,
)
from portfolio.services import layer_save
from streams.models import Stage, StageComponent, StateCategory, StatusMapping, ValueStream
from streams.services import (
    stage_add,
    stage_components_set,
    stage_save,
    stages_reorder,
    status_mappings_set,
    value_stream_save,
)

# --- The spec of a model -----------------------------------------------------------

# Jira's default workflow and its usual additions, mapped to the Flow Framework's
# state categories (docs/metrics.md#flow-items-and-transitions): review and blocked work is started
# but not being worked on, so it waits.
DEFAULT_STATUS_MAPPING: Mapping[str, str] = MappingProxyType(
    {
        "Backlog": StateCategory.NEW,
        "To Do": StateCategory.NEW,
        "In Progress": StateCategory.ACTIVE,
        "In Review": StateCategory.WAITING,
        "Blocked": StateCategory.WAITING,
        "Done": StateCategory.DONE,
        "Won't Do": StateCategory.CANCELED,
    }
)

# A delivery team's board adds test and release columns; work ready for release
# sits in a queue until the next deployment.
DELIVERY_STATUS_MAPPING: Mapping[str, str] = MappingProxyType(
    {
        **DEFAULT_STATUS_MAPPING,
        "Selected for Development": StateCategory.NEW,
        "In Test": StateCategory.ACTIVE,
        "Ready for Release": StateCategory.WAITING,
    }
)


@dataclass(frozen=True)
class TeamSpec:
    slug: str
    name: str


@dataclass(frozen=True)
class ProductSpec:
    slug: str
    name: str
    layer: str = "Business products"


@dataclass(frozen=True)
class FamilySpec:
    slug: str
    name: str
    products: tuple[ProductSpec, ...] = ()


@dataclass(frozen=True)
class ComponentSpec:
    slug: str
    name: str
    layer: str
    team: str
    kind: str = ComponentKind.APP
    product: str | None = None


@dataclass(frozen=True)
class StageSpec:
    slug: str
    name: str
    components: tuple[str, ...] = ()


@dataclass(frozen=True)
class StreamSpec:
    slug: str
    name: str
    kind: str
    stages: tuple[StageSpec, ...]
    description: str = ""
    parent: str | None = None
    owner_email: str | None = None
    status_mapping: Mapping[str, str] = field(default=DEFAULT_STATUS_MAPPING)


@dataclass(frozen=True)
class TouchpointSpec:
    slug: str
    name: str
    channel: str
    # "<value stream slug>/<stage slug>", as in the model JSON (docs/formats.md#the-model-json).
    value_stream_stage: str | None = None
    emotion: int | None = None
    components: tuple[str, ...] = ()


@dataclass(frozen=True)
class JourneyStageSpec:
    slug: str
    name: str
    emotion: int | None = None
    pain_points: tuple[str, ...] = ()
    opportunities: tuple[str, ...] = ()
    touchpoints: tuple[TouchpointSpec, ...] = ()
    # Flags set on purpose (is_entry, is_work_start, is_conversion); the others
    # take the defaults of docs/metrics.md#customer-journeys.
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class JourneySpec:
    slug: str
    name: str
    persona: str = ""
    product: str | None = None
    stages: tuple[JourneyStageSpec, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    teams: tuple[TeamSpec, ...] = ()
    families: tuple[FamilySpec, ...] = ()
    components: tuple[ComponentSpec, ...] = ()
    value_streams: tuple[StreamSpec, ...] = ()
    journeys: tuple[JourneySpec, ...] = ()


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    summary: str
    model: ModelSpec


@dataclass
class TemplateResult:
    """What an application created and (with ``overwrite``) changed, by model."""

    name: str
    created: Counter[type[models.Model]] = field(default_factory=Counter)
    updated: Counter[type[models.Model]] = field(default_factory=Counter)

    @property
    def created_total(self) -> int:
        return sum(self.created.values())

    @property
    def updated_total(self) -> int:
        return sum(self.updated.values())

    def __str__(self) -> str:
        if not self.created_total:
            return f"“{self.name}” is already in place: nothing new was created."
        parts = [
            f"{n} {model._meta.verbose_name if n == 1 else model._meta.verbose_name_plural}"
            for model, n in self.created.items()
            if n
        ]
        listed = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
        return f"Applied “{self.name}”: created {listed}."


# --- The catalogue -------------------------------------------------------------------


def _stages(*names: str) -> tuple[StageSpec, ...]:
    return tuple(StageSpec(slug=slugify(name), name=name) for name in names)


SOFTWARE_DELIVERY_STAGES = _stages("Develop", "Build", "Test", "Deploy")

SOFTWARE_DELIVERY = Template(
    key="software-delivery",
    name="Software delivery",
    summary="A team-level value stream from code to production: the stream DORA measures.",
    model=ModelSpec(
        value_streams=(
            StreamSpec(
                slug="software-delivery",
                name="Software delivery",
                kind="team",
                description="Working code from a team's backlog to customers.",
                stages=SOFTWARE_DELIVERY_STAGES,
                status_mapping=DELIVERY_STATUS_MAPPING,
            ),
        )
    ),
)

DENTAL_STREAM = StreamSpec(
    slug="dental",
    name="Dental insurance",
    kind="business",
    description="Everything it takes to win, serve and keep a dental insurance member.",
    stages=(
        StageSpec("awareness", "Awareness and acquisition"),
        StageSpec("onboarding", "Onboarding and plan activation"),
        StageSpec("policy-management", "Policy management and healthcare access"),
        StageSpec("wellbeing", "Value-added services and well-being"),
        StageSpec("retention", "Retention and advocacy"),
    ),
)

GET_DENTAL_COVER = JourneySpec(
    slug="get-cover",
    name="Get dental cover",
    persona="Young family",
    stages=(
        JourneyStageSpec(
            slug="discover",
            name="Discover",
            emotion=0,
            pain_points=("Hard to tell what dental cover includes",),
            opportunities=("Plain-language plan summaries",),
            touchpoints=(
                TouchpointSpec(
                    "search-ads", "Search and social ads", Channel.WEB, "dental/awareness", 0
                ),
                TouchpointSpec(
                    "dentist-referral",
                    "Dentist recommendation",
                    Channel.AGENT,
                    "dental/awareness",
                    1,
                ),
            ),
        ),
        JourneyStageSpec(
            slug="compare",
            name="Compare plans",
            emotion=-1,
            pain_points=(
                "Waiting periods and annual limits are buried in PDFs",
                "No price until a long quote form is filled in",
            ),
            opportunities=("Side-by-side plans with out-of-pocket examples",),
            touchpoints=(
                TouchpointSpec(
                    "plan-comparison", "Compare plans online", Channel.WEB, "dental/awareness", -1
                ),
                TouchpointSpec("online-quote", "Online quote", Channel.WEB, "dental/awareness", 0),
            ),
        ),
        JourneyStageSpec(
            slug="apply",
            name="Apply",
            emotion=1,
            pain_points=("Details given for the quote are asked for again",),
            opportunities=("Pre-fill the application from the quote",),
            # Work on a policy starts with the application, not with browsing.
            flags=("is_work_start",),
            touchpoints=(
                TouchpointSpec(
                    "online-application",
                    "Online application",
                    Channel.WEB,
                    "dental/onboarding",
                    1,
                ),
                TouchpointSpec("sales-call", "Sales call", Channel.PHONE, "dental/onboarding", 0),
            ),
        ),
        JourneyStageSpec(
            slug="onboard",
            name="Onboard",
            emotion=1,
            pain_points=("The member card arrives days after cover starts",),
            opportunities=("A digital member card in the app on day one",),
            # The customer has converted once the cover is active.
            flags=("is_conversion",),
            touchpoints=(
                TouchpointSpec(
                    "welcome-pack",
                    "Welcome email and policy documents",
                    Channel.EMAIL,
                    "dental/onboarding",
                    1,
                ),
                TouchpointSpec(
                    "app-registration",
                    "Register in the member app",
                    Channel.APP,
                    "dental/onboarding",
                    1,
                ),
            ),
        ),
        JourneyStageSpec(
            slug="first-claim-ready",
            name="Ready for a first claim",
            emotion=1,
            pain_points=("Unclear which dentists are in the network",),
            opportunities=("Find a network dentist and see the expected gap",),
            touchpoints=(
                TouchpointSpec(
                    "find-dentist",
                    "Find a network dentist",
                    Channel.APP,
                    "dental/policy-management",
                    1,
                ),
                TouchpointSpec(
                    "check-up-reminders",
                    "Dental health tips and check-up reminders",
                    Channel.EMAIL,
                    "dental/wellbeing",
                    1,
                ),
            ),
        ),
    ),
)

DENTAL_INSURANCE = Template(
    key="dental-insurance",
    name="Healthcare: dental insurance",
    summary=(
        "A business value stream for a dental insurance product, and the “Get dental cover” "
        "journey whose touchpoints sit on its stages."
    ),
    model=ModelSpec(value_streams=(DENTAL_STREAM,), journeys=(GET_DENTAL_COVER,)),
)


def _etom(slug: str, name: str, description: str, *stages: str) -> StreamSpec:
    return StreamSpec(
        slug=slug,
        name=name,
        kind="business",
        parent="telecom-service",
        description=description,
        stages=_stages(*stages),
    )


TELECOM_SERVICE = Template(
    key="telecom-service",
    name="Telecom service",
    summary=(
        "A mobile service's business value stream, delivered by the eTOM end-to-end flows "
        "(P2O, O2A, U2C, T2R, CPQ, Q2C) as its child value streams."
    ),
    model=ModelSpec(
        value_streams=(
            StreamSpec(
                slug="telecom-service",
                name="Telecom service",
                kind="business",
                description="Selling, activating, running and billing a mobile service.",
                stages=(
                    StageSpec("marketing-sales", "Marketing and sales"),
                    StageSpec("provisioning-activation", "Provisioning and activation"),
                    StageSpec("network", "Network infrastructure and maintenance"),
                    StageSpec("billing-service", "Billing and customer service"),
                    StageSpec("customer-experience", "Customer experience and support"),
                ),
            ),
            _etom(
                "p2o",
                "Prospect to order (P2O)",
                "From a prospect to a captured order.",
                "Identify prospect",
                "Qualify lead",
                "Present offer",
                "Capture order",
            ),
            _etom(
                "o2a",
                "Order to activate (O2A)",
                "From a captured order to a working service.",
                "Validate order",
                "Design service",
                "Provision resources",
                "Activate service",
                "Confirm to customer",
            ),
            _etom(
                "u2c",
                "Usage to cash (U2C)",
                "From network usage to cash collected.",
                "Collect usage",
                "Rate and charge",
                "Bill",
                "Collect payment",
            ),
            _etom(
                "t2r",
                "Trouble to resolve (T2R)",
                "From a reported fault to a verified fix.",
                "Report trouble",
                "Diagnose",
                "Repair",
                "Verify and close",
            ),
            _etom(
                "cpq",
                "Configure, price, quote (CPQ)",
                "From a customer's needs to a priced, approved quote.",
                "Configure offer",
                "Price",
                "Approve discounts",
                "Issue quote",
            ),
            _etom(
                "q2c",
                "Quote to cash (Q2C)",
                "From an accepted quote to cash in the bank.",
                "Quote",
                "Contract",
                "Order",
                "Fulfil",
                "Invoice",
                "Collect cash",
            ),
        )
    ),
)

CREDIT_CARD = Template(
    key="credit-card",
    name="Credit-card bank",
    summary="A bank's business value stream for its credit-card product.",
    model=ModelSpec(
        value_streams=(
            StreamSpec(
                slug="credit-card",
                name="Credit card",
                kind="business",
                description="Winning, activating and growing credit-card customers.",
                stages=(
                    StageSpec("awareness", "Awareness and acquisition"),
                    StageSpec("onboarding", "Onboarding and activation"),
                    StageSpec("daily-business", "Daily business management"),
                    StageSpec("growth", "Growth and value enhancement"),
                    StageSpec("retention", "Retention and advocacy"),
                ),
            ),
        )
    ),
)

TEMPLATES: dict[str, Template] = {
    t.key: t for t in (SOFTWARE_DELIVERY, DENTAL_INSURANCE, TELECOM_SERVICE, CREDIT_CARD)
}


# --- Applying a spec -----------------------------------------------------------------


def _assign(instance: models.Model, values: Mapping[str, Any]) -> bool:
    """Set ``values`` on ``instance``; whether any of them was different."""
    changed = False
    for name, value in values.items():
        current = getattr(instance, instance._meta.get_field(name).attname)
        wanted = value.pk if isinstance(value, models.Model) else value
        if current != wanted:
            setattr(instance, name, value)
            changed = True
    return changed


def _missing(what: str, ref: str, owner: str) -> ValidationError:
    return ValidationError(f"{owner}: {what} '{ref}' is not in this organization or the template.")


class _Builder:
    """Builds one ModelSpec into one organization, remembering what it resolved."""

    def __init__(self, *, organization: Organization, overwrite: bool, name: str) -> None:
        self.org = organization
        self.overwrite = overwrite
        self.result = TemplateResult(name=name)
        self.layers = {
            layer.name: layer for layer in Layer.objects.filter(organization=organization)
        }
        self.refs: dict[tuple[type[models.Model], str], models.Model] = {}

    def upsert[M: models.Model](
        self,
        model: type[M],
        lookup: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        save: Callable[[M], M],
        create: Callable[[], M] | None = None,
    ) -> tuple[M, bool]:
        """The organization's ``model`` row matching ``lookup``, created if missing, else
        (with ``overwrite``) updated to ``values``. Saves only what changes."""
        instance = model._default_manager.filter(organization=self.org, **lookup).first()
        if instance is None:
            instance = create() if create else save(model(**lookup, **values))
            self.result.created[model] += 1
            return instance, True
        if self.overwrite and _assign(instance, values):
            save(instance)
            self.result.updated[model] += 1
        return instance, False

    def ref[M: models.Model](self, model: type[M], slug: str, owner: str) -> M:
        """An object the spec names by slug: built earlier in this run, or already there."""
        key = (model, slug)
        if key not in self.refs:
            found = model._default_manager.filter(organization=self.org, slug=slug).first()
            if found is None:
                raise _missing(str(model._meta.verbose_name), slug, owner)
            self.refs[key] = found
        return self.refs[key]

    def save_entity[M: models.Model](self, instance: M) -> M:
        return entity_save(instance, organization=self.org)

    # The portfolio.

    def layer(self, name: str) -> Layer:
        if name not in self.layers:
            self.layers[name] = layer_save(organization=self.org, layer=Layer(name=name))
            self.result.created[Layer] += 1
        return self.layers[name]

    def portfolio(self, spec: ModelSpec) -> None:
        for team in spec.teams:
            obj, _ = self.upsert(
                Team, {"slug": team.slug}, {"name": team.name}, save=self.save_entity
            )
            self.refs[Team, team.slug] = obj
        for family in spec.families:
            fam, _ = self.upsert(
                ProductFamily, {"slug": family.slug}, {"name": family.name}, save=self.save_entity
            )
            for product in family.products:
                obj, _ = self.upsert(
                    Product,
                    {"slug": product.slug},
                    {"family": fam, "name": product.name, "layer": self.layer(product.layer)},
                    save=self.save_entity,
                )
                self.refs[Product, product.slug] = obj
        for comp in spec.components:
            owner = f"component '{comp.slug}'"
            values = {
                "name": comp.name,
                "kind": comp.kind,
                "layer": self.layer(comp.layer),
                "team": self.ref(Team, comp.team, owner),
                "product": self.ref(Product, comp.product, owner) if comp.product else None,
            }
            obj, _ = self.upsert(Component, {"slug": comp.slug}, values, save=self.save_entity)
            self.refs[Component, comp.slug] = obj

    def components(self, slugs: tuple[str, ...], owner: str) -> list[Component]:
        return [self.ref(Component, slug, owner) for slug in slugs]

    # Value streams.

    def value_stream(self, spec: StreamSpec) -> None:
        owner = f"value stream '{spec.slug}'"
        values = {
            "name": spec.name,
            "kind": spec.kind,
            "description": spec.description,
            "parent": self.ref(ValueStream, spec.parent, owner) if spec.parent else None,
            "owner_email": (spec.owner_email or "").lower(),
        }
        stream, _ = self.upsert(
            ValueStream,
            {"slug": spec.slug},
            values,
            save=lambda vs: value_stream_save(organization=self.org, value_stream=vs),
        )
        self.refs[ValueStream, spec.slug] = stream
        stage_ids = []
        for stage_spec in spec.stages:
            stage, _ = self.upsert(
                Stage,
                {"value_stream": stream, "slug": stage_spec.slug},
                {"name": stage_spec.name},
                save=lambda s: stage_save(organization=self.org, stage=s),
                create=lambda s=stage_spec: stage_add(
                    organization=self.org, value_stream=stream, name=s.name, slug=s.slug
                ),
            )
            self.refs[Stage, f"{spec.slug}/{stage_spec.slug}"] = stage
            stage_ids.append(stage.pk)
            self.stage_components(stage, self.components(stage_spec.components, owner))
        if self.overwrite:
            # The spec's stages first, in its order; stages someone added keep theirs after.
            current = list(
                Stage.objects.filter(organization=self.org, value_stream=stream)
                .order_by("position", "id")
                .values_list("pk", flat=True)
            )
            ordered = stage_ids + [pk for pk in current if pk not in stage_ids]
            stages_reorder(organization=self.org, value_stream=stream, ordered_ids=ordered)
        self.status_mapping(stream, spec.status_mapping)

    def stage_components(self, stage: Stage, wanted: list[Component]) -> None:
        have = set(
            StageComponent.objects.filter(organization=self.org, stage=stage).values_list(
                "component_id", flat=True
            )
        )
        want = {c.pk for c in wanted}
        if self.overwrite and have != want:
            stage_components_set(organization=self.org, stage=stage, components=wanted)
        elif not self.overwrite and want - have:
            keep = list(Component.objects.filter(organization=self.org, pk__in=have))
            stage_components_set(organization=self.org, stage=stage, components=keep + wanted)

    def status_mapping(self, stream: ValueStream, mapping: Mapping[str, str]) -> None:
        current = dict(
            StatusMapping.objects.filter(organization=self.org, value_stream=stream).values_list(
                "tool_status", "category"
            )
        )
        known = {status.lower() for status in current}
        new = {s: c for s, c in mapping.items() if s.lower() not in known}
        wanted = dict(mapping) if self.overwrite else {**current, **new}
        if wanted != current:
            status_mappings_set(organization=self.org, value_stream=stream, mapping=wanted)
            self.result.created[StatusMapping] += len(new)

    # Journeys.

    def journey(self, spec: JourneySpec) -> None:
        owner = f"journey '{spec.slug}'"
        values = {
            "name": spec.name,
            "persona": spec.persona,
            "product": self.ref(Product, spec.product, owner) if spec.product else None,
        }
        journey, journey_created = self.upsert(
            Journey,
            {"slug": spec.slug},
            values,
            save=lambda j: journey_save(organization=self.org, journey=j),
        )
        stages: list[tuple[JourneyStage, JourneyStageSpec]] = []
        for stage_spec in spec.stages:
            stage, _ = self.upsert(
                JourneyStage,
                {"journey": journey, "slug": stage_spec.slug},
                {
                    "name": stage_spec.name,
                    "emotion": stage_spec.emotion,
                    "pain_points": list(stage_spec.pain_points),
                    "opportunities": list(stage_spec.opportunities),
                },
                save=lambda s: journey_stage_save(organization=self.org, stage=s),
            )
            stages.append((stage, stage_spec))
        if self.overwrite:
            ids = [stage.pk for stage, _ in stages]
            current = list(
                JourneyStage.objects.filter(organization=self.org, journey=journey)
                .order_by("position", "id")
                .values_list("pk", flat=True)
            )
            ordered = ids + [pk for pk in current if pk not in ids]
            journey_stages_reorder(organization=self.org, journey=journey, ordered_ids=ordered)
            journey_flags_normalize(organization=self.org, journey=journey)
        if self.overwrite or journey_created:
            self.journey_flags(journey, stages)
        for stage, stage_spec in stages:
            for position, tp in enumerate(stage_spec.touchpoints):
                self.touchpoint(journey, stage, position, tp)

    def journey_flags(
        self, journey: Journey, stages: list[tuple[JourneyStage, JourneyStageSpec]]
    ) -> None:
        """Put the spec's explicit flags on their stages; drop explicit flags it does not set."""
        wanted = {flag: stage for stage, spec in stages for flag in spec.flags if flag in FLAGS}
        journey.refresh_from_db(fields=["explicit_flags"])
        stray = [f for f in journey.explicit_flags if f not in wanted]
        if stray:
            journey.explicit_flags = [f for f in journey.explicit_flags if f in wanted]
            journey_save(organization=self.org, journey=journey)
            journey_flags_normalize(organization=self.org, journey=journey)
        for flag, stage in wanted.items():
            journey.refresh_from_db(fields=["explicit_flags"])
            holds = JourneyStage.objects.filter(pk=stage.pk, **{flag: True}).exists()
            if not (holds and flag in journey.explicit_flags):
                stage.refresh_from_db()
                journey_stage_save(organization=self.org, stage=stage, set_flags=[flag])

    def touchpoint(
        self, journey: Journey, stage: JourneyStage, position: int, spec: TouchpointSpec
    ) -> None:
        owner = f"touchpoint '{spec.slug}'"
        vs_stage = None
        if spec.value_stream_stage:
            stream_slug, _, stage_slug = spec.value_stream_stage.partition("/")
            key = (Stage, spec.value_stream_stage)
            if key not in self.refs:
                found = Stage.objects.filter(
                    organization=self.org, value_stream__slug=stream_slug, slug=stage_slug
                ).first()
                if found is None:
                    raise _missing("value stream stage", spec.value_stream_stage, owner)
                self.refs[key] = found
            vs_stage = self.refs[key]
        components = self.components(spec.components, owner)
        values = {
            "stage": stage,
            "name": spec.name,
            "channel": spec.channel,
            "emotion": spec.emotion,
            "position": position,
            "value_stream_stage": vs_stage,
        }
        existing = Touchpoint.objects.filter(
            organization=self.org, journey=journey, slug=spec.slug
        ).first()
        if existing is None:
            touchpoint_save(
                organization=self.org,
                touchpoint=Touchpoint(journey=journey, slug=spec.slug, **values),
                components=components,
            )
            self.result.created[Touchpoint] += 1
            return
        have = set(existing.components.values_list("pk", flat=True))
        want = {c.pk for c in components}
        if self.overwrite:
            changed = _assign(existing, values)
            if changed or have != want:
                touchpoint_save(organization=self.org, touchpoint=existing, components=components)
                self.result.updated[Touchpoint] += 1
        elif want - have:
            keep = list(Component.objects.filter(organization=self.org, pk__in=have))
            touchpoint_save(
                organization=self.org, touchpoint=existing, components=keep + components
            )


@transaction.atomic
def model_apply(
    *, organization: Organization, model: ModelSpec, name: str, overwrite: bool = False
) -> TemplateResult:
    """Build ``model`` into the organization; see the module's docstring for the rules."""
    builder = _Builder(organization=organization, overwrite=overwrite, name=name)
    builder.portfolio(model)
    # Parents come before their children in a spec; a parent outside it must exist.
    for stream in model.value_streams:
        builder.value_stream(stream)
    for journey in model.journeys:
        builder.journey(journey)
    return builder.result


@transaction.atomic
def template_apply(*, organization: Organization, key: str) -> TemplateResult:
    """Apply the catalogue's template ``key``: add what the organization lacks, reuse the
    rest (by slug). Idempotent and all-or-nothing."""
    template = TEMPLATES.get(key)
    if template is None:
        raise ValidationError(f"template '{key}' is not one of {', '.join(TEMPLATES)}.")
    return model_apply(organization=organization, model=template.model, name=template.name)


def templates_in_place(*, organization: Organization) -> dict[str, set[str]]:
    """For each template, the slugs of its value streams the organization already has."""
    wanted = {s.slug for t in TEMPLATES.values() for s in t.model.value_streams}
    have = set(
        ValueStream.objects.filter(organization=organization, slug__in=wanted).values_list(
            "slug", flat=True
        )
    )
    return {key: {s.slug for s in t.model.value_streams} & have for key, t in TEMPLATES.items()}
