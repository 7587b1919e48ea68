"""Bad event data on every interface that takes it: the upload page, ``import_events``
and the bulk event API; and Django's request limits on pages and the API.

Two organizations are seeded. Every refusal is checked for its status, a
message naming the problem (and its line), and that neither organization's
records changed. A file the import could never read (too large, not UTF-8, a
NUL byte, a binary file, empty, a wrong header) is refused before anything is
stored; a readable file with bad rows is rejected by the import, which names
every bad line and imports nothing (docs/formats.md#event-csvs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test.client import MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from journeys.models import JourneyEvent
from portfolio.tenancy import organization_context
from streams import uploads
from streams.ingest import events_import
from streams.models import (
    Change,
    Deployment,
    EventUpload,
    FlowItem,
    FlowTransition,
    Incident,
    UploadStatus,
    ValueStream,
)
from streams.services import value_stream_save
from tests.conftest import Tenant, client_for
from tests.journeys.helpers import build_journey

pytestmark = pytest.mark.django_db

HEADER = "key,type,title,value_stream,created_at"
EXPECTED = f"expected 5 ({HEADER})"
TIME = "2026-07-01T09:30:00Z"
ROW = "{key},feature,Quote,{stream},2026-07-01T09:30:00Z"
GOOD = (
    f"{HEADER}\nF-1,feature,Quote,dental,2026-07-01T09:30:00Z\n"
    "F-2,defect,,dental,2026-07-02T08:00:00Z\n"
)
EVENT_MODELS = (FlowItem, FlowTransition, Deployment, Change, Incident, JourneyEvent)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def seeded(tenant_a: Tenant, tenant_b: Tenant) -> tuple[Tenant, Tenant]:
    """Both organizations have a value stream 'dental' with one flow item and a
    journey 'claim'; only B has the value stream 'b-only' and the journey 'b-journey'."""
    for tenant, extra in ((tenant_a, False), (tenant_b, True)):
        org = tenant.org
        slugs = ["dental", "b-only"] if extra else ["dental"]
        with organization_context(org.pk):
            for slug in slugs:
                value_stream_save(
                    organization=org, value_stream=ValueStream(slug=slug, name=slug.title())
                )
            own = "F-B1" if extra else "F-A1"
            events_import(
                organization=org,
                kind="flow_items",
                rows=StringIO(f"{HEADER}\n{ROW.format(key=own, stream='dental')}\n"),
            )
        build_journey(org, "claim")
        if extra:
            build_journey(org, "b-journey")
    return tenant_a, tenant_b


def records(org) -> dict[str, int]:
    with organization_context(org.pk):
        return {m.__name__: m.objects.filter(organization=org).count() for m in EVENT_MODELS}


def snapshot(a: Tenant, b: Tenant) -> tuple[dict[str, int], dict[str, int]]:
    return records(a.org), records(b.org)


def uploads_of(org) -> list[EventUpload]:
    with organization_context(org.pk):
        return list(EventUpload.objects.filter(organization=org))


# --- The interfaces that take a CSV file ---------------------------------------------


@dataclass
class Outcome:
    refused: str | None = None  # the one-line reason a file was refused before its import
    status: int = 0  # the page's HTTP status (302 once stored); a command's exit (0 or 1)
    rejected: list[str] = field(default_factory=list)  # the import's "line N: reason"s
    counts: dict[str, int] | None = None  # created/updated/unchanged of an import that ran


def via_page(tenant: Tenant, kind: str, content: bytes, name: str, capture) -> Outcome:
    file = SimpleUploadedFile(name, content, content_type="text/csv")
    url = reverse("event_import", kwargs={"org_slug": tenant.org.slug})
    with capture(execute=True):  # the worker's import runs when the request commits
        response = client_for(tenant.editor).post(url, {"kind": kind, "file": file})
    if response.status_code != 302:
        assert escape(response.context["error"]) in response.content.decode()
        return Outcome(refused=response.context["error"], status=response.status_code)
    (upload,) = uploads_of(tenant.org)
    if upload.status == UploadStatus.REJECTED:
        return Outcome(status=302, rejected=upload.errors)
    assert upload.status == UploadStatus.DONE, upload.message
    return Outcome(status=302, counts=upload.counts)


def via_command(tenant: Tenant, kind: str, content: bytes, path: Path) -> Outcome:
    path.write_bytes(content)
    out, err = StringIO(), StringIO()
    args = ("import_events", "--org", tenant.org.slug, "--kind", kind, str(path))
    try:
        call_command(*args, stdout=out, stderr=err)
    except CommandError as exc:
        reason = str(exc)
        assert "\n" not in reason  # one line
        if err.getvalue():
            rows = len(err.getvalue().splitlines())
            bad_rows = "1 bad row" if rows == 1 else f"{rows} bad rows"
            assert reason == f"{path}: {bad_rows} (above); nothing was imported"
            return Outcome(status=1, rejected=err.getvalue().splitlines())
        return Outcome(refused=reason, status=1)
    created, updated, unchanged = (
        int(part.split()[0]) for part in out.getvalue().split(": ", 1)[1].split(", ")
    )
    return Outcome(counts={"created": created, "updated": updated, "unchanged": unchanged})


@pytest.fixture(params=["page", "command"])
def send_file(request, tmp_path, django_capture_on_commit_callbacks):
    """Sends a CSV file through one interface; answers the outcome and the file's name
    as that interface's messages call it."""

    def send(tenant: Tenant, kind: str, content: bytes) -> tuple[Outcome, str]:
        if request.param == "page":
            return via_page(
                tenant, kind, content, "events.csv", django_capture_on_commit_callbacks
            ), "events.csv"
        path = tmp_path / "events.csv"
        return via_command(tenant, kind, content, path), str(path)

    send.interface = request.param
    return send


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
# A PDF may be plain ASCII throughout: only its signature gives it away.
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
XLSX = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml"
UTF16 = f"{HEADER}\r\n".encode("utf-16")  # Excel's "Unicode Text": UTF-16 with its BOM
LATIN1 = f"{HEADER}\nF-1,feature,Café,dental,2026-07-01T09:30:00Z\n".encode("latin-1")
NUL = f"{HEADER}\nF-1,feature,Fine,dental,2026-07-01T09:30:00Z\nF-2,feature,a\0b,dental,x\n"

FILE_REFUSALS = {
    "png-renamed-csv": (PNG, "{name} looks like a PNG image, not CSV text"),
    "pdf-renamed-csv": (PDF, "{name} looks like a PDF document, not CSV text"),
    "xlsx-renamed-csv": (XLSX, "{name} looks like a ZIP archive (an Excel .xlsx workbook is one)"),
    "utf16": (UTF16, "{name} looks like UTF-16 text (Excel's 'Unicode Text'), not CSV text"),
    # "F-1,feature,Caf" is 15 bytes: the é is the 16th byte of line 2.
    "latin1": (LATIN1, "{name} is not UTF-8 text: line 2, byte 16 is 0xE9"),
    "truncated-utf8": (
        f"{HEADER}\nF-1,feature,".encode() + b"\xc3",
        "{name} is not UTF-8 text: it ends inside a character on line 2",
    ),
    "nul-in-a-cell": (NUL.encode(), "{name} holds a NUL byte on line 3; expected CSV text."),
    # Old Mac line endings: a bare carriage return ends a line too.
    "latin1-with-bare-cr": (
        LATIN1.replace(b"\n", b"\r"),
        "{name} is not UTF-8 text: line 2, byte 16 is 0xE9",
    ),
    "nul-with-bare-cr": (
        NUL.replace("\n", "\r").encode(),
        "{name} holds a NUL byte on line 3; expected CSV text.",
    ),
    "empty": (b"", "{name} is empty; expected a CSV file with a header row."),
    "bom-and-blank-lines": (
        b"\xef\xbb\xbf\r\n  \r\n",
        "{name} is empty; expected a CSV file with a header row.",
    ),
    "wrong-header": (
        b"key,type,title,value_stream,created\nF-1,feature,,dental,2026-07-01T09:30:00Z\n",
        "{name}: line 1: header missing created_at; unknown created; expected " + HEADER,
    ),
    "header-named-twice": (
        f"{HEADER},key\n".encode(),
        "{name}: line 1: header a column is named twice; expected " + HEADER,
    ),
    "wrong-header-with-bare-cr": (
        b"key,type,title,value_stream,created\rF-1,feature,,dental,2026-07-01T09:30:00Z\r",
        "{name}: line 1: header missing created_at; unknown created; expected " + HEADER,
    ),
}


@pytest.mark.parametrize(("content", "message"), FILE_REFUSALS.values(), ids=FILE_REFUSALS)
def test_an_unreadable_file_is_refused_with_its_reason_and_stores_nothing(
    seeded, send_file, media_root, content, message
):
    a, b = seeded
    before = snapshot(a, b)
    outcome, name = send_file(a, "flow_items", content)
    assert outcome.status == (400 if send_file.interface == "page" else 1)
    assert outcome.refused.startswith(message.format(name=name)), outcome.refused
    assert snapshot(a, b) == before
    assert uploads_of(a.org) == []
    assert not list(Path(media_root).rglob("*.csv"))


def test_the_page_refuses_a_file_over_the_limit_with_413(
    seeded, monkeypatch, django_capture_on_commit_callbacks
):
    """Only uploads have a size limit: import_events streams a file of any size."""
    a, b = seeded
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 1024 * 1024)
    before = snapshot(a, b)
    content = (GOOD + "#" * 1024 * 1024).encode()
    outcome = via_page(a, "flow_items", content, "big.csv", django_capture_on_commit_callbacks)
    assert (outcome.status, outcome.refused) == (413, "big.csv is 1.0 MB; the limit is 1 MB.")
    assert snapshot(a, b) == before
    assert uploads_of(a.org) == []


ROW_REJECTIONS = {
    # Ragged rows: too many cells, then too few.
    "ragged-rows": (
        "flow_items",
        f"{HEADER}\nF-1,feature,Fine,dental,2026-07-01T09:30:00Z\n"
        "F-2,feature,Quote,dental,2026-07-01T09:30:00Z,extra,more\n"
        "F-3,feature,Quote\n",
        [f"line 3: 7 values; {EXPECTED}", f"line 4: 3 values; {EXPECTED}"],
    ),
    # A quoted line break makes row 2 two lines long: the bad row is line 4.
    "quoted-newline-keeps-line-numbers": (
        "flow_items",
        f'{HEADER}\nF-1,feature,"Quote\nonline",dental,2026-07-01T09:30:00Z\n'
        "F-2,story,Bad,dental,2026-07-01T09:30:00Z\n",
        ["line 4: type 'story' is not one of feature, defect, risk, debt"],
    ),
    "crlf-and-a-bad-row": (
        "flow_items",
        f"{HEADER}\r\nF-1,feature,,dental,2026-07-01T09:30:00Z\r\nF-2,feature,,dental,soon\r\n",
        ["line 3: created_at 'soon' is not an ISO 8601 time; expected e.g. 2026-07-01T09:30:00Z"],
    ),
    "bare-cr-and-a-bad-row": (
        "flow_items",
        f"{HEADER}\rF-1,feature,,dental,2026-07-01T09:30:00Z\rF-2,feature,,dental,soon\r",
        ["line 3: created_at 'soon' is not an ISO 8601 time; expected e.g. 2026-07-01T09:30:00Z"],
    ),
    # F-A1 was created at 2026-07-01T09:30:00Z.
    "transition-before-its-item": (
        "flow_transitions",
        "key,at,state\nF-A1,2026-07-01T09:30:00Z,active\nF-A1,2026-06-30T23:59:59Z,new\n",
        [
            "line 3: at 2026-06-30T23:59:59Z is before flow item 'F-A1' was created at "
            "2026-07-01T09:30:00Z"
        ],
    ),
    # Tenancy: a slug that exists only in B is unknown to A.
    "another-orgs-value-stream": (
        "flow_items",
        f"{HEADER}\n{ROW.format(key='F-9', stream='b-only')}\n",
        ["line 2: value stream 'b-only' is unknown"],
    ),
    "another-orgs-flow-item": (
        "flow_transitions",
        "key,at,state\nF-B1,2026-07-02T09:00:00Z,active\n",
        ["line 2: flow item 'F-B1' is unknown"],
    ),
    "another-orgs-journey": (
        "journey_events",
        "key,journey,type,at,customer,ref,value,stage,touchpoint\n"
        "E-1,b-journey,survey,2026-07-01T09:30:00Z,c-1,,9,,\n",
        ["line 2: journey 'b-journey' is unknown"],
    ),
}


@pytest.mark.parametrize(("kind", "text", "errors"), ROW_REJECTIONS.values(), ids=ROW_REJECTIONS)
def test_a_file_with_bad_rows_is_rejected_line_by_line_and_imports_nothing(
    seeded, send_file, kind, text, errors
):
    a, b = seeded
    before = snapshot(a, b)
    outcome, _name = send_file(a, kind, text.encode())
    # The page stored the file and its worker rejected it; the command exits 1.
    assert outcome.status == (302 if send_file.interface == "page" else 1)
    assert outcome.rejected == errors
    assert snapshot(a, b) == before


ACCEPTED = {
    # Excel's "CSV UTF-8" starts with a byte order mark.
    "utf8-bom": ("\ufeff" + GOOD, 2),
    "crlf": (GOOD.replace("\n", "\r\n"), 2),
    "bom-and-crlf": ("\ufeff" + GOOD.replace("\n", "\r\n"), 2),
    # Old Mac line endings: a bare carriage return ends a line too.
    "bare-cr": (GOOD.replace("\n", "\r"), 2),
    "bom-and-bare-cr": ("\ufeff" + GOOD.replace("\n", "\r"), 2),
    "mixed-line-endings": ("{}\r\n{}\r{}\n".format(*GOOD.splitlines()), 2),
    # A tool's export of nothing: a valid file, with nothing to import.
    "header-only": (HEADER + "\n", 0),
    "header-only-without-newline": (HEADER, 0),
    "quoted-newline": (f'{HEADER}\r\nF-1,feature,"Quote\r\nonline",dental,{TIME}\r\n', 1),
}


@pytest.mark.parametrize(("text", "created"), ACCEPTED.values(), ids=ACCEPTED)
def test_a_good_file_in_any_of_its_usual_shapes_is_imported_for_its_org_only(
    seeded, send_file, text, created
):
    a, b = seeded
    before_a, before_b = snapshot(a, b)
    outcome, _name = send_file(a, "flow_items", text.encode())
    assert outcome.counts == {"created": created, "updated": 0, "unchanged": 0}
    after_a, after_b = snapshot(a, b)
    assert after_a == before_a | {"FlowItem": before_a["FlowItem"] + created}
    assert after_b == before_b
    if created == 2:
        with organization_context(a.org.pk):
            titles = dict(FlowItem.objects.filter(organization=a.org).values_list("key", "title"))
        assert titles == {"F-A1": "Quote", "F-1": "Quote", "F-2": ""}


def test_a_quoted_line_break_is_kept_in_the_value(seeded, send_file):
    a, _b = seeded
    text = f'{HEADER}\nF-1,feature,"Quote\r\nonline",dental,2026-07-01T09:30:00Z\n'
    outcome, _name = send_file(a, "flow_items", text.encode())
    assert outcome.counts == {"created": 1, "updated": 0, "unchanged": 0}
    with organization_context(a.org.pk):
        assert FlowItem.objects.get(organization=a.org, key="F-1").title == "Quote\r\nonline"


def test_the_same_key_in_two_orgs_is_two_records(seeded, send_file):
    """B's item F-B1 keeps its stream and title when A imports an item of that key."""
    a, b = seeded
    text = f"{HEADER}\nF-B1,defect,Mine,dental,2026-07-03T00:00:00Z\n"
    outcome, _name = send_file(a, "flow_items", text.encode())
    assert outcome.counts == {"created": 1, "updated": 0, "unchanged": 0}
    with organization_context(b.org.pk):
        theirs = FlowItem.objects.get(organization=b.org, key="F-B1")
    assert (theirs.type, theirs.title) == ("feature", "Quote")


def test_import_events_exits_1_in_a_shell_with_the_reason(seeded, tmp_path, capsys):
    """The real entry point: an unreadable file exits 1 with its one-line reason.
    (It closes the test's database connection: the other tests check the data.)"""
    from django.core.management import ManagementUtility

    path = tmp_path / "events.csv"
    path.write_bytes(LATIN1)
    argv = ["manage.py", "import_events", "--org", "org-a", "--kind", "flow_items", str(path)]
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(argv).execute()
    assert exited.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"CommandError: {path} is not UTF-8 text: line 2, byte 16 is 0xE9; "
        "expected a CSV file saved as UTF-8."
    )


# --- The bulk event API ----------------------------------------------------------------


def api_url(tenant: Tenant, kind: str = "flow-items") -> str:
    return f"/api/v1/orgs/{tenant.org.slug}/events/{kind}/"


def item(key: str = "F-1", stream: str = "dental", **fields: str) -> dict[str, str]:
    return {
        "key": key,
        "type": "feature",
        "title": "Quote",
        "value_stream": stream,
        "created_at": "2026-07-01T09:30:00Z",
    } | fields


ITEMS = json.dumps([item("F-1"), item("F-2")]).encode()
JSON = "application/json"

API_REFUSALS = {
    "xml": (
        b"<items/>",
        "application/xml",
        415,
        {"detail": 'Unsupported media type "application/xml" in request.'},
    ),
    "csv-to-the-json-api": (
        GOOD.encode(),
        "text/csv",
        415,
        {"detail": 'Unsupported media type "text/csv" in request.'},
    ),
    "png-as-json": (
        PNG,
        JSON,
        400,
        {
            "errors": [
                "the body looks like a PNG image, not JSON text; "
                "expected a JSON body encoded as UTF-8"
            ]
        },
    ),
    # '[{"key": "caf' is 13 bytes: the é is the 14th.
    "latin1": (
        '[{"key": "café"}]'.encode("latin-1"),
        JSON,
        400,
        {
            "errors": [
                "the body is not UTF-8 text: line 1, byte 14 is 0xE9; "
                "expected a JSON body encoded as UTF-8"
            ]
        },
    ),
    "raw-nul-byte": (
        b'[\n{"key": "a\x00"}]',
        JSON,
        400,
        {"errors": ["the body holds a NUL byte on line 2; expected JSON text"]},
    ),
    "escaped-nul-in-a-value": (
        json.dumps([item("F-1"), item("F-2", title="a\0b")]).encode(),
        JSON,
        400,
        {"errors": ["item 2: title contains a NUL character"]},
    ),
    "not-json": (
        b"key,type\nF-1,feature\n",
        JSON,
        400,
        {"errors": ["the body is not valid JSON: line 1, column 1: Expecting value"]},
    ),
    "empty-body": (
        b"",
        JSON,
        400,
        {
            "errors": [
                "the body must be a JSON list of objects with the fields "
                "key, type, title, value_stream, created_at"
            ]
        },
    ),
    "an-object-not-a-list": (
        json.dumps(item()).encode(),
        JSON,
        400,
        {
            "errors": [
                "the body must be a JSON list of objects with the fields "
                "key, type, title, value_stream, created_at"
            ]
        },
    ),
    # The JSON form of ragged rows: a field too many, a field missing.
    "ragged-items": (
        json.dumps(
            [
                item("F-1"),
                item("F-2", extra="x"),
                {k: v for k, v in item("F-3").items() if k != "created_at"},
            ]
        ).encode(),
        JSON,
        400,
        {"errors": ["item 2: unknown field 'extra'", "item 3: missing field 'created_at'"]},
    ),
    "another-orgs-value-stream": (
        json.dumps([item("F-1"), item("F-2", stream="b-only")]).encode(),
        JSON,
        400,
        {"errors": ["item 2: value stream 'b-only' is unknown"]},
    ),
}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "answer"), API_REFUSALS.values(), ids=API_REFUSALS
)
def test_the_bulk_api_refuses_a_bad_body_with_its_reason_and_writes_nothing(
    seeded, body, content_type, status, answer
):
    a, b = seeded
    before = snapshot(a, b)
    response = client_for(a.editor).post(api_url(a), body, content_type=content_type)
    assert (response.status_code, response.json()) == (status, answer)
    assert snapshot(a, b) == before


def test_the_bulk_api_answers_multipart_with_415(seeded):
    a, b = seeded
    before = snapshot(a, b)
    file = SimpleUploadedFile("events.csv", GOOD.encode(), content_type="text/csv")
    response = client_for(a.editor).post(api_url(a), {"file": file})
    assert response.status_code == 415
    assert response.json()["detail"].startswith('Unsupported media type "multipart/form-data')
    assert snapshot(a, b) == before


@pytest.mark.parametrize(
    "body",
    [
        b"\xef\xbb\xbf" + ITEMS,
        json.dumps([item("F-1"), item("F-2")], indent=2).replace("\n", "\r\n").encode(),
    ],
    ids=["utf8-bom", "crlf"],
)
def test_the_bulk_api_takes_a_bom_and_crlf(seeded, body):
    a, b = seeded
    before_b = records(b.org)
    response = client_for(a.editor).post(api_url(a), body, content_type=JSON)
    assert response.status_code == 200, response.json()
    assert response.json()["created"] == 2
    assert records(b.org) == before_b


def test_the_bulk_api_takes_an_empty_list_as_nothing_to_import(seeded):
    a, b = seeded
    before = snapshot(a, b)
    response = client_for(a.editor).post(api_url(a), b"[]", content_type=JSON)
    assert response.status_code == 200
    assert (response.json()["created"], response.json()["updated"]) == (0, 0)
    assert snapshot(a, b) == before


# --- Django's request limits -------------------------------------------------------------


@pytest.fixture
def small_limits(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 20
    return settings


TOO_LARGE = (
    "The request body is over the limit of 2 KB (files uploaded through a form are "
    "limited separately); nothing was saved."
)


def test_an_api_body_over_the_limit_answers_413_in_json(seeded, small_limits):
    a, b = seeded
    before = snapshot(a, b)
    body = json.dumps([item(f"F-{n}") for n in range(40)]).encode()
    assert len(body) > 2048
    response = client_for(a.editor).post(api_url(a), body, content_type=JSON)
    assert response.status_code == 413
    assert response.json() == {"detail": TOO_LARGE}
    assert snapshot(a, b) == before


def test_an_api_body_under_the_limit_is_read(seeded, small_limits):
    a, _b = seeded
    body = json.dumps([item(f"F-{n}") for n in range(10)]).encode()
    assert len(body) <= 2048
    response = client_for(a.editor).post(api_url(a), body, content_type=JSON)
    assert (response.status_code, response.json()["created"]) == (200, 10)


def test_a_json_body_over_the_limit_to_a_page_answers_413_in_json(seeded, small_limits):
    """A client that sent JSON (a script, a webhook) reads the refusal as JSON."""
    a, _b = seeded
    url = reverse("event_import", kwargs={"org_slug": a.org.slug})
    response = client_for(a.editor).post(url, b"[" + b" " * 4096 + b"]", content_type=JSON)
    assert response.status_code == 413
    assert response.json() == {"detail": TOO_LARGE}


def test_a_form_field_over_the_limit_answers_413_with_a_page(seeded, small_limits):
    a, b = seeded
    before = snapshot(a, b)
    url = reverse("event_import", kwargs={"org_slug": a.org.slug})
    file = SimpleUploadedFile("events.csv", GOOD.encode(), content_type="text/csv")
    response = client_for(a.editor).post(url, {"kind": "x" * 4096, "file": file})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert TOO_LARGE in response.content.decode()
    assert 'data-testid="request-refused"' in response.content.decode()
    assert snapshot(a, b) == before
    assert uploads_of(a.org) == []


def test_a_urlencoded_body_over_the_limit_answers_413_before_it_is_read(seeded, small_limits):
    a, _b = seeded
    url = reverse("event_import", kwargs={"org_slug": a.org.slug})
    response = client_for(a.editor).post(
        url, "kind=" + "x" * 4096, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    assert TOO_LARGE in response.content.decode()


def test_an_uploaded_file_does_not_count_toward_the_body_limit(
    seeded, small_limits, django_capture_on_commit_callbacks
):
    a, _b = seeded
    content = (GOOD + "\n" * 4096).encode()
    outcome = via_page(a, "flow_items", content, "events.csv", django_capture_on_commit_callbacks)
    assert outcome.counts == {"created": 2, "updated": 0, "unchanged": 0}


def test_too_many_form_fields_answer_400_with_a_page(seeded, small_limits):
    a, _b = seeded
    url = reverse("event_import", kwargs={"org_slug": a.org.slug})
    fields = {f"f{n}": "x" for n in range(30)}
    body = encode_multipart("BoUnDaRy", fields)
    response = client_for(a.editor).post(
        url, body, content_type=MULTIPART_CONTENT.replace("BoUnDaRyStRiNg", "BoUnDaRy")
    )
    assert response.status_code == 400
    assert "The form sent more than 20 fields; nothing was saved." in response.content.decode()


def test_an_api_that_parses_forms_answers_a_field_over_the_limit_with_413(seeded, small_limits):
    """DRF parses the form itself: the refusal comes back through the view."""
    a, _b = seeded
    url = f"/api/v1/orgs/{a.org.slug}/teams/"
    response = client_for(a.editor).post(url, {"slug": "t", "name": "x" * 4096})
    assert response.status_code == 413
    assert response.json() == {"detail": TOO_LARGE}


def test_the_limit_does_not_let_another_orgs_member_learn_anything(seeded, small_limits):
    """A member of B posting too large a body to A's page is answered as for any
    page of A: not found, before the body is looked at."""
    a, b = seeded
    url = reverse("event_import", kwargs={"org_slug": a.org.slug})
    response = client_for(b.editor).post(
        url, "kind=" + "x" * 4096, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 404
