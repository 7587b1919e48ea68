"""The API's input rules (portfolio.api_input), each found by the schemathesis fuzz test
(tests/test_api_fuzz.py): NUL characters, JSON types, strict boolean filters, JSON 404s,
impossible quarters and date ranges, all answered 4xx instead of 500 or a guess."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.api import get, send, url
from tests.conftest import client_for
from tests.test_route_walk import OBJECT_MAKERS, kind_of, params_of, tenant_routes, url_for

pytestmark = pytest.mark.django_db


def test_a_nul_character_in_a_body_answers_400_naming_the_field(tenant_a):
    answer = send(client_for(tenant_a.editor), "post", "teams/", {"slug": "t", "name": "a\x00b"})
    assert answer.status_code == 400
    assert answer.json() == {"detail": "'name' must not contain NUL characters."}


def test_a_nul_character_in_a_nested_key_is_named_by_its_path(tenant_a):
    body = {"slug": "s", "name": "S", "status_map": {"In\x00Review": "waiting"}}
    answer = send(client_for(tenant_a.editor), "post", "value-streams/", body)
    assert answer.status_code == 400
    assert answer.json() == {"detail": "A key of 'status_map' must not contain NUL characters."}


def test_a_nul_character_in_a_query_parameter_answers_400(tenant_a):
    answer = get(client_for(tenant_a.viewer), "products/", family="x\x00")
    assert answer.status_code == 400
    assert answer.json() == {
        "family": ["The query parameter 'family' must not contain NUL characters."]
    }


@pytest.mark.parametrize(
    ("path", "body", "field", "message"),
    [
        ("teams/", {"slug": "t", "name": 0}, "name", "Expected a string, not a number."),
        (
            "layers/reorder/",
            {"order": ["1"]},
            "order",
            {"0": ["Expected an integer, not a string."]},
        ),
        (
            "reports/",
            {"quarter": "2026-Q1", "recompute": "yes"},
            "recompute",
            "Expected true or false, not a string.",
        ),
    ],
)
def test_a_json_value_of_the_wrong_type_answers_400(tenant_a, path, body, field, message):
    answer = send(client_for(tenant_a.admin), "post", path, body)
    assert answer.status_code == 400
    expected = message if isinstance(message, dict) else [message]
    assert answer.json() == {field: expected}


def test_a_boolean_filter_takes_only_true_or_false(tenant_a):
    viewer = client_for(tenant_a.viewer)
    assert get(viewer, "value-streams/", root="true").status_code == 200
    answer = get(viewer, "value-streams/", root="null")
    assert answer.status_code == 400
    assert answer.json() == {"root": ["Use true or false."]}


def test_an_api_path_no_route_matches_answers_json_404(tenant_a):
    answer = client_for(tenant_a.viewer).get(url("teams/0.5/"))
    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"detail": "Not found."}


def test_an_objective_in_a_quarter_without_dates_answers_400(tenant_a):
    body = {"slug": "o", "title": "O", "quarter": "0000-Q1"}
    answer = send(client_for(tenant_a.editor), "post", "objectives/", body)
    assert answer.status_code == 400
    assert answer.json() == {"quarter": ["'0000-Q1' is not a quarter such as 2026-Q3."]}


def test_kpis_for_dates_outside_the_supported_years_answer_400(tenant_a):
    answer = get(client_for(tenant_a.viewer), "kpis/", **{"from": "2026-01-01", "to": "9999-12-31"})
    assert answer.status_code == 400
    assert answer.json() == {"detail": "to: 9999-12-31 is outside the years 1900 to 2999"}


def test_another_organization_answers_404_before_its_input_is_read(tenant_a, tenant_b):
    answer = send(client_for(tenant_b.admin), "post", "teams/", {"slug": "t", "name": 0})
    assert answer.status_code == 404


def test_a_viewer_may_not_write_whatever_the_input(tenant_a):
    answer = send(client_for(tenant_a.viewer), "post", "teams/", {"slug": "t", "name": "T"})
    assert answer.status_code == 403


@pytest.mark.parametrize("page", ["", "0", "000", "-1", "last", "1.5", "٣"])
def test_a_page_that_is_not_a_positive_integer_is_refused(tenant_a, page):
    answer = client_for(tenant_a.viewer).get(url("value-streams/"), {"page": page})
    assert answer.status_code == 400
    assert answer.json() == {"page": ["Use a page number: 1, 2, 3..."]}


def test_a_page_past_the_last_answers_404_and_page_one_is_the_default(tenant_a):
    client = client_for(tenant_a.viewer)
    assert client.get(url("value-streams/"), {"page": "2"}).status_code == 404
    assert client.get(url("value-streams/"), {"page": "9" * 5000}).status_code == 404
    first = client.get(url("value-streams/"), {"page": "1"})
    assert first.status_code == 200
    assert first.json() == client.get(url("value-streams/")).json()


# --- Deeply nested JSON ---------------------------------------------------------------

# Arrays within arrays: deeper than Python's parser recurses (RecursionError), and
# deep enough to parse but not to walk with a Python function.
DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_ENOUGH = b'{"name": ' + b"[" * 1_500 + b"]" * 1_500 + b"}"
# The model API calls its body "the file", as the model page and command do.
DEEP_MESSAGE = "nests JSON arrays or objects too deeply to be read"


@pytest.mark.parametrize("body", [DEEP, DEEP_ENOUGH], ids=["100000", "1500"])
@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("teams/", "detail"),
        ("check-ins/", "detail"),
        ("reports/", "detail"),
        ("layers/reorder/", "detail"),
        ("events/flow-items/", "errors"),
        ("model/", "errors"),
    ],
)
def test_deeply_nested_json_answers_400(tenant_a, path, key, body, caplog):
    answer = client_for(tenant_a.admin).post(url(path), body, content_type="application/json")
    assert answer.status_code == 400
    found = answer.json()[key]
    assert (found[0] if isinstance(found, list) else found).endswith(DEEP_MESSAGE)
    assert f"/api/v1/orgs/org-a/{path}" in caplog.text


def api_writes() -> list[tuple[str, str, str]]:
    """(route name, route, method) of every API route of an organization, with each
    method that may take a body."""
    return [
        (name, route, method)
        for route, name in tenant_routes()
        if route.startswith("api/v1/orgs/")
        for method in ("post", "put", "patch")
    ]


@pytest.mark.parametrize(("name", "route", "method"), api_writes())
def test_no_api_route_answers_deeply_nested_json_with_a_server_error(tenant_a, name, route, method):
    kinds = {kind_of(name, param) for param in params_of(route) if param != "org_slug"}
    objects = {kind: OBJECT_MAKERS[kind](tenant_a) for kind in kinds}
    client = Client(raise_request_exception=False)
    client.force_login(tenant_a.admin, backend="django.contrib.auth.backends.ModelBackend")
    path = url_for(name, route, tenant_a.org.slug, objects)
    answer = getattr(client, method)(path, DEEP, content_type="application/json")
    # 405 where the method is not allowed; where it is, the body is refused.
    assert answer.status_code in (400, 405), (path, answer.status_code)
    if answer.status_code == 400:
        assert DEEP_MESSAGE in answer.content.decode(), answer.content[:300]
