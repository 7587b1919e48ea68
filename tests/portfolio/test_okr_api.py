"""The OKR API's check-ins, progress and status: check-ins set a manual key result's
current value, linked key results refuse them, progress is in percent, and the
role (403) and other-organization (404) cases."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portfolio.models import CheckIn, KeyResult, Objective
from portfolio.services import key_result_save, objective_save
from portfolio.tenancy import organization_context
from streams.models import ValueStream
from streams.services import value_stream_save
from tests.api import get, send
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def build(org, n: int = 1, prefix: str = "") -> None:
    """n objectives of 2026-Q3 (over: its elapsed share is 1), each with a manual key
    result from 0 to 10 and a key result linked to a value stream's flow velocity."""
    with organization_context(org.pk):
        stream = value_stream_save(
            organization=org, value_stream=ValueStream(slug=f"{prefix}claims", name="Claims")
        )
        for i in range(n):
            objective = objective_save(
                organization=org,
                objective=Objective(slug=f"{prefix}o{i}", title=f"O {i}", quarter="2026-Q3"),
            )
            key_result_save(
                organization=org,
                key_result=KeyResult(
                    objective=objective, slug="trained", title="Trained", baseline=0, target=10
                ),
            )
            key_result_save(
                organization=org,
                key_result=KeyResult(
                    objective=objective,
                    slug="velocity",
                    title="Velocity",
                    baseline=0,
                    target=10,
                    metric_value_stream=stream,
                    metric_key="flow_velocity",
                ),
            )


def test_a_check_in_sets_progress_and_status(tenant_a):
    build(tenant_a.org)
    editor = client_for(tenant_a.editor)
    body = {"key_result": "o0/trained", "value": 9, "confidence": 8, "note": " Nine done "}
    created = send(editor, "post", "check-ins/", body)
    assert created.status_code == 201, created.json()
    check_in = created.json()
    assert check_in == {
        "id": check_in["id"],
        "key_result": "o0/trained",
        "at": check_in["at"],
        "value": 9.0,
        "confidence": 8,
        "note": "Nine done",
        "author": "editor@org-a.example",
        "source": "manual",
    }
    kr = get(editor, "key-results/", objective="o0").json()["results"][0]
    # (9 - 0) / (10 - 0) = 90 %; the quarter is over, so 10 points short is on track.
    assert (kr["slug"], kr["current"], kr["progress"], kr["status"]) == (
        "trained",
        9.0,
        90.0,
        "on_track",
    )
    # The linked key result, measured when saved: no items at all, velocity 0.
    linked = get(editor, "key-results/", objective="o0").json()["results"][1]
    assert (linked["current"], linked["progress"], linked["status"]) == (0.0, 0.0, "off_track")
    # The objective: (1 * 0.9 + 1 * 0) / 2 = 45 %, 55 points behind: off track.
    objective = get(editor, "objectives/").json()["results"][0]
    assert (objective["progress"], objective["status"]) == (45.0, "off_track")

    history = get(editor, "check-ins/", objective="o0").json()["results"]
    assert [(h["key_result"], h["source"], h["value"]) for h in history] == [
        ("o0/trained", "manual", 9.0),
        # The linked one's readings: the end of each of Q3's 13 weeks, and when saved.
        *[("o0/velocity", "metric", 0.0)] * 14,
    ]
    assert get(editor, "check-ins/", source="manual").json()["count"] == 1

    assert send(editor, "delete", f"check-ins/{check_in['id']}/").status_code == 204
    kr = get(editor, "key-results/", objective="o0").json()["results"][0]
    assert (kr["current"], kr["progress"], kr["status"]) == (None, None, "no_data")


def test_bad_check_ins_answer_400_and_write_nothing(tenant_a, tenant_b):
    build(tenant_a.org)
    build(tenant_b.org, prefix="b")
    editor = client_for(tenant_a.editor)
    cases = [
        (
            {"key_result": "o0/velocity", "value": 3},
            {
                "value": [
                    "'Velocity' follows the metric flow_velocity; its value is measured by the "
                    "workers, not checked in."
                ]
            },
        ),
        (
            {"key_result": "bo0/trained", "value": 3},
            {"key_result": ["'bo0/trained' is not a key result."]},
        ),
        ({"key_result": "o0/trained"}, {"value": ["This field is required."]}),
        ({"key_result": "o0/trained", "value": None}, {"value": ["This field may not be null."]}),
        (
            {"key_result": "o0/trained", "value": 3, "confidence": 11},
            {"confidence": ["Ensure this value is less than or equal to 10."]},
        ),
        (
            {"key_result": "o0/trained", "value": 3, "at": "2999-01-01T00:00:00Z"},
            {"at": ["A check-in records what is known now; it cannot be in the future."]},
        ),
    ]
    for body, errors in cases:
        answer = send(editor, "post", "check-ins/", body)
        assert (answer.status_code, answer.json()) == (400, errors), body
    with organization_context(tenant_a.org.pk):
        assert not CheckIn.objects.filter(source="manual").exists()


def test_roles_and_other_organizations(tenant_a, tenant_b):
    build(tenant_a.org)
    build(tenant_b.org, prefix="b")
    viewer = client_for(tenant_a.viewer)
    body = {"key_result": "o0/trained", "value": 3}
    assert send(viewer, "post", "check-ins/", body).status_code == 403
    assert get(viewer, "check-ins/").status_code == 200
    with organization_context(tenant_b.org.pk):
        other = CheckIn.objects.filter(organization=tenant_b.org).first().pk
    editor = client_for(tenant_a.editor)
    assert get(editor, f"check-ins/{other}/").status_code == 404
    assert send(editor, "delete", f"check-ins/{other}/").status_code == 404
    # Only the request's organization's check-ins are listed: its linked key
    # result's 14 readings (see above).
    assert get(editor, "check-ins/").json()["count"] == 14


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert get(client, path).status_code == 200
    return len(queries)


@pytest.mark.parametrize("path", ["check-ins/", "key-results/", "objectives/"])
def test_query_counts_do_not_grow_with_rows(path, tenant_a):
    viewer = client_for(tenant_a.viewer)
    build(tenant_a.org, 3)
    few = _queries(viewer, path)
    build(tenant_a.org, 30, prefix="more-")
    assert _queries(viewer, path) == few


RANGE = "Enter a number from -1e15 to 1e15."


def test_numbers_outside_the_range_are_refused_naming_the_field(tenant_a):
    """A key result from -1e308 to 1e308 and a check-in of 1e308 used to be saved, and
    every read of the key results then failed with PostgreSQL's overflow."""
    build(tenant_a.org)
    editor = client_for(tenant_a.editor)
    body = {"objective": "o0", "slug": "huge", "title": "Huge", "baseline": -1e308}
    answer = send(editor, "post", "key-results/", {**body, "target": 1e308})
    assert (answer.status_code, answer.json()) == (400, {"baseline": [RANGE], "target": [RANGE]})
    answer = send(editor, "post", "key-results/", {**body, "baseline": 0, "target": 1e16})
    assert (answer.status_code, answer.json()) == (400, {"target": [RANGE]})
    kr_id = get(editor, "key-results/", objective="o0").json()["results"][0]["id"]
    answer = send(editor, "patch", f"key-results/{kr_id}/", {"weight": 1e300})
    assert (answer.status_code, answer.json()) == (400, {"weight": [RANGE]})
    answer = send(editor, "post", "check-ins/", {"key_result": "o0/trained", "value": 1e308})
    assert (answer.status_code, answer.json()) == (400, {"value": [RANGE]})
    with organization_context(tenant_a.org.pk):
        assert list(KeyResult.objects.values_list("slug", "baseline", "target", "weight")) == [
            ("trained", 0, 10, 1),
            ("velocity", 0, 10, 1),
        ]
        assert not CheckIn.objects.filter(source="manual").exists()
    assert get(editor, "key-results/").status_code == 200


@pytest.mark.parametrize(
    ("baseline", "target", "value", "progress"),
    [
        (-1e15, 1e15, 1e15, 100.0),
        (0, 1e-308, 1e15, 100.0),  # a target a hair from the baseline: clamped
        (0, 5e-324, -1e15, 0.0),
        (1e15, -1e15, 5e-324, 50.0),
        (0, 1e15, 5e-324, 0.0),
    ],
)
def test_the_extremes_of_the_range_are_saved_and_read_everywhere(
    tenant_a, baseline, target, value, progress
):
    build(tenant_a.org)
    editor = client_for(tenant_a.editor)
    body = {"objective": "o0", "slug": "edge", "title": "Edge", "weight": 1e15}
    created = send(editor, "post", "key-results/", {**body, "baseline": baseline, "target": target})
    assert created.status_code == 201, created.json()
    checked = send(editor, "post", "check-ins/", {"key_result": "o0/edge", "value": value})
    assert checked.status_code == 201, checked.json()
    krs = get(editor, "key-results/", objective="o0")
    assert krs.status_code == 200
    edge = next(kr for kr in krs.json()["results"] if kr["slug"] == "edge")
    assert (edge["baseline"], edge["target"], edge["current"]) == (baseline, target, value)
    assert edge["progress"] == progress
    objectives = get(editor, "objectives/")
    assert objectives.status_code == 200
    # Weighted 1e15 against the other two key results' 1 each (0 and unmeasured).
    assert objectives.json()["results"][0]["progress"] == pytest.approx(progress, abs=1e-4)
    assert get(editor, f"key-results/{edge['id']}/").status_code == 200
