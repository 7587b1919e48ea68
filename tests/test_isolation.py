"""Isolation, complete: every operation, every role, every relation, every output.

``tests/test_route_walk.py`` proves that organization B's URLs answer 404 to
everyone in organization A. This file completes the matrix:

1. every operation of the published OpenAPI schema is one the route walk walks;
2. on A's own URLs and objects, every route and method answers as the view's
   declared role says (``org_view(role)`` for pages, ``read_role``/``write_role``
   of ``OrgScopedAPIMixin`` for the API), and never 5xx;
3. a write of A that names one of B's objects in any relation field, in the API
   or in a page's form, is refused with the field named, and changes nothing;
4. A's outputs (report files, ``export_model``, ``kpis``, the recompute, search
   and filters) hold nothing of B, with both organizations fully seeded.

Every request of 2 and every accepted control request of 3 runs in a savepoint
that is rolled back, so one route's delete never takes away another's object.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django import forms
from django.apps import apps
from django.core.management import call_command
from django.db import transaction
from django.db.models import Model, Value
from django.db.models.functions import Concat
from django.http import HttpResponse
from django.test import Client
from django.urls import resolve, reverse
from openpyxl import load_workbook
from pypdf import PdfReader
from rest_framework import serializers
from rest_framework.relations import ManyRelatedField, RelatedField

from portfolio.apis import OrgScopedAPIMixin
from portfolio.models import OrgOwned, Role, role_at_least
from portfolio.tenancy import organization_context
from tests.conftest import Tenant, client_for
from tests.test_route_walk import (
    METHODS,
    PK_KINDS_BY_NAME,
    allow_listed,
    request,
    tenant_objects,
    tenant_routes,
    url_for,
)

pytestmark = pytest.mark.django_db

# B's natural keys get this prefix (and its names this word), so that a slug or a
# name of B can never resolve in A, or be found in A's output, by coincidence.
B_PREFIX = "bravo-"
B_WORD = "Bravo"


@contextmanager
def undone() -> Iterator[None]:
    """Run a block in a savepoint that is rolled back: requests in it leave no trace."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def send(client: Client, method: str, url: str, data: Any = None, **extra: Any) -> HttpResponse:
    if method in ("post", "put", "patch"):
        return getattr(client, method)(
            url, data=json.dumps({} if data is None else data), content_type="application/json"
        )
    return getattr(client, method)(url, **extra)


def make_natural_keys_distinct(t: Tenant) -> None:
    """Prefix the slugs, keys and names of every object of ``t`` with B's marks."""
    with organization_context(t.org.pk):
        for model in apps.get_models():
            if not issubclass(model, OrgOwned):
                continue
            names = {f.name for f in model._meta.concrete_fields}
            changes: dict[str, Any] = {}
            if "slug" in names:
                changes["slug"] = Concat(Value(B_PREFIX), "slug")
            if "key" in names and model._meta.app_label == "streams":
                changes["key"] = Concat(Value(B_PREFIX), "key")
            for text in ("name", "title"):
                if text in names:
                    changes[text] = Concat(Value(f"{B_WORD} "), text)
            if changes:
                model._default_manager.filter(organization=t.org).update(**changes)


def org_state(t: Tenant) -> dict[str, tuple[int, int]]:
    """Every tenant table's row count and history count for ``t``: any write changes one."""
    state = {}
    with organization_context(t.org.pk):
        for model in apps.get_models():
            if not issubclass(model, OrgOwned) or model._meta.proxy:
                continue
            history = getattr(model, "history", None)
            records = history.filter(organization=t.org).count() if history is not None else 0
            state[model._meta.label] = (
                model._default_manager.filter(organization=t.org).count(),
                records,
            )
    return state


# --- 1. Every operation of the API schema is walked ------------------------------------


def schema_operations(client: Client) -> list[tuple[str, str]]:
    response = client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:300]
    schema = json.loads(response.content)
    return [
        (path, method)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "options", "head", "patch", "trace")
    ]


def test_every_operation_of_the_api_schema_is_walked(client, tenant_a):
    walked = {name for _route, name in tenant_routes()}
    missed = []
    for path, method in schema_operations(client):
        # Any value fills a parameter: the URL only has to resolve to its route.
        sample = re.sub(r"\{org_slug\}", "org-a", path)
        sample = re.sub(r"\{[^}]+\}", "1", sample)
        match = resolve(sample)
        route = match.route
        if method not in METHODS:
            missed.append(f"{method.upper()} {path}: the walk sends only {', '.join(METHODS)}")
        elif match.url_name not in walked and not allow_listed(route):
            missed.append(f"{method.upper()} {path} (route {match.url_name!r}) is not walked")
    assert missed == [], "\n".join(missed)


# --- 2. Every route and method, as each role of A on A's own objects ---------------------

# Pages whose writes a viewer may make, and why. Every other page's write needs
# at least the editor role, whatever role the page needs to be read.
VIEWER_WRITES = {
    "token_create": "every member creates their own API tokens",
    "token_revoke": "every member revokes their own tokens (the walk's token is the viewer's)",
}
# HTML pages are read with GET and written with POST (forms and htmx): nothing else.
PAGE_METHODS = ("get", "post")


@dataclass(frozen=True)
class Declared:
    """What a route says about itself: a page, an API view, or neither (a webhook)."""

    interface: str  # "page", "api" or "" (authenticated otherwise: no role applies)
    read_role: str = ""
    write_role: str = ""
    methods: frozenset[str] = frozenset(METHODS)

    def required(self, method: str) -> str:
        return self.read_role if method == "get" else self.write_role


def declared(name: str, url: str) -> Declared:
    func = resolve(url).func
    cls = getattr(func, "cls", None)
    if cls is not None and issubclass(cls, OrgScopedAPIMixin):
        actions = getattr(func, "actions", None)
        methods = set(actions) if actions else {m for m in METHODS if hasattr(cls, m)}
        return Declared("api", cls.read_role, cls.write_role, frozenset(methods))
    role = getattr(func, "required_role", None)
    if role is None:
        return Declared("")
    write = role if name in VIEWER_WRITES else max_role(role, Role.EDITOR)
    return Declared("page", role, write, frozenset(PAGE_METHODS))


def max_role(a: str, b: str) -> str:
    return a if role_at_least(a, b) else b


def expected(d: Declared, role: str | None, method: str) -> tuple[int, ...] | None:
    """The statuses a role may get, or None for "anything below 500"."""
    if role is None:
        return (404,)  # no membership: the organization does not exist for them
    if not d.interface:
        return None
    if not role_at_least(role, d.required(method)):
        # The API checks the role before the method; a page may do either first.
        return (403,) if d.interface == "api" else (403, 405)
    if method not in d.methods:
        return (405,)
    return None


def test_every_route_answers_each_role_of_the_organization_as_declared(
    tenant_a, tenant_b, outsider
):
    objects = tenant_objects(tenant_a)
    users = {
        Role.ADMIN: tenant_a.admin,
        Role.EDITOR: tenant_a.editor,
        Role.VIEWER: tenant_a.viewer,
        None: outsider,
    }
    clients = {role: client_for(user) for role, user in users.items()}
    before = org_state(tenant_a), org_state(tenant_b)
    failures, walked = [], 0
    for route, name in tenant_routes():
        url = url_for(name, route, tenant_a.org.slug, objects)
        d = declared(name, url)
        for method in METHODS:
            for role, client in clients.items():
                with undone():
                    status = request(client, method, url)
                walked += 1
                allowed = expected(d, role, method)
                who = role or "no membership"
                if status >= 500:
                    failures.append(f"{who} {method.upper()} {url} -> {status}")
                elif allowed is not None and status not in allowed:
                    failures.append(
                        f"{who} {method.upper()} {url} -> {status}, expected {allowed} "
                        f"({d.interface or 'no'} role {d.required(method) or '-'})"
                    )
                elif (
                    allowed is None
                    and role is not None
                    and d.interface
                    and status
                    in (
                        401,
                        403,
                        404,
                    )
                ):
                    failures.append(
                        f"{who} {method.upper()} {url} -> {status}, but the role may act "
                        f"on this existing object"
                    )
    assert failures == [], "\n".join(failures)
    assert walked >= 4 * len(METHODS) * len(tenant_routes())
    assert (org_state(tenant_a), org_state(tenant_b)) == before


# --- 3. Writes naming another organization's object ---------------------------------------


@pytest.fixture
def two_models(tenant_a, tenant_b) -> tuple[dict[str, int], dict[str, int]]:
    """The route walk's objects in A and in B, B's with natural keys of its own."""
    a_objects, b_objects = tenant_objects(tenant_a), tenant_objects(tenant_b)
    make_natural_keys_distinct(tenant_b)
    return a_objects, b_objects


def b_object_of(model: type[Model], b: Tenant) -> Model:
    with organization_context(b.org.pk):
        obj = model._default_manager.filter(organization=b.org).order_by("pk").first()
    assert obj is not None, (
        f"organization B has no {model._meta.verbose_name} to name: add one to the route "
        "walk's objects (tests/test_route_walk.py OBJECT_MAKERS)"
    )
    return obj


def relation_fields(
    serializer: serializers.Serializer, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], RelatedField, bool]]:
    """Every writable relation of a serializer, nested ones included: (path, field, many).

    A custom field documented as a serializer (``extend_schema_field``, such as a
    key result's ``metric``) is looked into through that serializer.
    """
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        if isinstance(field, ManyRelatedField):
            yield (*path, name), field.child_relation, True
        elif isinstance(field, RelatedField):
            yield (*path, name), field, False
        elif isinstance(field, serializers.Serializer):
            yield from relation_fields(field, (*path, name))
        else:
            documented = getattr(field, "_spectacular_annotation", {}).get("field")
            if isinstance(documented, serializers.Serializer):
                nested = type(documented)(context=serializer.context)
                yield from relation_fields(nested, (*path, name))


def reference(field: RelatedField, obj: Model, context: dict) -> Any:
    """How ``field`` names ``obj`` in a request body."""
    field._context = context  # an OrgRelatedField renders through its organization's keys
    return field.to_representation(obj)


def set_path(body: dict, path: tuple[str, ...], value: Any) -> dict:
    body = copy.deepcopy(body)
    target = body
    for name in path[:-1]:
        if not isinstance(target.get(name), dict):
            target[name] = {}
        target = target[name]
    target[path[-1]] = value
    return body


def error_at(answer: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(answer, dict) or name not in answer:
            return None
        answer = answer[name]
    return answer


def viewsets_with_relations() -> Iterator[tuple[str, type, type[serializers.Serializer]]]:
    from config.api_urls import router

    for _prefix, viewset, basename in router.registry:
        serializer_class = getattr(viewset, "serializer_class", None)
        if serializer_class is None or not issubclass(serializer_class, serializers.Serializer):
            continue
        if not issubclass(viewset, OrgScopedAPIMixin):
            continue
        yield basename, viewset, serializer_class


def writable_actions(viewset: type) -> list[str]:
    return [a for a in ("create", "update", "partial_update") if hasattr(viewset, a)]


def test_api_writes_naming_another_organizations_object_are_refused(tenant_a, tenant_b, two_models):
    a_objects, _ = two_models
    admin = client_for(tenant_a.admin)
    before = org_state(tenant_a), org_state(tenant_b)
    failures, checked, covered = [], 0, set()
    for basename, viewset, serializer_class in viewsets_with_relations():
        context = {"organization": tenant_a.org}
        fields = list(relation_fields(serializer_class(context=context)))
        if not fields or not writable_actions(viewset):
            continue
        kind = PK_KINDS_BY_NAME.get(f"{basename}-detail")
        assert kind, f"{basename}: no object kind in PK_KINDS_BY_NAME to read a valid body from"
        detail = reverse(
            f"{basename}-detail", kwargs={"org_slug": tenant_a.org.slug, "pk": a_objects[kind]}
        )
        shown = admin.get(detail)
        assert shown.status_code == 200, (detail, shown.status_code)
        # A's own object as the API shows it is a valid update; with a new slug and
        # name it is a valid creation.
        valid = shown.json()
        for name, new in (("slug", "iso-new"), ("name", "Iso new"), ("title", "Iso new")):
            if name in valid:
                valid[name] = new
        list_url = reverse(f"{basename}-list", kwargs={"org_slug": tenant_a.org.slug})
        targets = {"create": ("post", list_url), "update": ("put", detail)}
        targets["partial_update"] = ("patch", detail)
        for action in writable_actions(viewset):
            method, url = targets[action]
            with undone():
                control = send(admin, method, url, valid)
            if control.status_code not in (200, 201):
                failures.append(
                    f"{method.upper()} {url}: the valid body is refused: "
                    f"{control.status_code} {control.content[:300]!r}"
                )
                continue
            for path, field, many in fields:
                model = field.queryset.model if field.queryset is not None else field.model
                with organization_context(tenant_b.org.pk):  # its keys may follow relations
                    other = reference(field, b_object_of(model, tenant_b), context)
                body = set_path(valid, path, [other] if many else other)
                answer = send(admin, method, url, body)
                checked += 1
                covered.add((basename, ".".join(path)))
                message = error_at(answer.json(), path) if answer.status_code == 400 else None
                if answer.status_code != 400 or not message:
                    failures.append(
                        f"{method.upper()} {url} naming B's {model._meta.verbose_name} in "
                        f"{'.'.join(path)}: {answer.status_code} {answer.content[:300]!r}"
                    )
                elif B_WORD in json.dumps(message).replace(json.dumps(other).strip('"'), ""):
                    # Echoing the reference the caller sent is fine; showing more of B is not.
                    failures.append(f"{method.upper()} {url}: the error shows B's data: {message}")
    assert failures == [], "\n".join(failures)
    # The model's relations, each found by introspection (a floor, not the list).
    assert {("component", "team"), ("touchpoint", "value_stream_stage")} <= covered
    assert ("keyresult", "metric.value_stream") in covered
    assert checked >= 40
    assert (org_state(tenant_a), org_state(tenant_b)) == before


def _events(t: Tenant, objects: dict[str, int]) -> None:
    """A flow item and a deployment in ``t``, for events that name them."""
    from streams.ingest import events_import
    from streams.models import ValueStream

    with organization_context(t.org.pk):
        stream = ValueStream.objects.get(organization=t.org, pk=objects["value_stream"]).slug
        at = "2026-07-01T09:00:00Z"
        events_import(
            organization=t.org,
            kind="flow_items",
            rows=[{"key": "fi-1", "type": "feature", "value_stream": stream, "created_at": at}],
            source="json",
        )
        events_import(
            organization=t.org,
            kind="deployments",
            rows=[
                {
                    "key": "dep-1",
                    "value_stream": stream,
                    "environment": "production",
                    "deployed_at": at,
                    "status": "success",
                }
            ],
            source="json",
        )


def natural_keys(t: Tenant, objects: dict[str, int]) -> dict[str, str]:
    """The slugs and keys by which events and the API name ``t``'s objects."""
    from journeys.models import Journey, JourneyStage, Touchpoint
    from streams.models import Deployment, FlowItem, ValueStream

    with organization_context(t.org.pk):
        return {
            "value_stream": ValueStream.objects.get(pk=objects["value_stream"]).slug,
            "journey": Journey.objects.get(pk=objects["journey"]).slug,
            "stage": JourneyStage.objects.get(pk=objects["journey_stage"]).slug,
            "touchpoint": Touchpoint.objects.get(pk=objects["touchpoint"]).slug,
            "flow_item": FlowItem.objects.get(organization=t.org).key,
            "deployment": Deployment.objects.get(organization=t.org).key,
        }


@dataclass(frozen=True)
class Reference:
    """A write whose body names objects by a plain slug, key or id (no relation field)."""

    method: str
    route: str  # the route's name; its parameters are A's route-walk objects
    body: Callable[[dict[str, Any]], Any]  # from A's (or B's) keys and ids: the body
    fields: dict[str, str]  # a field of the body -> the kind of object it names
    error: str  # where the error names it: an error key, or "errors" (a list of lines)


AT = "2026-07-02T09:00:00Z"
REFERENCES = [
    *(
        Reference(
            "post",
            f"api_events_{kind}",
            lambda k, kind=kind, row=row: [{f: k.get(v, v) for f, v in row.items()}],
            {
                f: v
                for f, v in row.items()
                if v
                in ("value_stream", "journey", "stage", "touchpoint", "flow_item", "deployment")
            },
            "errors",
        )
        for kind, row in {
            "flow_items": {
                "key": "iso-1",
                "type": "feature",
                "value_stream": "value_stream",
                "created_at": AT,
            },
            "flow_transitions": {"key": "flow_item", "at": AT, "state": "active"},
            "deployments": {
                "key": "iso-1",
                "value_stream": "value_stream",
                "environment": "production",
                "deployed_at": AT,
                "status": "success",
            },
            "changes": {
                "key": "iso-1",
                "value_stream": "value_stream",
                "committed_at": AT,
                "deployment": "deployment",
            },
            "incidents": {
                "key": "iso-1",
                "value_stream": "value_stream",
                "opened_at": AT,
                "deployment": "deployment",
            },
            "journey_events": {
                "key": "iso-1",
                "journey": "journey",
                "type": "stage_entered",
                "at": AT,
                "customer": "c-1",
                "stage": "stage",
                "touchpoint": "touchpoint",
            },
        }.items()
    ),
    *(
        Reference(
            "post",
            "manualkpivalue-list",
            lambda k, subject=subject: {
                "subject_type": subject,
                "subject": k[subject],
                "key": "flow_velocity" if subject == "value_stream" else "nps",
                "period_kind": "quarter",
                "period_start": "2026-07-01",
                "value": 3,
            },
            {"subject": subject},
            "subject",
        )
        for subject in ("value_stream", "journey")
    ),
    Reference(
        "post", "layer-reorder", lambda k: {"order": k["layers"]}, {"order": "layer"}, "order"
    ),
    Reference(
        "post",
        "valuestream-stages-reorder",
        lambda k: {"order": [k["vs_stage_id"]]},
        {"order": "vs_stage_id"},
        "order",
    ),
    Reference(
        "post",
        "journey-stages-reorder",
        lambda k: {"order": [k["journey_stage_id"]]},
        {"order": "journey_stage_id"},
        "order",
    ),
]


def reference_keys(t: Tenant, objects: dict[str, int]) -> dict[str, Any]:
    from portfolio.models import Layer

    with organization_context(t.org.pk):
        layers = list(
            Layer.objects.filter(organization=t.org)
            .order_by("position")
            .values_list("pk", flat=True)
        )
    return {
        **natural_keys(t, objects),
        "layers": layers,
        "vs_stage_id": objects["vs_stage"],
        "journey_stage_id": objects["journey_stage"],
    }


def test_api_writes_naming_another_organizations_keys_are_refused(tenant_a, tenant_b):
    """The writes that name objects by a slug, key or id of their own (events, manual KPI
    values, reorders) refuse B's as unknown, naming the field, and change nothing."""
    a_objects, b_objects = tenant_objects(tenant_a), tenant_objects(tenant_b)
    _events(tenant_a, a_objects)
    _events(tenant_b, b_objects)
    make_natural_keys_distinct(tenant_b)
    mine, theirs = reference_keys(tenant_a, a_objects), reference_keys(tenant_b, b_objects)
    schema_routes = {name for _route, name in tenant_routes() if name.startswith("api_events_")}
    assert schema_routes <= {r.route for r in REFERENCES}, "an event kind has no Reference"
    admin = client_for(tenant_a.admin)
    before = org_state(tenant_a), org_state(tenant_b)
    failures = []
    for ref in REFERENCES:
        kwargs = {"org_slug": tenant_a.org.slug}
        if ref.route.endswith("stages-reorder"):
            kwargs["pk"] = a_objects["value_stream" if "valuestream" in ref.route else "journey"]
        url = reverse(ref.route, kwargs=kwargs)
        with undone():
            control = send(admin, ref.method, url, ref.body(mine))
        if control.status_code not in (200, 201):
            failures.append(f"{url}: the valid body is refused: {control.content[:300]!r}")
            continue
        for field, kind in ref.fields.items():
            keys = dict(mine)
            if kind == "layer":
                # One of A's layers swapped for one of B's.
                keys["layers"] = [*mine["layers"][:-1], theirs["layers"][0]]
            else:
                keys[kind] = theirs[kind]
            answer = send(admin, ref.method, url, ref.body(keys))
            body = answer.json() if answer.status_code == 400 else {}
            named = (
                # "item 1: value stream 'bravo-walk-vs' is unknown"
                any(str(theirs[kind]) in line for line in body.get("errors", []))
                if ref.error == "errors"
                else bool(body.get(ref.error))
            )
            if not named:
                failures.append(
                    f"{url} naming B's {kind} in {field}: "
                    f"{answer.status_code} {answer.content[:300]!r}"
                )
    assert failures == [], "\n".join(failures)
    assert (org_state(tenant_a), org_state(tenant_b)) == before


# --- 4. A's outputs, with both organizations fully seeded -----------------------------------


def command_output(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def report_text(tmp_path: Path, fmt: str) -> str:
    """A's quarterly report file of ``fmt``, as text."""
    path = tmp_path / f"a.{fmt}"
    args = ("--org", "org-a", "--quarter", "2026-Q3", "--format", fmt, "-o", str(path))
    command_output("export_report", *args)
    if fmt == "pdf":
        return "\n".join(page.extract_text() for page in PdfReader(path).pages)
    if fmt == "xlsx":
        book = load_workbook(path, read_only=True)
        return "\n".join(
            str(cell)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
            for cell in row
            if cell is not None
        )
    with path.open(newline="", encoding="utf-8") as f:
        return "\n".join(",".join(row) for row in csv.reader(f))


def snapshots(t: Tenant) -> list[dict[str, Any]]:
    from metrics.models import KpiSnapshot

    with organization_context(t.org.pk):
        return list(KpiSnapshot.objects.filter(organization=t.org).order_by("pk").values())


def b_marks(text: str) -> list[str]:
    """B's names and slugs found in ``text``: every one of B's carries B's mark."""
    return sorted(set(re.findall(rf"\S*(?:{B_WORD}|{B_PREFIX})\S*", text, re.IGNORECASE)))


def test_outputs_of_one_organization_hold_nothing_of_the_other(tenant_a, tenant_b, tmp_path):
    from tests.metrics.report_history import Q3, add_late_item, build_history

    build_history(tenant_a.org)
    kpis_args = ("kpis", "--org", "org-a", "--from", Q3[0], "--to", Q3[1])
    alone = json.loads(command_output(*kpis_args)), command_output("export_model", "--org", "org-a")
    # B: the same history, one item more (a leak would change A's figures), and
    # names and slugs of its own.
    b = build_history(tenant_b.org)
    add_late_item(tenant_b.org, b["claims"])
    make_natural_keys_distinct(tenant_b)
    command_output("recompute_kpis", "--org", "org-b")
    b_snapshots = snapshots(tenant_b)
    assert b_snapshots

    # The commands answer as they did before B existed.
    kpis = json.loads(command_output(*kpis_args))
    assert (kpis, command_output("export_model", "--org", "org-a")) == alone
    assert b_marks(json.dumps(kpis)) == []
    # So does the API, to each role.
    for user in (tenant_a.admin, tenant_a.viewer):
        answer = client_for(user).get(
            f"/api/v1/orgs/{tenant_a.org.slug}/kpis/", {"from": Q3[0], "to": Q3[1]}
        )
        assert answer.status_code == 200
        assert answer.json() == alone[0]
    # The recompute of A leaves B's snapshots exactly as they were.
    command_output("recompute_kpis", "--org", "org-a")
    assert snapshots(tenant_b) == b_snapshots
    assert snapshots(tenant_a)
    # The quarterly report in every format.
    for fmt in ("csv", "xlsx", "pdf"):
        text = report_text(tmp_path, fmt)
        assert "claims" in text.lower(), f"the {fmt} report does not name A's streams"
        assert b_marks(text) == [], f"the {fmt} report shows B's {b_marks(text)}"


def test_search_and_filters_find_nothing_of_another_organization(tenant_a, tenant_b):
    a_objects, b_objects = tenant_objects(tenant_a), tenant_objects(tenant_b)
    make_natural_keys_distinct(tenant_b)
    admin = client_for(tenant_a.admin)
    api = f"/api/v1/orgs/{tenant_a.org.slug}/"
    pages = f"/o/{tenant_a.org.slug}/"
    failures = []
    for url, params in (
        # Searches by part of a name or slug.
        (f"{pages}streams/", {"q": B_WORD}),
        (f"{pages}streams/", {"q": "walk"}),
        *((f"{pages}portfolio/{kind}/", {"q": "walk"}) for kind in ("teams", "components")),
        (f"{api}value-streams/", {"search": "walk"}),
        (f"{api}journeys/", {"search": "walk"}),
        # Filters naming B's objects: by slug in the API, by id on the OKR board.
        (f"{api}components/", {"team": f"{B_PREFIX}walk-team"}),
        (f"{api}objectives/", {"value_stream": f"{B_PREFIX}walk-vs"}),
        (f"{api}touchpoints/", {"stage": f"{B_PREFIX}walk-j/{B_PREFIX}apply"}),
        (f"{pages}okrs/", {"value_stream": b_objects["value_stream"]}),
        (f"{pages}okrs/", {"journey": b_objects["journey"]}),
        (f"{pages}streams/", {"parent": f"{B_PREFIX}walk-vs"}),
    ):
        answer = admin.get(url, params)
        text = answer.content.decode()
        for typed in params.values():  # the page may echo what was typed: that is no leak
            text = text.replace(str(typed), "")
        shown = b_marks(text)
        if answer.status_code >= 500 or answer.status_code in (401, 403, 404):
            failures.append(f"GET {url} {params} -> {answer.status_code}")
        elif shown:
            failures.append(f"GET {url} {params} shows B's {shown}")
    assert failures == [], "\n".join(failures)
    assert a_objects  # A's own objects are there to be found


@dataclass(frozen=True)
class FormPost:
    """A page's form that names objects, posted to ``route`` (on A's route-walk objects)."""

    route: str
    body: Callable[[dict[str, int]], dict[str, Any]]  # from A's object ids
    relations: dict[str, tuple[str, str]]  # field -> (object kind, how the value is written)
    form: type[forms.BaseForm] | None = None  # whose ModelChoiceFields it must cover
    htmx: bool = False  # posted by htmx: an error comes back with 200, in place


def _entity(name: str, **more: Callable[[dict[str, int]], Any]) -> Callable:
    return lambda o: {
        "name": f"Iso {name}",
        "slug": f"iso-{name}",
        **{k: f(o) for k, f in more.items()},
    }


def _form_posts() -> list[FormPost]:
    from journeys.forms import JourneyForm, TouchpointForm
    from portfolio.forms import (
        ComponentForm,
        KeyResultForm,
        LinkForm,
        ObjectiveForm,
        ProductForm,
    )
    from streams.forms import ValueStreamForm

    pk = "{}"
    product = _entity("product", family=lambda o: o["family"], layer=lambda o: o["layer"])
    component = _entity(
        "component",
        kind=lambda o: "service",
        layer=lambda o: o["layer"],
        team=lambda o: o["team"],
        product=lambda o: o["product"],
    )
    stream = _entity("stream", kind=lambda o: "team", parent=lambda o: "")
    journey = _entity("journey", persona=lambda o: "", product=lambda o: o["product"])

    def objective(o: dict[str, int]) -> dict[str, Any]:
        return {
            "title": "Iso objective",
            "slug": "iso-objective",
            "quarter": "2026-Q3",
            "owner_email": "",
            "parent": "",
            "value_streams": [o["value_stream"]],
            "journeys": [o["journey"]],
        }

    def key_result(o: dict[str, int]) -> dict[str, Any]:
        return {
            "title": "Iso key result",
            "slug": "iso-kr",
            "baseline": 10,
            "target": 5,
            "unit": "",
            "weight": 1,
            "measured_from": f"value_stream:{o['value_stream']}",
            "metric_key": "flow_time_median_days",
        }

    def touchpoint(o: dict[str, int]) -> dict[str, Any]:
        return {
            "name": "Iso touchpoint",
            "stage": o["journey_stage"],
            "channel": "web",
            "emotion": "",
            "value_stream_stage": o["vs_stage"],
            "components": [o["component"]],
        }

    def manual(o: dict[str, int]) -> dict[str, Any]:
        return {
            "subject": f"value_stream:{o['value_stream']}",
            "key": "flow_velocity",
            "period_kind": "quarter",
            "period_start": "2026-07-01",
            "value": "3",
            "note": "",
        }

    product_rel = {"family": ("family", pk), "layer": ("layer", pk)}
    component_rel = {"layer": ("layer", pk), "team": ("team", pk), "product": ("product", pk)}
    objective_rel = {
        "parent": ("objective", pk),
        "value_streams": ("value_stream", pk),
        "journeys": ("journey", pk),
    }
    touchpoint_rel = {
        "stage": ("journey_stage", pk),
        "value_stream_stage": ("vs_stage", pk),
        "components": ("component", pk),
    }
    kr_rel = {"measured_from": ("value_stream", "value_stream:{}")}
    return [
        FormPost("portfolio_products", product, product_rel, ProductForm),
        FormPost("portfolio_products_edit", product, product_rel, ProductForm),
        FormPost("portfolio_components", component, component_rel, ComponentForm),
        FormPost("portfolio_components_edit", component, component_rel, ComponentForm),
        FormPost("stream_list", stream, {"parent": ("value_stream", pk)}, ValueStreamForm),
        FormPost("stream_detail", stream, {"parent": ("value_stream", pk)}, ValueStreamForm),
        FormPost("objective_create", objective, objective_rel, ObjectiveForm),
        FormPost("objective_edit", objective, objective_rel, ObjectiveForm),
        FormPost("key_result_create", key_result, kr_rel, KeyResultForm),
        FormPost("key_result_edit", key_result, kr_rel, KeyResultForm),
        FormPost("journey_create", journey, {"product": ("product", pk)}, JourneyForm),
        FormPost("journey_edit", journey, {"product": ("product", pk)}, JourneyForm),
        FormPost("journey_touchpoint_add", touchpoint, touchpoint_rel, TouchpointForm),
        FormPost("journey_touchpoint_edit", touchpoint, touchpoint_rel, TouchpointForm),
        FormPost(
            "objective_value_stream_link",
            lambda o: {"target": o["value_stream"]},
            {"target": ("value_stream", pk)},
            LinkForm,
            htmx=True,
        ),
        FormPost(
            "objective_journey_link",
            lambda o: {"target": o["journey"]},
            {"target": ("journey", pk)},
            LinkForm,
            htmx=True,
        ),
        FormPost(
            "stream_objective_link",
            lambda o: {"target": o["objective"]},
            {"target": ("objective", pk)},
            LinkForm,
            htmx=True,
        ),
        FormPost(
            "stage_components",
            lambda o: {"components": [o["component"]]},
            {"components": ("component", pk)},
            htmx=True,
        ),
        FormPost("manual_kpis", manual, {"subject": ("value_stream", "value_stream:{}")}),
    ]


def has_error(response: HttpResponse, field: str | None = None) -> bool:
    """Whether the page came back with an error: a bound form's on ``field`` (on any
    field when None), or the page's own error message (pages without a form)."""
    for context in response.context or []:
        values = context.flatten() if hasattr(context, "flatten") else dict(context)
        for key, value in values.items():
            bound = isinstance(value, forms.BaseForm) and value.is_bound
            if bound and value.errors and (field is None or field in value.errors):
                return True
            if isinstance(key, str) and key.endswith(("error", "errors")) and value:
                return True
    return False


def test_form_posts_naming_another_organizations_object_are_refused(tenant_a, tenant_b):
    import journeys.forms
    import portfolio.forms
    import streams.forms

    a_objects, b_objects = tenant_objects(tenant_a), tenant_objects(tenant_b)
    posts = _form_posts()
    # Every form with a choice of the organization's objects is posted here.
    covered = {(p.form, field) for p in posts for field in p.relations}
    for module in (portfolio.forms, streams.forms, journeys.forms):
        for form in vars(module).values():
            if not (isinstance(form, type) and issubclass(form, forms.BaseForm)):
                continue
            for name, field in form.base_fields.items():
                model = getattr(getattr(field, "queryset", None), "model", None)
                if not isinstance(field, forms.ModelChoiceField) or form.__name__.endswith(
                    "FilterForm"
                ):
                    continue
                assert (form, name) in covered, (
                    f"{form.__name__}.{name} chooses {model and model._meta.verbose_name}: "
                    "add the page that posts it to _form_posts()"
                )
    routes = {name: route for route, name in tenant_routes()}
    admin = client_for(tenant_a.admin)
    before = org_state(tenant_a), org_state(tenant_b)
    failures = []
    for post in posts:
        url = url_for(post.route, routes[post.route], tenant_a.org.slug, a_objects)
        headers = {"HTTP_HX_REQUEST": "true"} if post.htmx else {}
        valid = post.body(a_objects)
        with undone():
            control = admin.post(url, valid, **headers)
        if control.status_code not in (200, 302) or has_error(control):
            failures.append(f"POST {url}: the valid form is refused ({control.status_code})")
            continue
        for field, (kind, written) in post.relations.items():
            other = written.format(b_objects[kind])
            body = {**valid, field: [other] if isinstance(valid.get(field), list) else other}
            answer = admin.post(url, body, **headers)
            if answer.status_code not in ((200, 400) if post.htmx else (400,)) or not has_error(
                answer, field
            ):
                failures.append(f"POST {url} naming B's {kind} in {field}: {answer.status_code}")
            elif b_marks(answer.content.decode()):
                failures.append(
                    f"POST {url}: the page shows B's {b_marks(answer.content.decode())}"
                )
    assert failures == [], "\n".join(failures)
    assert (org_state(tenant_a), org_state(tenant_b)) == before
