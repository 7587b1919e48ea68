"""Bad model files on every interface that takes one: the model page, the model API
and ``import_model``. Each refusal names its problem, and neither organization's
model changes (``portfolio.model_io`` and ``portfolio.text_input``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from journeys.models import Journey
from portfolio.model_io import MAX_FILE_BYTES, model_import
from portfolio.models import Component, KeyResult, Layer, Objective, Team
from portfolio.tenancy import organization_context
from streams.models import Stage, ValueStream
from tests.conftest import Tenant, client_for

pytestmark = pytest.mark.django_db

CONTRACT_FILE = Path(__file__).parent / "data" / "contract_model.json"
MODELS = (Layer, Team, Component, ValueStream, Stage, Journey, Objective, KeyResult)


@pytest.fixture
def seeded(tenant_a: Tenant, tenant_b: Tenant) -> tuple[Tenant, Tenant]:
    """Both organizations hold the contract's model; only B has the value stream 'b-only'."""
    for tenant in (tenant_a, tenant_b):
        data = json.loads(CONTRACT_FILE.read_text())
        if tenant is tenant_b:
            data["value_streams"].append({"slug": "b-only", "name": "B only", "kind": "team"})
        with organization_context(tenant.org.pk):
            model_import(organization=tenant.org, data=data)
    return tenant_a, tenant_b


def model_rows(org) -> dict[str, object]:
    """Every object of the model and its history: an import that writes anything shows."""
    with organization_context(org.pk):
        rows: dict[str, object] = {
            m.__name__: m.objects.filter(organization=org).count() for m in MODELS
        }
        rows["history"] = sum(
            m.history.filter(organization_id=org.pk).count()
            for m in MODELS
            if hasattr(m, "history")
        )
        rows["teams"] = sorted(Team.objects.filter(organization=org).values_list("slug", "name"))
    return rows


def snapshot(a: Tenant, b: Tenant) -> tuple[dict, dict]:
    return model_rows(a.org), model_rows(b.org)


@dataclass
class Outcome:
    status: int  # HTTP status, or a command's exit code
    errors: list[str]


def via_page(tenant: Tenant, raw: bytes, _tmp: Path) -> Outcome:
    file = SimpleUploadedFile("model.json", raw, content_type="application/json")
    response = client_for(tenant.admin).post(f"/o/{tenant.org.slug}/model/", {"file": file})
    return Outcome(response.status_code, response.context["errors"])


def via_api(tenant: Tenant, raw: bytes, _tmp: Path) -> Outcome:
    url = f"/api/v1/orgs/{tenant.org.slug}/model/"
    response = client_for(tenant.admin).post(url, raw, content_type="application/json")
    body = response.json()
    return Outcome(response.status_code, body.get("errors", [body.get("detail")]))


def via_command(tenant: Tenant, raw: bytes, tmp: Path) -> Outcome:
    path = tmp / "model.json"
    path.write_bytes(raw)
    try:
        call_command("import_model", "--org", tenant.org.slug, str(path))
    except CommandError as exc:
        reason = str(exc)
        assert "\n" not in reason
        assert reason.startswith(f"{path}: ") and reason.endswith("; nothing was imported")
        return Outcome(1, [reason.removeprefix(f"{path}: ").removesuffix("; nothing was imported")])
    return Outcome(0, [])


INTERFACES = {"page": via_page, "api": via_api, "command": via_command}
OK = {"page": 200, "api": 200, "command": 0}


@pytest.fixture(params=INTERFACES)
def send(request, tmp_path):
    def sending(tenant: Tenant, raw: bytes) -> Outcome:
        return INTERFACES[request.param](tenant, raw, tmp_path)

    sending.interface = request.param
    return sending


def teams(*pairs: tuple[str, str]) -> bytes:
    return json.dumps({"teams": [{"slug": s, "name": n} for s, n in pairs]}).encode()


EXPECTED = "expected a JSON file saved as UTF-8"
REFUSALS = {
    "png-renamed-json": (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        f"the file looks like a PNG image, not JSON text; {EXPECTED}",
    ),
    "pdf-renamed-json": (
        b"%PDF-1.4\n%%EOF\n",
        f"the file looks like a PDF document, not JSON text; {EXPECTED}",
    ),
    # '{"teams": [{"slug": "x", "name": "Caf' is 37 bytes: the é is the 38th.
    "latin1": (
        '{"teams": [{"slug": "x", "name": "Café"}]}'.encode("latin-1"),
        f"the file is not UTF-8 text: line 1, byte 38 is 0xE9; {EXPECTED}",
    ),
    "raw-nul-byte": (
        b'{\n"teams": [{"slug": "x", "name": "a\x00"}]}',
        "the file holds a NUL byte on line 2; expected JSON text",
    ),
    # JSON can carry a NUL escaped; PostgreSQL text cannot hold one.
    "escaped-nul-in-a-name": (teams(("x", "a\0b")), "teams[0].name: contains a NUL character"),
    "escaped-nul-in-a-list": (
        json.dumps(
            {
                "journeys": [
                    {
                        "slug": "get-cover",
                        "name": "Get cover",
                        "stages": [{"slug": "discover", "name": "D", "pain_points": ["a\0"]}],
                    }
                ]
            }
        ).encode(),
        "journeys[0].stages[0].pain_points[0]: contains a NUL character",
    ),
    "not-json": (b"slug,name\nx,X\n", "the file is not valid JSON: line 1, column 1"),
    "a-list-not-an-object": (b"[]", "the file must hold a JSON object"),
    # Tenancy: a slug only B has is no value stream of A's.
    "another-orgs-value-stream": (
        json.dumps(
            {
                "objectives": [
                    {
                        "slug": "mine",
                        "title": "Mine",
                        "quarter": "2026-Q3",
                        "value_streams": ["b-only"],
                    }
                ]
            }
        ).encode(),
        "objectives[0].value_streams[0]: 'b-only' is not a value stream",
    ),
}


@pytest.mark.parametrize(("raw", "message"), REFUSALS.values(), ids=REFUSALS)
def test_a_bad_model_file_is_refused_with_its_reason_and_changes_nothing(
    seeded, send, raw, message
):
    a, b = seeded
    before = snapshot(a, b)
    outcome = send(a, raw)
    assert outcome.status == (1 if send.interface == "command" else 400)
    assert len(outcome.errors) == 1
    assert outcome.errors[0].startswith(message), outcome.errors
    assert snapshot(a, b) == before


def test_a_model_file_of_only_a_bom_and_blank_lines_is_refused_as_empty(seeded, send):
    a, b = seeded
    before = snapshot(a, b)
    outcome = send(a, b"\xef\xbb\xbf \r\n")
    assert outcome.status == (1 if send.interface == "command" else 400)
    # The API names its body "the file" as model_parse does for every interface.
    assert outcome.errors == ["the file is empty; expected a JSON object"]
    assert snapshot(a, b) == before


@pytest.mark.parametrize(
    "raw",
    [
        b"\xef\xbb\xbf" + teams(("claims-team", "Claims")),
        json.dumps({"teams": [{"slug": "claims-team", "name": "Claims"}]}, indent=2)
        .replace("\n", "\r\n")
        .encode(),
    ],
    ids=["utf8-bom", "crlf"],
)
def test_a_good_model_file_with_a_bom_or_crlf_is_imported_into_its_org_only(seeded, send, raw):
    a, b = seeded
    before_b = model_rows(b.org)
    outcome = send(a, raw)
    assert outcome.status == OK[send.interface], outcome.errors
    assert ("claims-team", "Claims") in model_rows(a.org)["teams"]
    assert model_rows(b.org) == before_b


def test_the_page_refuses_a_file_over_the_limit_with_413(seeded, tmp_path):
    a, b = seeded
    before = snapshot(a, b)
    outcome = via_page(a, b" " * (MAX_FILE_BYTES + 1), tmp_path)
    assert outcome == Outcome(413, ["model.json is 5.0 MB; the limit is 5 MB."])
    assert snapshot(a, b) == before


def test_the_api_refuses_a_body_over_its_limit_with_413(seeded, tmp_path):
    a, b = seeded
    before = snapshot(a, b)
    outcome = via_api(a, b" " * (MAX_FILE_BYTES + 1), tmp_path)
    assert outcome == Outcome(413, ["The body is over the limit of 5 MB."])
    assert snapshot(a, b) == before


def test_the_api_refuses_a_body_over_the_request_limit_before_reading_it(seeded, settings):
    a, b = seeded
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    before = snapshot(a, b)
    url = f"/api/v1/orgs/{a.org.slug}/model/"
    raw = b" " * (1024 * 1024 + 1)
    response = client_for(a.admin).post(url, raw, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The request body is over the limit of 1 MB")
    assert snapshot(a, b) == before


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/xml", b"<model/>"), ("text/plain", b"{}")],
)
def test_the_api_answers_another_media_type_with_415(seeded, content_type, body):
    a, b = seeded
    before = snapshot(a, b)
    url = f"/api/v1/orgs/{a.org.slug}/model/"
    response = client_for(a.admin).post(url, body, content_type=content_type)
    assert response.status_code == 415
    assert response.json() == {"detail": f'Unsupported media type "{content_type}" in request.'}
    assert snapshot(a, b) == before


def test_the_api_answers_a_multipart_upload_with_415(seeded):
    a, b = seeded
    before = snapshot(a, b)
    file = SimpleUploadedFile("model.json", CONTRACT_FILE.read_bytes())
    response = client_for(a.admin).post(f"/api/v1/orgs/{a.org.slug}/model/", {"file": file})
    assert response.status_code == 415
    assert response.json()["detail"].startswith('Unsupported media type "multipart/form-data')
    assert snapshot(a, b) == before
