"""Every route, every role: another organization's data answers exactly like missing data.

The test enumerates every URL pattern of the project. A pattern with an
``org_slug`` is tenant-scoped and is walked with every HTTP method by every
member of organization A (admin, editor, viewer) and by a user with no
membership, against organization B:

1. B's own URLs (B's slug and B's objects) answer 404;
2. A's URLs naming B's objects answer exactly what they answer for an object
   that does not exist (404, or 403/405 when the role or method may not act),
   and never succeed;

and nothing of B changes. Every other pattern must be on ``NOT_TENANT_SCOPED``
with the reason it carries no organization's data. A new route that is in
neither place fails the test, as does a URL parameter with no object to fill it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import connections
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from config import database
from portfolio.models import ApiToken, AuditEvent, Invitation, Membership
from portfolio.services import api_token_create
from portfolio.tenancy import organization_context
from tests.conftest import Tenant, client_for
from tests.factories import invite

METHODS = ("get", "post", "put", "patch", "delete")
MISSING_ID = 2_000_000_000

# Routes that are not tenant-scoped, and why they show no organization's data.
NOT_TENANT_SCOPED = {
    "": "the user's own organizations, read through their memberships",
    "accounts/": "login, logout and password flows of the signed-in user",
    "invitations/<str:token>/": "one invitation, found by its secret link only",
    "api/v1/schema/": "the OpenAPI schema, the same for everyone",
    "api/v1/docs/": "the API docs page, the same for everyone",
    "api/v1/orgs/": "the caller's own organizations (a token: its own one)",
    "admin/": "the platform admin, for superusers only, with no tenant models",
}


def walk(patterns: list, prefix: str = "") -> Iterator[tuple[str, str | None]]:
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            yield route, p.name


def params_of(route: str) -> list[str]:
    return re.findall(r"<(?:\w+:)?(\w+)>", route) + re.findall(r"\(\?P<(\w+)>", route)


# Routes of one organization authenticated by its shared secret (a signature over
# the body), not by a membership: walked by
# test_signed_routes_answer_alike_for_real_and_unknown_organizations instead.
SIGNED_ROUTES = {
    "hooks/<str:org_slug>/github/": "GitHub webhook deliveries, signed with the org's secret",
    "hooks/<str:org_slug>/jira/": "Jira webhook deliveries, signed with the org's secret",
}

# Of those, the ones whose whole subtree is covered by the reason.
NOT_TENANT_SCOPED_PREFIXES = ("accounts/", "admin/")


def allow_listed(route: str) -> bool:
    return route in NOT_TENANT_SCOPED or route.startswith(NOT_TENANT_SCOPED_PREFIXES)


def _membership(t: Tenant) -> int:
    with organization_context(t.org.pk):
        return Membership.objects.get(organization=t.org, user=t.viewer).pk


def _invitation(t: Tenant) -> int:
    return invite(t.org, f"walk@{t.org.slug}.example", by=t.admin).invitation.pk


def _token(t: Tenant) -> int:
    with organization_context(t.org.pk):
        return api_token_create(organization=t.org, user=t.viewer, name="walk").token.pk


def _webhook_route(t: Tenant) -> int:
    from streams.models import ValueStream
    from streams.webhooks import webhook_route_create

    with organization_context(t.org.pk):
        stream = ValueStream.objects.get(organization=t.org, pk=_model(t)["value_stream"])
        return webhook_route_create(
            organization=t.org, provider="github", source="walk/repo", value_stream=stream
        ).pk


def _audit_event(t: Tenant) -> int:
    from portfolio.audit import audit_record
    from portfolio.models import AuditAction

    with organization_context(t.org.pk):
        return audit_record(
            organization=t.org, actor=t.admin, action=AuditAction.LOGIN, target=t.admin.email
        ).pk


def _upload(t: Tenant) -> int:
    from streams.models import EventKind, EventUpload

    # A row is enough: the walk never runs the import, so no file is stored.
    with organization_context(t.org.pk):
        return EventUpload.objects.create(
            organization=t.org,
            kind=EventKind.FLOW_ITEMS,
            original_name="walk.csv",
            file=f"uploads/{t.org.pk}/walk.csv",
            size=0,
            uploaded_by=t.editor,
        ).pk


_MODELS: dict[int, dict[str, int]] = {}


def _model(t: Tenant) -> dict[str, int]:
    """One object of each model entity in tenant ``t`` (built once per tenant)."""
    if t.org.pk in _MODELS:
        return _MODELS[t.org.pk]
    from journeys.models import Journey, JourneyStage, Touchpoint
    from journeys.services import journey_save, journey_stage_save, touchpoint_save
    from portfolio.entities import entity_save
    from portfolio.models import (
        Component,
        KeyResult,
        Layer,
        Objective,
        Product,
        ProductFamily,
        Team,
    )
    from portfolio.services import key_result_save, objective_save
    from streams.models import ValueStream
    from streams.services import stage_add, stage_components_set, value_stream_save

    org = t.org
    with organization_context(org.pk):
        layer = Layer.objects.filter(organization=org).first()
        team = entity_save(Team(slug="walk-team", name="Walk team"), organization=org)
        family = entity_save(ProductFamily(slug="walk-family", name="Family"), organization=org)
        product = entity_save(
            Product(slug="walk-product", name="Product", family=family, layer=layer),
            organization=org,
        )
        component = entity_save(
            Component(slug="walk-api", name="API", layer=layer, team=team, product=product),
            organization=org,
        )
        stream = value_stream_save(
            organization=org, value_stream=ValueStream(slug="walk-vs", name="Walk stream")
        )
        stage = stage_add(organization=org, value_stream=stream, name="Build")
        stage_components_set(organization=org, stage=stage, components=[component])
        journey = journey_save(organization=org, journey=Journey(slug="walk-j", name="Journey"))
        jstage = journey_stage_save(
            organization=org, stage=JourneyStage(journey=journey, name="Apply")
        )
        touchpoint = touchpoint_save(
            organization=org,
            touchpoint=Touchpoint(stage=jstage, name="Web form", value_stream_stage=stage),
            components=[component],
        )
        objective = objective_save(
            organization=org,
            objective=Objective(slug="walk-o", title="Objective", quarter="2026-Q3"),
            value_streams=[stream],
        )
        key_result = key_result_save(
            organization=org,
            key_result=KeyResult(
                objective=objective,
                slug="walk-kr",
                title="KR",
                baseline=10,
                target=5,
                metric_value_stream=stream,
                metric_key="flow_time_median_days",
            ),
        )
    _MODELS[org.pk] = {
        "layer": layer.pk,
        "team": team.pk,
        "family": family.pk,
        "product": product.pk,
        "component": component.pk,
        "value_stream": stream.pk,
        "vs_stage": stage.pk,
        "journey": journey.pk,
        "journey_stage": jstage.pk,
        "touchpoint": touchpoint.pk,
        "objective": objective.pk,
        "key_result": key_result.pk,
    }
    return _MODELS[org.pk]


def _of_model(kind: str) -> Callable[[Tenant], int]:
    return lambda t: _model(t)[kind]


def _check_in(t: Tenant) -> int:
    from portfolio.models import KeyResult, Objective
    from portfolio.okrs import check_in_create
    from portfolio.services import key_result_save

    with organization_context(t.org.pk):
        objective = Objective.objects.get(organization=t.org, pk=_model(t)["objective"])
        manual, _ = KeyResult.objects.get_or_create(
            organization=t.org,
            objective=objective,
            slug="walk-manual",
            defaults={"title": "Manual", "baseline": 0, "target": 10},
        )
        key_result_save(organization=t.org, key_result=manual)
        check_in = check_in_create(organization=t.org, key_result=manual, value=3, confidence=7)
    return check_in.pk


def _report_export(t: Tenant) -> int:
    from metrics.models import ExportStatus, ReportExport, ReportFile, ReportFormat

    # A finished export with a file of each format (each download route then has
    # one to answer): the walk never builds a report.
    with organization_context(t.org.pk):
        export = ReportExport.objects.create(
            organization=t.org,
            quarter="2026-Q3",
            formats=list(ReportFormat.values),
            status=ExportStatus.DONE,
            progress=100,
            requested_by=t.editor,
        )
        for fmt in ReportFormat.values:
            ReportFile.objects.create(
                organization=t.org,
                export=export,
                format=fmt,
                filename=f"walk.{fmt}",
                content=b"x",
                size=1,
            )
    return export.pk


def _manual_kpi(t: Tenant) -> int:
    import datetime as dt

    from journeys.models import Journey
    from metrics.manual import manual_value_set

    with organization_context(t.org.pk):
        journey = Journey.objects.get(organization=t.org, pk=_model(t)["journey"])
        manual = manual_value_set(
            organization=t.org,
            subject=journey,
            key="nps",
            period_kind="quarter",
            period_start=dt.date(2026, 7, 1),
            value=31.5,
        )
    return manual.pk


# Object kind -> how to make one in a tenant (returns its id). Add a kind here
# when a route names a new kind of object.
OBJECT_MAKERS: dict[str, Callable[[Tenant], int]] = {
    "membership": _membership,
    "invitation": _invitation,
    "token": _token,
    "upload": _upload,
    "manual_kpi": _manual_kpi,
    "report_export": _report_export,
    "check_in": _check_in,
    "webhook_route": _webhook_route,
    "audit_event": _audit_event,
    **{
        kind: _of_model(kind)
        for kind in (
            "layer",
            "team",
            "family",
            "product",
            "component",
            "value_stream",
            "vs_stage",
            "journey",
            "journey_stage",
            "touchpoint",
            "objective",
            "key_result",
        )
    },
}


def tenant_objects(t: Tenant) -> dict[str, int]:
    """One object of each kind a URL can name, in tenant ``t``."""
    return {kind: make(t) for kind, make in OBJECT_MAKERS.items()}


# URL parameter -> the kind of object it names. ``pk`` depends on the route.
PARAM_KINDS: dict[str, str] = {
    "membership_id": "membership",
    "invitation_id": "invitation",
    "token_id": "token",
    "upload_id": "upload",
    "layer_id": "layer",
    "team_id": "team",
    "family_id": "family",
    "product_id": "product",
    "component_id": "component",
    "value_stream_id": "value_stream",
    "vs_stage_id": "vs_stage",
    "journey_id": "journey",
    "journey_stage_id": "journey_stage",
    "touchpoint_id": "touchpoint",
    "objective_id": "objective",
    "key_result_id": "key_result",
    "manual_kpi_id": "manual_kpi",
    "export_id": "report_export",
    "check_in_id": "check_in",
    "webhook_route_id": "webhook_route",
}
PK_KINDS_BY_NAME: dict[str, str] = {
    "member-detail": "membership",
    "invitation-detail": "invitation",
    # The model's API (config/api_urls.py): each router basename's object kind.
    **{
        f"{basename}-{route}": kind
        for basename, kind in {
            "layer": "layer",
            "team": "team",
            "productfamily": "family",
            "product": "product",
            "component": "component",
            "valuestream": "value_stream",
            "stage": "vs_stage",
            "journey": "journey",
            "journeystage": "journey_stage",
            "touchpoint": "touchpoint",
            "objective": "objective",
            "keyresult": "key_result",
        }.items()
        for route in ("detail", "history")
    },
    "manualkpivalue-detail": "manual_kpi",
    "reportexport-detail": "report_export",
    "checkin-detail": "check_in",
    "auditevent-detail": "audit_event",
    "valuestream-stages-reorder": "value_stream",
    "journey-stages-reorder": "journey",
}


def kind_of(name: str | None, param: str) -> str:
    if param == "pk" and name in PK_KINDS_BY_NAME:
        return PK_KINDS_BY_NAME[name]
    if param in PARAM_KINDS:
        return PARAM_KINDS[param]
    raise AssertionError(
        f"route {name!r} has a parameter {param!r} that the route walk cannot fill: "
        "add its object kind to PARAM_KINDS or PK_KINDS_BY_NAME"
    )


def tenant_routes() -> list[tuple[str, str]]:
    routes = []
    for route, name in walk(get_resolver().url_patterns):
        if "org_slug" in params_of(route) and route not in SIGNED_ROUTES:
            assert name, f"tenant route {route} needs a name so the walk can reverse it"
            routes.append((route, name))
    return routes


def test_every_route_is_walked_or_allow_listed():
    uncovered = []
    for route, _name in walk(get_resolver().url_patterns):
        if "org_slug" not in params_of(route) and not allow_listed(route):
            uncovered.append(route)
    assert uncovered == [], (
        f"routes neither tenant-scoped (with <org_slug>) nor on NOT_TENANT_SCOPED: {uncovered}"
    )
    assert len(tenant_routes()) >= 10
    routes = {route for route, _name in walk(get_resolver().url_patterns)}
    assert set(SIGNED_ROUTES) <= routes, f"stale SIGNED_ROUTES: {set(SIGNED_ROUTES) - routes}"


def url_for(
    name: str, route: str, slug: str, objects: dict[str, int], override: int | None = None
) -> str:
    kwargs: dict[str, object] = {"org_slug": slug}
    for param in params_of(route):
        if param != "org_slug":
            kwargs[param] = override if override is not None else objects[kind_of(name, param)]
    return reverse(name, kwargs=kwargs)


def b_state(b: Tenant) -> tuple:
    with organization_context(b.org.pk):
        return (
            sorted(Membership.objects.filter(organization=b.org).values_list("pk", "role")),
            sorted(Invitation.objects.filter(organization=b.org).values_list("pk", "revoked_at")),
            sorted(ApiToken.objects.filter(organization=b.org).values_list("pk", "revoked_at")),
            # Nothing done to B is recorded in its audit log either.
            AuditEvent.objects.filter(organization=b.org).count(),
            # Every write to the model leaves a history record.
            [m.history.filter(organization=b.org).count() for m in _model_entity_classes()],
        )


def _model_entity_classes() -> list[type]:
    from django.apps import apps

    from portfolio.models import ModelEntity

    return [m for m in apps.get_models() if issubclass(m, ModelEntity)]


def request(client, method: str, url: str) -> int:
    send: Callable = getattr(client, method)
    if method in ("post", "put", "patch"):
        return send(url, data={}, content_type="application/json").status_code
    return send(url).status_code


ROLES = ("admin", "editor", "viewer", "no membership")


def walk_as_members_of_a(
    tenant_a: Tenant, tenant_b: Tenant, outsider, roles: tuple[str, ...] = ROLES
) -> None:
    a_objects = tenant_objects(tenant_a)
    b_objects = tenant_objects(tenant_b)
    before = b_state(tenant_b)
    users = {
        "admin": tenant_a.admin,
        "editor": tenant_a.editor,
        "viewer": tenant_a.viewer,
        "no membership": outsider,
    }
    users = {who: user for who, user in users.items() if who in roles}
    failures = []
    walked = 0
    for who, user in users.items():
        client = client_for(user)
        for route, name in tenant_routes():
            has_objects = len(params_of(route)) > 1
            for method in METHODS:
                # 1. B's slug, B's objects: 404, as for an organization that does not exist.
                url = url_for(name, route, tenant_b.org.slug, b_objects)
                status = request(client, method, url)
                walked += 1
                if status != 404:
                    failures.append(f"{who} {method.upper()} {url} -> {status}, expected 404")
                if not has_objects or who == "no membership":
                    continue
                # 2. A's slug naming B's objects: exactly like a missing object.
                url = url_for(name, route, tenant_a.org.slug, b_objects)
                missing = url_for(name, route, tenant_a.org.slug, a_objects, override=MISSING_ID)
                status, expected = request(client, method, url), request(client, method, missing)
                walked += 1
                if status != expected or status not in (403, 404, 405):
                    failures.append(
                        f"{who} {method.upper()} {url} -> {status}; a missing object -> {expected}"
                    )
    assert failures == [], "\n".join(failures)
    assert walked > 200
    assert b_state(tenant_b) == before


@pytest.mark.django_db
def test_other_organizations_routes_answer_404_for_every_role(tenant_a, tenant_b, outsider):
    walk_as_members_of_a(tenant_a, tenant_b, outsider)


@contextmanager
def row_level_security_bypassed() -> Iterator[None]:
    """Serve requests as the provisioning role, which RLS does not bind.

    With the database wall out of the way, the walk proves that the ORM
    scoping (the middleware, the view helpers, the API mixin) keeps
    organizations apart on its own.
    """
    srv = database.server()
    settings_dict = connections["default"].settings_dict
    saved = settings_dict["USER"], settings_dict["PASSWORD"]
    connections["default"].close()
    settings_dict["USER"], settings_dict["PASSWORD"] = srv.admin_user, srv.admin_password
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
            )
            if not cursor.fetchone()[0]:
                pytest.fail(
                    f"this test needs DATABASE_URL's user ({srv.admin_user}) to be a superuser "
                    "or BYPASSRLS, to check the ORM scoping without row-level security"
                )
        yield
    finally:
        connections["default"].close()
        settings_dict["USER"], settings_dict["PASSWORD"] = saved


@pytest.mark.django_db(transaction=True)
def test_orm_scoping_alone_keeps_organizations_apart(tenant_a, tenant_b, outsider):
    with row_level_security_bypassed():
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT count(DISTINCT organization_id) FROM portfolio_membership")
            assert cursor.fetchone()[0] == 2, (
                "RLS is not bypassed: the walk would prove nothing new"
            )
        # The admin may do everything a member may, so every lookup the ORM must
        # scope runs (an editor or a viewer stops at the role check on many
        # routes); the walk with row-level security above covers every role.
        walk_as_members_of_a(tenant_a, tenant_b, outsider, roles=("admin", "no membership"))


@pytest.mark.django_db
def test_anonymous_visitors_learn_nothing_about_organizations(client, tenant_a):
    """Signed out, an existing organization and a missing one answer alike."""
    objects = tenant_objects(tenant_a)
    for route, name in tenant_routes():
        for method in METHODS:
            real = request(client, method, url_for(name, route, tenant_a.org.slug, objects))
            fake = request(client, method, url_for(name, route, "no-such-org", objects))
            assert real == fake, f"{method.upper()} {route}: {real} vs {fake}"
            # Pages send the visitor to sign in; the API answers 401 or 403.
            allowed = (401, 403) if route.startswith("api/") else (302,)
            assert real in allowed, f"{method.upper()} {route} -> {real}, expected {allowed}"


@pytest.mark.django_db
def test_signed_routes_answer_alike_for_real_and_unknown_organizations(client, tenant_a):
    """A webhook endpoint of a real organization (with its secrets set) and one of an
    organization that does not exist answer the same status and body to every
    method, unsigned, signed with a wrong secret, and with a member's session."""
    from streams.webhooks import webhook_secret_rotate

    with organization_context(tenant_a.org.pk):
        for provider in ("github", "jira"):
            webhook_secret_rotate(organization=tenant_a.org, provider=provider, actor=None)
    signed = {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + "0" * 64, "HTTP_X_HUB_SIGNATURE": "sha256=0"}
    member = client_for(tenant_a.admin)
    names = dict(walk(get_resolver().url_patterns))
    for route in SIGNED_ROUTES:
        for who, c in (("anonymous", client), ("member", member)):
            for method in METHODS:
                answers = []
                for slug in (tenant_a.org.slug, "no-such-org"):
                    url = reverse(names[route], kwargs={"org_slug": slug})
                    send: Callable = getattr(c, method)
                    if method in ("post", "put", "patch"):
                        answer = send(url, data=b"{}", content_type="application/json", **signed)
                    else:
                        answer = send(url, **signed)
                    answers.append((answer.status_code, answer.content))
                assert answers[0] == answers[1], f"{who} {method.upper()} {route}: {answers}"
                assert answers[0][0] in (403, 405), f"{who} {method.upper()} {route}: {answers}"
