"""The API's input rules (portfolio.api_input), each found by the schemathesis fuzz test
(tests/test_api_fuzz.py): NUL characters, JSON types, strict boolean filters, JSON 404s,
impossible quarters and date ranges, all answered 4xx instead of 500 or a guess."""

from __future__ import annotations

import pytest

from tests.api import get, send, url
from tests.conftest import client_for

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
