"""The organization's model as JSON (docs/formats.md#the-model-json): the one export and
import.

Every interface (``export_model``/``import_model``, the model page, the model
API) calls ``model_export``/``model_export_json``, ``model_parse`` and
``model_import``; none has rules of its own.

Export: the format's keys in the format's order; layers by position,
stages and touchpoints by position, everything else by slug. Data the
format's example does not show is written only when it differs from the
default, so the example reads back as exactly itself: a component's ``kind``,
a value stream's ``description`` and ``status_map`` ({tool status: category}),
an objective's ``owner_email`` and a key result's ``weight``, each after the
format's keys.

Import: an upsert by slug (layers by name), all or nothing.

1. ``_Checker`` walks the whole file and collects every error, each named by
   its JSON path (``value_streams[2].parent: 'x' is not a value stream``).
   References may name the organization's objects or the file's own, never
   another organization's (those are loaded through the organization only).
2. Only a file without errors is written, through the services (so their
   rules and the history apply), parents before children. An object whose
   values already match is not saved, so importing a file twice leaves no
   trace the second time.

What the format leaves open, decided here:

- A key that is not required may be left out: an existing object keeps its
  value, a new one gets the default. ``null`` or ``[]`` given sets it.
- Nothing is deleted. Objects, stages and touchpoints the file does not name
  stay; a value stream's or journey's stages (and a stage's touchpoints) take
  the file's order, followed by the ones only the organization has.
- A journey stage's ``entry``/``work_start``/``conversion`` are the flags
  someone set on purpose (``Journey.explicit_flags``). When a journey's
  ``stages`` are given, the flags marked ``true`` are set and stick; a flag no
  stage marks follows the default (first, second, last stage:
  docs/metrics.md#customer-journeys) and is exported as ``false``. That is how a
  one-stage journey can say ``"entry": true, "work_start": false`` and read back
  unchanged.
- ``owner_email`` is any email address: an owner need not be a member (owning
  grants no access), so a model moves between organizations intact.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction

from journeys.models import Journey, JourneyStage, Touchpoint, TouchpointComponent
from journeys.services import (
    FLAGS,
    journey_flags_normalize,
    journey_save,
    journey_stage_save,
    journey_stages_reorder,
    touchpoint_save,
    touchpoints_reorder,
)
from metrics.definitions import METRICS, Subject, keys_for
from portfolio.entities import entity_save
from portfolio.models import (
    Component,
    KeyResult,
    Layer,
    Objective,
    ObjectiveJourney,
    ObjectiveValueStream,
    Organization,
    Product,
    ProductFamily,
    Team,
    quantity_in_range,
    quantity_range,
    quantity_shown,
    slug_validator,
)
from portfolio.okrs import key_results_current_refresh
from portfolio.services import key_result_save, layer_save, layers_reorder, objective_save
from portfolio.text_input import JSON_FILE, InputRefused, json_parse, text_check
from streams.models import Stage, StageComponent, StateCategory, StatusMapping, ValueStream
from streams.services import (
    stage_add,
    stage_components_set,
    stage_save,
    stages_reorder,
    status_mappings_set,
    value_stream_save,
)

MAX_FILE_BYTES = 5 * 1024 * 1024

SECTIONS = (
    "layers",
    "teams",
    "product_families",
    "components",
    "value_streams",
    "journeys",
    "objectives",
)
# The kinds the import summary counts, in the order they are written.
KINDS = (
    "layers",
    "teams",
    "product_families",
    "products",
    "components",
    "value_streams",
    "stages",
    "journeys",
    "journey_stages",
    "touchpoints",
    "objectives",
    "key_results",
)
NUL_MESSAGE = "contains a NUL character"
# File key -> JourneyStage flag field.
FLAG_KEYS = {"entry": "is_entry", "work_start": "is_work_start", "conversion": "is_conversion"}


class ModelImportError(Exception):
    """The file was refused; ``errors`` says why, one ``path: message`` each."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(errors[0] if len(errors) == 1 else f"{len(errors)} errors in the model")


@dataclass
class ImportSummary:
    """How many objects of each kind the import created, updated or left unchanged."""

    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {k: {"created": 0, "updated": 0, "unchanged": 0} for k in KINDS}
    )

    def lines(self) -> list[str]:
        return [
            f"{kind}: {c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged"
            for kind, c in self.counts.items()
        ]

    @property
    def changed(self) -> bool:
        return any(c["created"] or c["updated"] for c in self.counts.values())


# --- Export ------------------------------------------------------------------------


def _number(value: float) -> int | float:
    # 12.0 is written 12, as a person writes it (and as the format's example does).
    return int(value) if value.is_integer() else value


def _grouped[T](rows: Iterable[T], key: Callable[[T], Any]) -> dict[Any, list[T]]:
    groups: dict[Any, list[T]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return groups


def _link_slugs(
    organization: Organization, link_model: type[models.Model], owner: str, target: str
) -> dict[int, list[str]]:
    """Owner id -> the slugs of its linked targets, sorted."""
    pairs = link_model._default_manager.filter(organization=organization).values_list(
        f"{owner}_id", f"{target}__slug"
    )
    links: dict[int, list[str]] = defaultdict(list)
    for owner_id, slug in pairs:
        links[owner_id].append(slug)
    return {owner_id: sorted(slugs) for owner_id, slugs in links.items()}


def _email(value: str) -> str | None:
    return value or None


def model_export(*, organization: Organization) -> dict[str, Any]:
    """The organization's model as the model JSON's structure (a constant number of queries)."""
    org = organization

    def rows(model: type[models.Model], *order: str) -> models.QuerySet:
        return model._default_manager.filter(organization=org).order_by(*order)

    layers = list(rows(Layer, "position", "id"))
    layer_names = {layer.pk: layer.name for layer in layers}
    teams = list(rows(Team, "slug"))
    team_slugs = {team.pk: team.slug for team in teams}
    products = list(rows(Product, "slug"))
    product_slugs = {product.pk: product.slug for product in products}
    products_of = _grouped(products, lambda p: p.family_id)
    streams = list(rows(ValueStream, "slug"))
    stream_slugs = {vs.pk: vs.slug for vs in streams}
    stages = list(rows(Stage, "position", "id"))
    stages_of = _grouped(stages, lambda st: st.value_stream_id)
    stage_refs = {st.pk: f"{stream_slugs[st.value_stream_id]}/{st.slug}" for st in stages}
    stage_components = _link_slugs(org, StageComponent, "stage", "component")
    mappings = _grouped(
        sorted(rows(StatusMapping), key=lambda m: (m.tool_status.lower(), m.tool_status)),
        lambda m: m.value_stream_id,
    )
    journeys = list(rows(Journey, "slug"))
    journey_slugs = {j.pk: j.slug for j in journeys}
    journey_stages = _grouped(rows(JourneyStage, "position", "id"), lambda s: s.journey_id)
    touchpoints = _grouped(rows(Touchpoint, "position", "id"), lambda t: t.stage_id)
    touchpoint_components = _link_slugs(org, TouchpointComponent, "touchpoint", "component")
    objectives = list(rows(Objective, "slug"))
    objective_slugs = {o.pk: o.slug for o in objectives}
    objective_streams = _link_slugs(org, ObjectiveValueStream, "objective", "value_stream")
    objective_journeys = _link_slugs(org, ObjectiveJourney, "objective", "journey")
    key_results = _grouped(rows(KeyResult, "slug"), lambda kr: kr.objective_id)

    def component(c: Component) -> dict[str, Any]:
        data = {
            "slug": c.slug,
            "name": c.name,
            "layer": layer_names[c.layer_id],
            "team": team_slugs[c.team_id],
            "product": product_slugs.get(c.product_id),
        }
        if c.kind != Component._meta.get_field("kind").default:
            data["kind"] = c.kind
        return data

    def value_stream(vs: ValueStream) -> dict[str, Any]:
        data = {
            "slug": vs.slug,
            "name": vs.name,
            "kind": vs.kind,
            "parent": stream_slugs.get(vs.parent_id),
            "owner_email": _email(vs.owner_email),
            "stages": [
                {
                    "slug": st.slug,
                    "name": st.name,
                    "components": stage_components.get(st.pk, []),
                }
                for st in stages_of.get(vs.pk, [])
            ],
        }
        if vs.description:
            data["description"] = vs.description
        if mappings.get(vs.pk):
            data["status_map"] = {m.tool_status: m.category for m in mappings[vs.pk]}
        return data

    def journey_stage(journey: Journey, st: JourneyStage) -> dict[str, Any]:
        # Only the flags someone set on purpose: a default one follows the stages.
        stated = {
            key: getattr(st, flag) and flag in journey.explicit_flags
            for key, flag in FLAG_KEYS.items()
        }
        return {
            "slug": st.slug,
            "name": st.name,
            **stated,
            "emotion": st.emotion,
            "pain_points": list(st.pain_points),
            "opportunities": list(st.opportunities),
            "touchpoints": [
                {
                    "slug": tp.slug,
                    "name": tp.name,
                    "channel": tp.channel,
                    "components": touchpoint_components.get(tp.pk, []),
                    "value_stream_stage": stage_refs.get(tp.value_stream_stage_id),
                    "emotion": tp.emotion,
                }
                for tp in touchpoints.get(st.pk, [])
            ],
        }

    def key_result(kr: KeyResult) -> dict[str, Any]:
        metric = None
        if kr.metric_value_stream_id:
            metric = {"value_stream": stream_slugs[kr.metric_value_stream_id], "key": kr.metric_key}
        elif kr.metric_journey_id:
            metric = {"journey": journey_slugs[kr.metric_journey_id], "key": kr.metric_key}
        data = {
            "slug": kr.slug,
            "title": kr.title,
            "baseline": _number(kr.baseline),
            "target": _number(kr.target),
            "unit": kr.unit,
            "metric": metric,
        }
        if kr.weight != KeyResult._meta.get_field("weight").default:
            data["weight"] = _number(kr.weight)
        return data

    def objective(o: Objective) -> dict[str, Any]:
        data = {
            "slug": o.slug,
            "title": o.title,
            "quarter": o.quarter,
            "parent": objective_slugs.get(o.parent_id),
            "value_streams": objective_streams.get(o.pk, []),
            "journeys": objective_journeys.get(o.pk, []),
            "key_results": [key_result(kr) for kr in key_results.get(o.pk, [])],
        }
        if o.owner_email:
            data["owner_email"] = o.owner_email
        return data

    return {
        "layers": [layer.name for layer in layers],
        "teams": [{"slug": t.slug, "name": t.name} for t in teams],
        "product_families": [
            {
                "slug": f.slug,
                "name": f.name,
                "products": [
                    {"slug": p.slug, "name": p.name, "layer": layer_names[p.layer_id]}
                    for p in products_of.get(f.pk, [])
                ],
            }
            for f in rows(ProductFamily, "slug")
        ],
        "components": [component(c) for c in rows(Component, "slug")],
        "value_streams": [value_stream(vs) for vs in streams],
        "journeys": [
            {
                "slug": j.slug,
                "name": j.name,
                "persona": j.persona,
                "product": product_slugs.get(j.product_id),
                "stages": [journey_stage(j, st) for st in journey_stages.get(j.pk, [])],
            }
            for j in journeys
        ],
        "objectives": [objective(o) for o in objectives],
    }


def model_export_json(*, organization: Organization) -> str:
    """The export as text: the same model always gives the same bytes."""
    data = model_export(organization=organization)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --- Parsing -----------------------------------------------------------------------


def model_parse(raw: bytes | str) -> dict[str, Any]:
    """Decode and parse a model file, or refuse it with one message."""
    if isinstance(raw, bytes):
        try:
            text_check(name="the file", chunks=[raw], fmt=JSON_FILE)
        except InputRefused as exc:
            # The file's other errors read "path: message", without a full stop.
            raise ModelImportError([str(exc.message).removesuffix(".")]) from exc
        raw = raw.decode("utf-8-sig")
    try:
        data = json_parse(raw, name="the file")
    except InputRefused as exc:
        raise ModelImportError([exc.message]) from exc
    if not isinstance(data, dict):
        raise ModelImportError([_top_level_message(data)])
    return data


def _top_level_message(data: object) -> str:
    return (
        f"the file must hold a JSON object (with keys such as {', '.join(SECTIONS[:3])}), "
        f"not {_describe(data)}"
    )


# --- Checking ------------------------------------------------------------------------


def _q(value: object) -> str:
    text = str(value)
    return "'" + (text if len(text) <= 60 else text[:57] + "...") + "'"


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {_q(value)}"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


@dataclass
class _State:
    """The organization's objects the file may name, by slug (layers by name)."""

    layers: dict[str, Layer]
    teams: dict[str, Team]
    families: dict[str, ProductFamily]
    products: dict[str, Product]
    components: dict[str, Component]
    value_streams: dict[str, ValueStream]
    stages: dict[tuple[str, str], Stage]
    journeys: dict[str, Journey]
    objectives: dict[str, Objective]

    @classmethod
    def load(cls, organization: Organization) -> _State:
        def by_slug(queryset: models.QuerySet) -> dict[str, Any]:
            return {obj.slug: obj for obj in queryset.filter(organization=organization)}

        stages = Stage.objects.filter(organization=organization).select_related("value_stream")
        return cls(
            layers={la.name: la for la in Layer.objects.filter(organization=organization)},
            teams=by_slug(Team.objects),
            families=by_slug(ProductFamily.objects),
            products=by_slug(Product.objects),
            components=by_slug(Component.objects),
            value_streams=by_slug(ValueStream.objects),
            stages={(st.value_stream.slug, st.slug): st for st in stages},
            journeys=by_slug(Journey.objects),
            objectives=by_slug(Objective.objects),
        )

    @staticmethod
    def parents(objects: dict[str, Any]) -> dict[str, str | None]:
        slugs = {obj.pk: slug for slug, obj in objects.items()}
        return {slug: slugs.get(obj.parent_id) for slug, obj in objects.items()}


class _Checker:
    """Walks a whole file and collects every error, named by its JSON path.

    References are recorded as they are met and resolved at the end, once
    every object the file defines is known, so a file may name an object
    before the entry that defines it. Errors come out in file order.
    """

    def __init__(self, state: _State) -> None:
        self.state = state
        self._seq = itertools.count()
        self._errors: list[tuple[int, str]] = []
        self._refs: list[tuple[int, str, str, str]] = []
        self._first: dict[tuple[str, str, str], str] = {}
        self.known: dict[str, set[str]] = {
            "layer": set(state.layers),
            "team": set(state.teams),
            "product": set(state.products),
            "component": set(state.components),
            "value stream": set(state.value_streams),
            "stage": {f"{vs}/{st}" for vs, st in state.stages},
            "journey": set(state.journeys),
            "objective": set(state.objectives),
        }
        # For the cycle check: the parents the file gives, with where it gives them.
        self._given_parents: dict[str, dict[str, tuple[int, str, str | None]]] = {
            "value stream": {},
            "objective": {},
        }

    # --- primitives

    def error(self, path: str, message: str, seq: int | None = None) -> None:
        self._errors.append((next(self._seq) if seq is None else seq, f"{path}: {message}"))

    def _object(
        self, path: str, value: object, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, f"expected an object, got {_describe(value)}")
            return None
        for key in required:
            if key not in value:
                self.error(f"{path}.{key}", "required, but missing")
        allowed = (*required, *optional)
        for key in value:
            if key not in allowed:
                self.error(f"{path}.{key}", f"unknown key; expected one of {', '.join(allowed)}")
        return value

    def _list(self, path: str, value: object) -> list:
        if not isinstance(value, list):
            self.error(path, f"expected a list, got {_describe(value)}")
            return []
        return value

    def _text(self, path: str, value: object, model: type[models.Model], name: str) -> bool:
        """A string the model's field accepts (its length, choices and validators)."""
        if not isinstance(value, str):
            self.error(path, f"expected a string, got {_describe(value)}")
            return False
        if "\x00" in value:
            # JSON may escape one (\u0000); PostgreSQL text cannot hold it.
            self.error(path, NUL_MESSAGE)
            return False
        model_field = model._meta.get_field(name)
        choices = [str(choice) for choice, _label in model_field.choices or []]
        if choices and value not in choices:
            self.error(path, f"{_q(value)} is not one of {', '.join(choices)}")
            return False
        if value == "" and not model_field.blank:
            self.error(path, "must not be empty")
            return False
        try:
            model_field.clean(value, None)
        except ValidationError as exc:
            self.error(path, f"{_q(value)}: {' '.join(exc.messages)}")
            return False
        return True

    def _slug(self, path: str, value: object) -> bool:
        if not isinstance(value, str):
            self.error(path, f"expected a slug (a string), got {_describe(value)}")
            return False
        try:
            slug_validator(value)
        except ValidationError:
            self.error(
                path,
                f"{_q(value)} is not a slug: use 1 to 50 lowercase letters, digits "
                "and inner hyphens",
            )
            return False
        return True

    def _define(self, path: str, kind: str, key: str, scope: str = "", shown: str = "") -> None:
        """Record an object the file defines; the same key twice in one scope is an error."""
        first = self._first.setdefault((kind, scope, key), path)
        if first != path:
            self.error(path, f"{_q(shown or key)} is already used by {first}")
        elif kind in self.known:
            self.known[kind].add(key)

    def _slug_of(self, path: str, obj: dict, kind: str, scope: str = "") -> str | None:
        if "slug" in obj and self._slug(f"{path}.slug", obj["slug"]):
            key = f"{scope}/{obj['slug']}" if scope else obj["slug"]
            self._define(f"{path}.slug", kind, key, scope, shown=obj["slug"])
            return obj["slug"]
        return None

    def _field(self, path: str, obj: dict, key: str, check: Callable[..., Any], *args: Any) -> None:
        if key in obj:
            check(f"{path}.{key}", obj[key], *args)

    def _ref(self, path: str, value: object, kind: str, nullable: bool = False) -> bool:
        if value is None and nullable:
            return True
        if not isinstance(value, str):
            what = "name" if kind == "layer" else "slug"
            null = " or null" if nullable else ""
            self.error(path, f"expected {_a(kind)} {what} (a string){null}, got {_describe(value)}")
            return False
        self._refs.append((next(self._seq), path, kind, value))
        return True

    def _refs_list(self, path: str, value: object, kind: str) -> None:
        seen: dict[object, int] = {}
        for i, item in enumerate(self._list(path, value)):
            if isinstance(item, str) and item in seen:
                self.error(f"{path}[{i}]", f"{_q(item)} is listed twice (also [{seen[item]}])")
                continue
            if self._ref(f"{path}[{i}]", item, kind) and isinstance(item, str):
                seen[item] = i

    def _parent(self, path: str, obj: dict, slug: str | None, kind: str) -> None:
        if "parent" not in obj:
            return
        seq = next(self._seq)
        if self._ref(f"{path}.parent", obj["parent"], kind, nullable=True) and slug:
            self._given_parents[kind][slug] = (seq, f"{path}.parent", obj["parent"])

    def _strings(self, path: str, value: object) -> None:
        for i, item in enumerate(self._list(path, value)):
            if not isinstance(item, str):
                self.error(f"{path}[{i}]", f"expected a string, got {_describe(item)}")
            elif "\x00" in item:
                self.error(f"{path}[{i}]", NUL_MESSAGE)

    def _bool(self, path: str, value: object) -> bool:
        if not isinstance(value, bool):
            self.error(path, f"expected true or false, got {_describe(value)}")
            return False
        return True

    def _number(self, path: str, value: object, minimum: float | None = None) -> bool:
        """A key result's baseline, target or weight: a number within the range every
        such number keeps (portfolio.models.validate_quantity), and ``minimum`` or more."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(path, f"expected a number, got {_describe(value)}")
            return False
        if isinstance(value, float) and not math.isfinite(value):
            self.error(path, f"expected a finite number, got {value}")
            return False
        if minimum is not None and value < minimum:
            self.error(path, f"{quantity_shown(value)} is below {minimum:g}")
            return False
        if not quantity_in_range(value):
            self.error(path, f"{quantity_shown(value)} is not a number {quantity_range(minimum)}")
            return False
        return True

    def _emotion(self, path: str, value: object) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(
                path, f"expected a whole number from -2 to 2 or null, got {_describe(value)}"
            )
        elif not -2 <= value <= 2:
            self.error(path, f"{value} is outside -2..2 (very negative .. very positive)")

    def _owner(self, path: str, value: object, current: str | None) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            self.error(path, f"expected an email or null, got {_describe(value)}")
            return
        try:
            validate_email(value)
        except ValidationError:
            self.error(path, f"{_q(value)} is not an email address")

    # --- the sections

    def check(self, data: dict[str, Any]) -> list[str]:
        for key in data:
            if key not in SECTIONS:
                self.error(key, f"unknown key; expected one of {', '.join(SECTIONS)}")
        sections = {
            "layers": self._layers,
            "teams": self._teams,
            "product_families": self._families,
            "components": self._components,
            "value_streams": self._value_streams,
            "journeys": self._journeys,
            "objectives": self._objectives,
        }
        for key, check in sections.items():
            if key in data:
                check(self._list(key, data[key]))
        for seq, path, kind, value in self._refs:
            if value not in self.known[kind]:
                self.error(path, f"{_q(value)} is not {_a(kind)}", seq)
        self._cycles("value stream", _State.parents(self.state.value_streams))
        self._cycles("objective", _State.parents(self.state.objectives))
        return [message for _seq, message in sorted(self._errors)]

    def _cycles(self, kind: str, existing: dict[str, str | None]) -> None:
        given = self._given_parents[kind]
        parents = existing | {slug: parent for slug, (_s, _p, parent) in given.items()}
        for slug, (seq, path, parent) in given.items():
            chain, node = [slug], parent
            while node is not None and node not in chain:
                chain.append(node)
                node = parents.get(node)
            if node == slug:
                self.error(path, f"{_q(parent)} makes a cycle: {' → '.join([*chain, slug])}", seq)

    def _layers(self, items: list) -> None:
        for i, name in enumerate(items):
            path = f"layers[{i}]"
            if self._text(path, name, Layer, "name"):
                self._define(path, "layer", name)

    def _teams(self, items: list) -> None:
        for i, item in enumerate(items):
            path = f"teams[{i}]"
            if (obj := self._object(path, item, ("slug", "name"))) is not None:
                self._slug_of(path, obj, "team")
                self._field(path, obj, "name", self._text, Team, "name")

    def _families(self, items: list) -> None:
        for i, item in enumerate(items):
            path = f"product_families[{i}]"
            obj = self._object(path, item, ("slug", "name"), ("products",))
            if obj is None:
                continue
            self._slug_of(path, obj, "product family")
            self._field(path, obj, "name", self._text, ProductFamily, "name")
            for j, product in enumerate(self._list(f"{path}.products", obj.get("products", []))):
                ppath = f"{path}.products[{j}]"
                if (p := self._object(ppath, product, ("slug", "name", "layer"))) is not None:
                    self._slug_of(ppath, p, "product")
                    self._field(ppath, p, "name", self._text, Product, "name")
                    self._field(ppath, p, "layer", self._ref, "layer")

    def _components(self, items: list) -> None:
        for i, item in enumerate(items):
            path = f"components[{i}]"
            obj = self._object(path, item, ("slug", "name", "layer", "team"), ("product", "kind"))
            if obj is None:
                continue
            self._slug_of(path, obj, "component")
            self._field(path, obj, "name", self._text, Component, "name")
            self._field(path, obj, "layer", self._ref, "layer")
            self._field(path, obj, "team", self._ref, "team")
            self._field(path, obj, "product", self._ref, "product", True)
            self._field(path, obj, "kind", self._text, Component, "kind")

    def _value_streams(self, items: list) -> None:
        optional = ("kind", "parent", "owner_email", "stages", "description", "status_map")
        for i, item in enumerate(items):
            path = f"value_streams[{i}]"
            if (obj := self._object(path, item, ("slug", "name"), optional)) is None:
                continue
            slug = self._slug_of(path, obj, "value stream")
            self._field(path, obj, "name", self._text, ValueStream, "name")
            self._field(path, obj, "kind", self._text, ValueStream, "kind")
            self._field(path, obj, "description", self._text, ValueStream, "description")
            self._parent(path, obj, slug, "value stream")
            current = self.state.value_streams.get(slug or "")
            self._field(path, obj, "owner_email", self._owner, current and current.owner_email)
            self._field(path, obj, "status_map", self._status_map)
            scope = slug or path
            for j, stage in enumerate(self._list(f"{path}.stages", obj.get("stages", []))):
                spath = f"{path}.stages[{j}]"
                if (st := self._object(spath, stage, ("slug", "name"), ("components",))) is None:
                    continue
                self._slug_of(spath, st, "stage", scope=scope)
                self._field(spath, st, "name", self._text, Stage, "name")
                self._field(spath, st, "components", self._refs_list, "component")

    def _status_map(self, path: str, value: object) -> None:
        if not isinstance(value, dict):
            self.error(path, f"expected an object of tool status: category, got {_describe(value)}")
            return
        seen: dict[str, str] = {}
        for status, category in value.items():
            spath = f"{path}[{json.dumps(status, ensure_ascii=False)}]"
            if self._text(spath, status, StatusMapping, "tool_status"):
                if status.lower() in seen:
                    self.error(
                        spath,
                        f"{_q(status)} is mapped twice (also as {_q(seen[status.lower()])}; "
                        "statuses are compared without case)",
                    )
                seen.setdefault(status.lower(), status)
            if category not in StateCategory.values:
                self.error(
                    spath, f"{_describe(category)} is not one of {', '.join(StateCategory.values)}"
                )

    def _journeys(self, items: list) -> None:
        optional = ("persona", "product", "stages")
        for i, item in enumerate(items):
            path = f"journeys[{i}]"
            if (obj := self._object(path, item, ("slug", "name"), optional)) is None:
                continue
            slug = self._slug_of(path, obj, "journey")
            self._field(path, obj, "name", self._text, Journey, "name")
            self._field(path, obj, "persona", self._text, Journey, "persona")
            self._field(path, obj, "product", self._ref, "product", True)
            flagged: dict[str, str] = {}
            scope = slug or path
            for j, stage in enumerate(self._list(f"{path}.stages", obj.get("stages", []))):
                self._journey_stage(f"{path}.stages[{j}]", stage, scope, flagged)

    def _journey_stage(self, path: str, value: object, scope: str, flagged: dict[str, str]) -> None:
        optional = (*FLAG_KEYS, "emotion", "pain_points", "opportunities", "touchpoints")
        if (obj := self._object(path, value, ("slug", "name"), optional)) is None:
            return
        slug = self._slug_of(path, obj, "journey stage", scope=scope)
        self._field(path, obj, "name", self._text, JourneyStage, "name")
        for key in FLAG_KEYS:
            if key in obj and self._bool(f"{path}.{key}", obj[key]) and obj[key]:
                if key in flagged:
                    self.error(
                        f"{path}.{key}",
                        f"{_q(flagged[key])} is already the {key} stage; "
                        f"a journey has one {key} stage",
                    )
                else:
                    flagged[key] = slug or path
        self._field(path, obj, "emotion", self._emotion)
        self._field(path, obj, "pain_points", self._strings)
        self._field(path, obj, "opportunities", self._strings)
        for k, touchpoint in enumerate(
            self._list(f"{path}.touchpoints", obj.get("touchpoints", []))
        ):
            tpath = f"{path}.touchpoints[{k}]"
            optional = ("channel", "components", "value_stream_stage", "emotion")
            if (tp := self._object(tpath, touchpoint, ("slug", "name"), optional)) is None:
                continue
            self._slug_of(tpath, tp, "touchpoint", scope=scope)
            self._field(tpath, tp, "name", self._text, Touchpoint, "name")
            self._field(tpath, tp, "channel", self._text, Touchpoint, "channel")
            self._field(tpath, tp, "components", self._refs_list, "component")
            self._field(tpath, tp, "value_stream_stage", self._stage_ref)
            self._field(tpath, tp, "emotion", self._emotion)

    def _stage_ref(self, path: str, value: object) -> None:
        if isinstance(value, str) and value.count("/") != 1:
            self.error(path, f"{_q(value)} is not 'value-stream-slug/stage-slug'")
        else:
            self._ref(path, value, "stage", nullable=True)

    def _objectives(self, items: list) -> None:
        optional = ("parent", "value_streams", "journeys", "key_results", "owner_email")
        for i, item in enumerate(items):
            path = f"objectives[{i}]"
            if (obj := self._object(path, item, ("slug", "title", "quarter"), optional)) is None:
                continue
            slug = self._slug_of(path, obj, "objective")
            self._field(path, obj, "title", self._text, Objective, "title")
            self._field(path, obj, "quarter", self._text, Objective, "quarter")
            self._parent(path, obj, slug, "objective")
            self._field(path, obj, "value_streams", self._refs_list, "value stream")
            self._field(path, obj, "journeys", self._refs_list, "journey")
            current = self.state.objectives.get(slug or "")
            self._field(path, obj, "owner_email", self._owner, current and current.owner_email)
            scope = slug or path
            for k, kr in enumerate(self._list(f"{path}.key_results", obj.get("key_results", []))):
                self._key_result(f"{path}.key_results[{k}]", kr, scope)

    def _key_result(self, path: str, value: object, scope: str) -> None:
        required = ("slug", "title", "baseline", "target")
        if (obj := self._object(path, value, required, ("unit", "weight", "metric"))) is None:
            return
        self._slug_of(path, obj, "key result", scope=scope)
        self._field(path, obj, "title", self._text, KeyResult, "title")
        numbers = [
            self._number(f"{path}.{key}", obj[key]) for key in ("baseline", "target") if key in obj
        ]
        if len(numbers) == 2 and all(numbers) and obj["baseline"] == obj["target"]:
            self.error(f"{path}.target", f"must differ from the baseline ({obj['baseline']})")
        self._field(path, obj, "unit", self._text, KeyResult, "unit")
        self._field(path, obj, "weight", self._number, 0)
        if obj.get("metric") is not None:
            self._metric(f"{path}.metric", obj["metric"])

    def _metric(self, path: str, value: object) -> None:
        if (obj := self._object(path, value, ("key",), ("value_stream", "journey"))) is None:
            return
        subjects = [s for s in (Subject.VALUE_STREAM, Subject.JOURNEY) if s.value in obj]
        if len(subjects) != 1:
            which = (
                "both a value_stream and a journey" if subjects else "no value_stream or journey"
            )
            self.error(
                path,
                f"names {which}; a metric is of one value stream or one journey "
                "(null for a key result with manual check-ins)",
            )
            return
        subject = subjects[0]
        self._ref(f"{path}.{subject.value}", obj[subject.value], subject.value.replace("_", " "))
        key = obj.get("key")
        if "key" not in obj:
            return
        metric = METRICS.get(key) if isinstance(key, str) else None
        if metric is None or metric.subject != subject:
            self.error(
                f"{path}.key",
                f"{_describe(key) if not isinstance(key, str) else _q(key)} is not "
                f"{_a(subject.value.replace('_', ' '))} metric; use one of "
                f"{', '.join(keys_for(subject))}",
            )


# --- Writing -------------------------------------------------------------------------


def _assign(instance: models.Model, values: dict[str, Any]) -> bool:
    """Set ``values`` on ``instance``; whether any differed from what it held."""
    changed = False
    for attr, value in values.items():
        if getattr(instance, attr) != value:
            setattr(instance, attr, value)
            changed = True
    return changed


def _parents_first(
    items: list[dict], parent_of: Callable[[dict], str | None]
) -> Iterator[tuple[int, dict]]:
    """The file's entries, each after its parent when the file holds the parent too.

    Saving in this order, every ancestor of the object being saved already has
    its final parent, so the services' cycle checks see the final tree.
    """
    by_slug = {item["slug"]: (i, item) for i, item in enumerate(items)}
    done: set[str] = set()
    for item in items:
        chain = []
        slug: str | None = item["slug"]
        while slug in by_slug and slug not in done:
            done.add(slug)
            chain.append(by_slug[slug])
            slug = parent_of(by_slug[slug][1])
        yield from reversed(chain)


def _link_ids(
    organization: Organization, link_model: type[models.Model], owner: str, target: str
) -> dict[int, set[int]]:
    links: dict[int, set[int]] = defaultdict(set)
    pairs = link_model._default_manager.filter(organization=organization).values_list(
        f"{owner}_id", f"{target}_id"
    )
    for owner_id, target_id in pairs:
        links[owner_id].add(target_id)
    return links


class _Writer:
    """Writes a checked file through the services, saving only what differs."""

    def __init__(self, organization: Organization, state: _State) -> None:
        self.org = organization
        self.s = state
        self.summary = ImportSummary()
        self.touched_objectives: list[int] = []
        self.touched_key_results: list[int] = []

    @contextmanager
    def at(self, path: str) -> Iterator[None]:
        # The checker should have refused anything a service refuses; if one
        # still does, the whole import is undone and the reason named by path.
        try:
            yield
        except ValidationError as exc:
            raise ModelImportError([f"{path}: {m}" for m in exc.messages]) from exc
        except IntegrityError as exc:
            raise ModelImportError([f"{path}: conflicts with another change; retry"]) from exc

    def tally(self, kind: str, created: bool, changed: bool) -> None:
        key = "created" if created else "updated" if changed else "unchanged"
        self.summary.counts[kind][key] += 1

    def upsert(
        self,
        path: str,
        instance: models.Model,
        values: dict[str, Any],
        save: Callable[[models.Model], Any],
    ) -> tuple[bool, bool]:
        """Assign and, if new or different, save; (created, changed)."""
        created = instance.pk is None
        changed = _assign(instance, values)
        if created or changed:
            with self.at(path):
                save(instance)
        return created, changed and not created

    @staticmethod
    def owner_email(email: str | None) -> str:
        return (email or "").strip().lower()

    def write(self, data: dict[str, Any]) -> None:
        if "layers" in data:
            self.layers(data["layers"])
        if "teams" in data:
            self.teams(data["teams"])
        if "product_families" in data:
            self.families(data["product_families"])
        if "components" in data:
            self.components(data["components"])
        if "value_streams" in data:
            self.value_streams(data["value_streams"])
        if "journeys" in data:
            self.journeys(data["journeys"])
        if "objectives" in data:
            self.objectives(data["objectives"])

    def _order(self, queryset: models.QuerySet, first: list[int]) -> tuple[list[int], set[int]]:
        """``first`` in that order, then the rest as they are; and the rows that would move."""
        current = list(queryset.order_by("position", "id").values_list("pk", "position"))
        named = set(first)
        ordered = first + [pk for pk, _ in current if pk not in named]
        position = dict(current)
        return ordered, {pk for n, pk in enumerate(ordered) if position[pk] != n}

    def layers(self, names: list[str]) -> None:
        created = set()
        for i, name in enumerate(names):
            if name not in self.s.layers:
                with self.at(f"layers[{i}]"):
                    layer = layer_save(organization=self.org, layer=Layer(name=name))
                self.s.layers[name] = layer
                created.add(layer.pk)
        ids = [self.s.layers[name].pk for name in names]
        ordered, moved = self._order(Layer.objects.filter(organization=self.org), ids)
        if moved:
            with self.at("layers"):
                layers_reorder(organization=self.org, ordered_ids=ordered)
        for pk in ids:
            self.tally("layers", pk in created, pk in moved)

    def teams(self, items: list[dict]) -> None:
        for i, item in enumerate(items):
            team = self.s.teams.get(item["slug"]) or Team(slug=item["slug"])
            created, changed = self.upsert(
                f"teams[{i}]",
                team,
                {"name": item["name"]},
                lambda obj: entity_save(obj, organization=self.org),
            )
            self.s.teams[team.slug] = team
            self.tally("teams", created, changed)

    def families(self, items: list[dict]) -> None:
        for i, item in enumerate(items):
            path = f"product_families[{i}]"
            family = self.s.families.get(item["slug"]) or ProductFamily(slug=item["slug"])
            created, changed = self.upsert(
                path,
                family,
                {"name": item["name"]},
                lambda obj: entity_save(obj, organization=self.org),
            )
            self.s.families[family.slug] = family
            self.tally("product_families", created, changed)
            for j, p in enumerate(item.get("products", [])):
                product = self.s.products.get(p["slug"]) or Product(slug=p["slug"])
                values = {
                    "family_id": family.pk,
                    "name": p["name"],
                    "layer_id": self.s.layers[p["layer"]].pk,
                }
                created, changed = self.upsert(
                    f"{path}.products[{j}]",
                    product,
                    values,
                    lambda obj: entity_save(obj, organization=self.org),
                )
                self.s.products[product.slug] = product
                self.tally("products", created, changed)

    def components(self, items: list[dict]) -> None:
        for i, item in enumerate(items):
            component = self.s.components.get(item["slug"]) or Component(slug=item["slug"])
            values = {
                "name": item["name"],
                "layer_id": self.s.layers[item["layer"]].pk,
                "team_id": self.s.teams[item["team"]].pk,
            }
            if "product" in item:
                values["product_id"] = item["product"] and self.s.products[item["product"]].pk
            if "kind" in item:
                values["kind"] = item["kind"]
            created, changed = self.upsert(
                f"components[{i}]",
                component,
                values,
                lambda obj: entity_save(obj, organization=self.org),
            )
            self.s.components[component.slug] = component
            self.tally("components", created, changed)

    def value_streams(self, items: list[dict]) -> None:
        existing_parent = _State.parents(self.s.value_streams)
        mappings = _grouped(
            StatusMapping.objects.filter(organization=self.org), lambda m: m.value_stream_id
        )

        def parent_of(item: dict) -> str | None:
            return item["parent"] if "parent" in item else existing_parent.get(item["slug"])

        for i, item in _parents_first(items, parent_of):
            path = f"value_streams[{i}]"
            vs = self.s.value_streams.get(item["slug"]) or ValueStream(slug=item["slug"])
            values: dict[str, Any] = {"name": item["name"]}
            for key in ("kind", "description"):
                if key in item:
                    values[key] = item[key]
            if "parent" in item:
                values["parent_id"] = item["parent"] and self.s.value_streams[item["parent"]].pk
            if "owner_email" in item:
                values["owner_email"] = self.owner_email(item["owner_email"])
            created, changed = self.upsert(
                path,
                vs,
                values,
                lambda obj: value_stream_save(organization=self.org, value_stream=obj),
            )
            self.s.value_streams[vs.slug] = vs
            if "status_map" in item:
                current = {m.tool_status: m.category for m in mappings.get(vs.pk, [])}
                if current != item["status_map"]:
                    with self.at(f"{path}.status_map"):
                        status_mappings_set(
                            organization=self.org, value_stream=vs, mapping=item["status_map"]
                        )
                    changed = not created
            self.tally("value_streams", created, changed)
            if "stages" in item:
                self.stages(path, vs, item["stages"])

    def stages(self, path: str, vs: ValueStream, items: list[dict]) -> None:
        existing = {
            st.slug: st for st in Stage.objects.filter(organization=self.org, value_stream=vs)
        }
        components = _link_ids(self.org, StageComponent, "stage", "component")
        outcome: list[tuple[int, bool, bool]] = []
        for j, item in enumerate(items):
            spath = f"{path}.stages[{j}]"
            stage = existing.get(item["slug"])
            created = stage is None
            with self.at(spath):
                if stage is None:
                    stage = stage_add(
                        organization=self.org, value_stream=vs, name=item["name"], slug=item["slug"]
                    )
                    changed = False
                elif changed := _assign(stage, {"name": item["name"]}):
                    stage_save(organization=self.org, stage=stage)
                if "components" in item:
                    wanted = [self.s.components[slug] for slug in item["components"]]
                    if {c.pk for c in wanted} != components.get(stage.pk, set()):
                        stage_components_set(organization=self.org, stage=stage, components=wanted)
                        changed = True
            self.s.stages[(vs.slug, stage.slug)] = stage
            outcome.append((stage.pk, created, changed))
        queryset = Stage.objects.filter(organization=self.org, value_stream=vs)
        ordered, moved = self._order(queryset, [pk for pk, _c, _ch in outcome])
        if moved:
            with self.at(f"{path}.stages"):
                stages_reorder(organization=self.org, value_stream=vs, ordered_ids=ordered)
        for pk, created, changed in outcome:
            self.tally("stages", created, changed or pk in moved)

    def journeys(self, items: list[dict]) -> None:
        for i, item in enumerate(items):
            path = f"journeys[{i}]"
            journey = self.s.journeys.get(item["slug"]) or Journey(slug=item["slug"])
            values: dict[str, Any] = {"name": item["name"]}
            if "persona" in item:
                values["persona"] = item["persona"]
            if "product" in item:
                values["product_id"] = item["product"] and self.s.products[item["product"]].pk
            created, changed = self.upsert(
                path, journey, values, lambda obj: journey_save(organization=self.org, journey=obj)
            )
            self.s.journeys[journey.slug] = journey
            if "stages" in item:
                changed = self.journey_stages(path, journey, item["stages"]) or changed
            self.tally("journeys", created, changed and not created)

    def journey_stages(self, path: str, journey: Journey, items: list[dict]) -> bool:
        """Upsert the stages, their touchpoints and the stated flags; whether the
        journey's own flags changed."""
        org = self.org
        existing = {
            st.slug: st for st in JourneyStage.objects.filter(organization=org, journey=journey)
        }
        touchpoints = {
            tp.slug: tp for tp in Touchpoint.objects.filter(organization=org, journey=journey)
        }
        tp_components = _link_ids(org, TouchpointComponent, "touchpoint", "component")
        stated = {
            flag: item["slug"] for item in items for key, flag in FLAG_KEYS.items() if item.get(key)
        }
        ids, touched = [], False
        for j, item in enumerate(items):
            spath = f"{path}.stages[{j}]"
            stage = existing.get(item["slug"]) or JourneyStage(journey=journey, slug=item["slug"])
            stage.journey = journey  # so the service updates this journey's explicit flags
            created = stage.pk is None
            if not created:
                stage.refresh_from_db(fields=list(FLAGS))
            values = {"name": item["name"], "position": j}
            for key in ("emotion", "pain_points", "opportunities"):
                if key in item:
                    values[key] = item[key]
            changed = _assign(stage, values)
            set_flags = [flag for flag, slug in stated.items() if slug == stage.slug]
            moves = any(not getattr(stage, f) or f not in journey.explicit_flags for f in set_flags)
            if created or changed or moves:
                with self.at(spath):
                    journey_stage_save(organization=org, stage=stage, set_flags=set_flags)
                touched = True
            self.tally("journey_stages", created, (changed or moves) and not created)
            ids.append(stage.pk)
            if "touchpoints" in item:
                self.touchpoints(spath, stage, item["touchpoints"], touchpoints, tp_components)
        queryset = JourneyStage.objects.filter(organization=org, journey=journey)
        ordered, moved = self._order(queryset, ids)
        if moved:
            with self.at(f"{path}.stages"):
                journey_stages_reorder(organization=org, journey=journey, ordered_ids=ordered)
        journey.refresh_from_db(fields=["explicit_flags"])
        flags_changed = set(journey.explicit_flags) != set(stated)
        if flags_changed:
            # A flag no stage states any more goes back to its default.
            journey.explicit_flags = [f for f in FLAGS if f in stated]
            with self.at(path):
                journey_save(organization=org, journey=journey)
        if touched or moved or flags_changed:
            journey_flags_normalize(organization=org, journey=journey)
        return flags_changed

    def touchpoints(
        self,
        path: str,
        stage: JourneyStage,
        items: list[dict],
        by_slug: dict[str, Touchpoint],
        components: dict[int, set[int]],
    ) -> None:
        """Upsert a stage's touchpoints; they take the file's order, before the ones it
        does not name (a new touchpoint is saved last in its stage, then moved)."""
        ids = [
            self.touchpoint(f"{path}.touchpoints[{k}]", k, stage, item, by_slug, components)
            for k, item in enumerate(items)
        ]
        queryset = Touchpoint.objects.filter(organization=self.org, stage=stage)
        ordered, moved = self._order(queryset, ids)
        if moved:
            with self.at(f"{path}.touchpoints"):
                touchpoints_reorder(organization=self.org, stage=stage, ordered_ids=ordered)

    def touchpoint(
        self,
        path: str,
        position: int,
        stage: JourneyStage,
        item: dict,
        by_slug: dict[str, Touchpoint],
        components: dict[int, set[int]],
    ) -> int:
        tp = by_slug.get(item["slug"]) or Touchpoint(journey_id=stage.journey_id, slug=item["slug"])
        values: dict[str, Any] = {"stage_id": stage.pk, "name": item["name"], "position": position}
        for key in ("channel", "emotion"):
            if key in item:
                values[key] = item[key]
        if "value_stream_stage" in item:
            ref = item["value_stream_stage"]
            values["value_stream_stage_id"] = ref and self.s.stages[tuple(ref.split("/"))].pk
        created = tp.pk is None
        changed = _assign(tp, values)
        wanted = None
        if "components" in item:
            wanted = [self.s.components[slug] for slug in item["components"]]
            changed = changed or {c.pk for c in wanted} != components.get(tp.pk, set())
        if created or changed:
            with self.at(path):
                touchpoint_save(organization=self.org, touchpoint=tp, components=wanted)
        by_slug[tp.slug] = tp
        self.tally("touchpoints", created, changed and not created)
        return tp.pk

    def objectives(self, items: list[dict]) -> None:
        existing_parent = _State.parents(self.s.objectives)
        streams = _link_ids(self.org, ObjectiveValueStream, "objective", "value_stream")
        journeys = _link_ids(self.org, ObjectiveJourney, "objective", "journey")

        def parent_of(item: dict) -> str | None:
            return item["parent"] if "parent" in item else existing_parent.get(item["slug"])

        for i, item in _parents_first(items, parent_of):
            path = f"objectives[{i}]"
            objective = self.s.objectives.get(item["slug"]) or Objective(slug=item["slug"])
            values: dict[str, Any] = {"title": item["title"], "quarter": item["quarter"]}
            if "parent" in item:
                values["parent_id"] = item["parent"] and self.s.objectives[item["parent"]].pk
            if "owner_email" in item:
                values["owner_email"] = self.owner_email(item["owner_email"])
            created = objective.pk is None
            changed = _assign(objective, values)
            links: dict[str, list] = {}
            for key, objects, current in (
                ("value_streams", self.s.value_streams, streams),
                ("journeys", self.s.journeys, journeys),
            ):
                if key in item:
                    links[key] = [objects[slug] for slug in item[key]]
                    if {o.pk for o in links[key]} != current.get(objective.pk, set()):
                        changed = True
            if created or changed:
                with self.at(path):
                    objective_save(
                        organization=self.org, objective=objective, refresh=False, **links
                    )
                if changed and not created:
                    self.touched_objectives.append(objective.pk)
            self.s.objectives[objective.slug] = objective
            self.tally("objectives", created, changed and not created)
            if "key_results" in item:
                self.key_results(path, objective, item["key_results"])

    def key_results(self, path: str, objective: Objective, items: list[dict]) -> None:
        existing = {
            kr.slug: kr
            for kr in KeyResult.objects.filter(organization=self.org, objective=objective)
        }
        for k, item in enumerate(items):
            kr = existing.get(item["slug"]) or KeyResult(objective=objective, slug=item["slug"])
            values: dict[str, Any] = {
                "title": item["title"],
                "baseline": float(item["baseline"]),
                "target": float(item["target"]),
            }
            if "unit" in item:
                values["unit"] = item["unit"]
            if "weight" in item:
                values["weight"] = float(item["weight"])
            if "metric" in item:
                metric = item["metric"] or {}
                stream, journey = metric.get("value_stream"), metric.get("journey")
                values["metric_value_stream_id"] = stream and self.s.value_streams[stream].pk
                values["metric_journey_id"] = journey and self.s.journeys[journey].pk
                values["metric_key"] = metric.get("key", "")
            created, changed = self.upsert(
                f"{path}.key_results[{k}]",
                kr,
                values,
                lambda obj: key_result_save(organization=self.org, key_result=obj, refresh=False),
            )
            if created or changed:
                self.touched_key_results.append(kr.pk)
            self.tally("key_results", created, changed)


@transaction.atomic
def model_import(*, organization: Organization, data: object) -> ImportSummary:
    """Upsert the organization's model from parsed JSON: every error first, then all or nothing.

    Raises ``ModelImportError`` listing every error (each ``path: message``);
    nothing is written then.
    """
    if not isinstance(data, dict):
        raise ModelImportError([_top_level_message(data)])
    state = _State.load(organization)
    errors = _Checker(state).check(data)
    if errors:
        raise ModelImportError(errors)
    writer = _Writer(organization, state)
    writer.write(data)
    # Measured once for everything the import touched, not once per key result.
    touched = set(writer.touched_key_results) | set(
        KeyResult.objects.filter(
            organization=organization, objective__in=writer.touched_objectives
        ).values_list("pk", flat=True)
    )
    key_results_current_refresh(organization=organization, key_result_ids=sorted(touched))
    return writer.summary
