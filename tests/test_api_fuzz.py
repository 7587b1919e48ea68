"""Fuzz every operation of the REST API with schemathesis, in-process and authenticated.

The OpenAPI schema is the one drf-spectacular serves at /api/v1/schema/. Each
operation runs as its own test against an organization with data in every
part of the model, through Django's WSGI application, with an org admin's API
token. Every schemathesis check runs (no 5xx, every status code, content type,
header and body as documented, schema-invalid input refused, ...), with
generated input of every kind, NUL characters included.

Deterministic and bounded: a fixed seed (derandomized), a few examples per
operation besides the coverage phase's, and each example's writes rolled back,
so that no example sees another's data.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from portfolio.model_io import model_import
from portfolio.services import api_token_create
from portfolio.tenancy import organization_context
from streams.ingest import events_import
from tests.factories import UserFactory, make_organization

SLUG = "fuzz"
MODEL = Path(__file__).parent / "portfolio" / "data" / "contract_model.json"
MAX_EXAMPLES = 5

# A request can be well-formed yet break a rule no schema expresses: a write naming an
# object that does not exist ("'x' is not a team."), a quarter not yet started, a team
# that still owns components; a date range whose end comes before its start. The API
# answers those 400 with the reason, which schemathesis' positive-data check is told
# to accept for them (its advice for such rules, ST202). Other reads get no such
# allowance: a schema-valid filter must be accepted.
RULES_BEYOND_THE_SCHEMA = {
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409"]
        }
    }
}

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20260701,
        # Every generated path acts on the fuzzed organization (ids: flatmap_path_parameters).
        "parameters": {"path.org_slug": SLUG},
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "operations": [
            {"include-method": ["POST", "PUT", "PATCH", "DELETE"], **RULES_BEYOND_THE_SCHEMA},
            {"include-name": "GET /api/v1/orgs/{org_slug}/kpis/", **RULES_BEYOND_THE_SCHEMA},
        ],
    }
)

schema = schemathesis.openapi.from_dict(
    SchemaGenerator().get_schema(request=None, public=True), config=CONFIG
)
schema.app = get_wsgi_application()

EXAMPLES: Counter[str] = Counter()
# The ids of the fuzzed organization's objects, by the path listing them.
KNOWN_IDS: dict[str, list[int]] = {}


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """Often name an object that exists: a generated id almost never does, and would
    only ever reach the 404 (generated ids still come too)."""
    path = context.operation.path
    choices = [st.just(path_parameters)]
    for name, value in (path_parameters or {}).items():
        ids = KNOWN_IDS.get(path.split(f"{{{name}}}")[0], [])
        # Only a well-formed id is replaced: a negative case's mutated one must stay.
        if ids and isinstance(value, int) and not isinstance(value, bool):
            choices.append(st.sampled_from(ids).map(lambda i, n=name: {**path_parameters, n: i}))
    return st.one_of(*choices)


@pytest.fixture(autouse=True, scope="module")
def _report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None and EXAMPLES:
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                f"API fuzz: {sum(EXAMPLES.values())} examples over {len(EXAMPLES)} operations"
            )


@pytest.fixture(autouse=True)
def _in_process() -> Iterator[None]:
    """Requests share the test's connection and transaction, as Django's test client
    arranges, and expected 4xx answers are not logged (5xx still are)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def token(django_db_setup, django_db_blocker) -> Iterator[str]:
    """An org admin's API token for an organization with data in every part of the model.

    Built once for the module inside a transaction that is rolled back at its end;
    each test's own transaction (the ``db`` fixture) is a savepoint inside it.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        admin = UserFactory(email="admin@fuzz.example")
        with organization_context(None):
            org = make_organization(SLUG, name="Fuzz", admin=admin)
        with organization_context(org.pk, user_id=admin.pk):
            model_import(organization=org, data=json.loads(MODEL.read_text()))
            for kind, rows in EVENTS.items():
                events_import(organization=org, kind=kind, rows=rows, source="json")
            key = api_token_create(organization=org, user=admin, name="fuzz").key
        _collect_ids(key)
        yield key
        transaction.set_rollback(True)


def _collect_ids(key: str) -> None:
    """Fill KNOWN_IDS through the API itself, from the listing each object's path extends
    (``.../teams/`` for ``.../teams/{id}/history/``)."""
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    paths = schema.raw_schema["paths"]
    for path in paths:
        if path.count("{") < 2:  # only {org_slug}
            continue
        listing = path[: path.index("{", path.index("{") + 1)]
        if "get" in paths.get(listing, {}) and listing not in KNOWN_IDS:
            answer = client.get(listing.replace("{org_slug}", SLUG))
            assert answer.status_code == 200, (listing, answer.content)
            rows = answer.json()
            rows = rows["results"] if isinstance(rows, dict) else rows
            KNOWN_IDS[listing] = [row["id"] for row in rows]


EVENTS = {
    "flow_items": [
        {"key": "F-1", "type": "feature", "title": "Quote", "value_stream": "dental",
         "created_at": "2026-07-01T09:00:00Z"},
    ],
    "flow_transitions": [
        {"key": "F-1", "at": "2026-07-02T09:00:00Z", "state": "active"},
        {"key": "F-1", "at": "2026-07-05T09:00:00Z", "state": "done"},
    ],
    "deployments": [
        {"key": "D-1", "value_stream": "dental", "environment": "production",
         "deployed_at": "2026-07-05T10:00:00Z", "status": "success"},
    ],
    "journey_events": [
        {"key": "E-1", "journey": "get-cover", "type": "survey", "at": "2026-07-03T09:00:00Z",
         "customer": "c-1", "value": "9", "stage": "discover"},
    ],
}  # fmt: skip


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_api(case: schemathesis.Case, token: str, db: None) -> None:
    EXAMPLES[case.operation.label] += 1
    # A savepoint per example: its writes are undone before the next one.
    with transaction.atomic():
        case.call_and_validate(headers={"Authorization": f"Token {token}"})
        transaction.set_rollback(True)


def test_the_schema_fuzzed_is_the_one_served(db: None) -> None:
    served = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(schema.raw_schema))
