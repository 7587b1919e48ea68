"""The event CSV import page (streams.upload_views), its service (streams.uploads) and task."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from config.celery import app as celery_app
from portfolio.tenancy import organization_context
from streams import uploads
from streams.models import EventUpload, FlowItem, UploadStatus, ValueStream
from streams.services import value_stream_save
from streams.tasks import event_upload_process
from tests.conftest import client_for
from tests.portfolio.test_worker import worker as worker_fixture  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

ITEMS = "key,type,title,value_stream,created_at\n"
GOOD = (
    ITEMS
    + "F-1,feature,Quote online,dental,2026-07-01T09:30:00Z\n"
    + "F-2,defect,,dental,2026-07-01T10:00:00+02:00\n"
)
BAD = (
    ITEMS
    + "F-1,feature,Fine,dental,2026-07-01T09:30:00Z\n"
    + "F-2,story,Bad type,dental,2026-07-01T09:30:00Z\n"
    + "F-3,feature,Bad stream,nowhere,2026-07-01T09:30:00Z\n"
    + "F-4,feature,No offset,dental,2026-07-01T09:30:00\n"
)
BAD_ERRORS = [
    "line 3: type 'story' is not one of feature, defect, risk, debt",
    "line 4: value stream 'nowhere' is unknown",
    "line 5: created_at '2026-07-01T09:30:00' has no UTC offset; "
    "expected ISO 8601 with Z or +hh:mm, e.g. 2026-07-01T09:30:00Z",
]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def dental(tenant_a) -> ValueStream:
    with organization_context(tenant_a.org.pk):
        return value_stream_save(
            organization=tenant_a.org, value_stream=ValueStream(slug="dental", name="Dental")
        )


def import_url(org) -> str:
    return reverse("event_import", kwargs={"org_slug": org.slug})


def upload_url(org, upload_id: int) -> str:
    return reverse("event_upload", kwargs={"org_slug": org.slug, "upload_id": upload_id})


def post(client, org, content: bytes | str, *, kind: str = "flow_items", name: str = "e.csv"):
    if isinstance(content, str):
        content = content.encode()
    file = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(import_url(org), {"kind": kind, "file": file})


def the_upload(org) -> EventUpload:
    with organization_context(org.pk):
        return EventUpload.objects.get(organization=org)


def flow_item_keys(org) -> list[str]:
    with organization_context(org.pk):
        return sorted(FlowItem.objects.filter(organization=org).values_list("key", flat=True))


# --- Roles and organizations ---------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "editor"])
def test_editors_and_admins_see_the_import_page(tenant_a, role):
    response = client_for(tenant_a.member(role)).get(import_url(tenant_a.org))
    assert response.status_code == 200
    assert b"Upload and import" in response.content


def test_viewers_may_neither_see_nor_use_the_import_page(tenant_a, dental, media_root):
    client = client_for(tenant_a.viewer)
    assert client.get(import_url(tenant_a.org)).status_code == 403
    assert post(client, tenant_a.org, GOOD).status_code == 403
    with organization_context(tenant_a.org.pk):
        assert not EventUpload.objects.exists()
    assert not any(media_root.rglob("*.csv"))


def test_another_organizations_upload_answers_404(
    tenant_a, tenant_b, dental, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post(client_for(tenant_a.editor), tenant_a.org, GOOD)
    upload = the_upload(tenant_a.org)
    b_editor = client_for(tenant_b.editor)
    assert b_editor.get(upload_url(tenant_b.org, upload.pk)).status_code == 404
    assert b_editor.get(upload_url(tenant_a.org, upload.pk)).status_code == 404
    assert client_for(tenant_a.editor).get(upload_url(tenant_a.org, 2_000_000)).status_code == 404
    assert client_for(tenant_a.viewer).get(upload_url(tenant_a.org, upload.pk)).status_code == 403


# --- Files refused before anything is stored ------------------------------------------


def refused(response, status: int) -> str:
    assert response.status_code == status
    return response.context["error"]


def test_a_file_over_the_limit_is_refused_with_413(tenant_a, monkeypatch, media_root):
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 1024 * 1024)
    big = ITEMS.encode() + b"x" * (1024 * 1024)
    response = post(client_for(tenant_a.editor), tenant_a.org, big, name="big.csv")
    assert refused(response, 413) == "big.csv is 1.0 MB; the limit is 1 MB."
    assert b"the limit is 1 MB" in response.content
    with organization_context(tenant_a.org.pk):
        assert not EventUpload.objects.exists()
    assert not any(media_root.rglob("*.csv"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            ITEMS.encode() + b"F-1,feature,Caf\xe9,dental,2026-07-01T09:30:00Z\n",
            "latin1.csv is not UTF-8 text: line 2, byte 16 is 0xE9; "
            "expected a CSV file saved as UTF-8.",
        ),
        (
            ITEMS.encode() + b"F-1,feature,\xc3",
            "latin1.csv is not UTF-8 text: it ends inside a character on line 2; "
            "expected a CSV file saved as UTF-8.",
        ),
        (
            ITEMS.encode() + b"F-1,feature,a\x00b,dental,2026-07-01T09:30:00Z\n",
            "latin1.csv holds a NUL byte on line 2; expected CSV text.",
        ),
        (b"", "latin1.csv is empty; expected a CSV file with a header row."),
        (b"\xef\xbb\xbf \r\n", "latin1.csv is empty; expected a CSV file with a header row."),
    ],
    ids=["not-utf8", "truncated-utf8", "nul", "empty", "bom-and-blank"],
)
def test_unreadable_files_are_refused_with_a_clear_message(tenant_a, content, message):
    response = post(client_for(tenant_a.editor), tenant_a.org, content, name="latin1.csv")
    assert refused(response, 400) == message
    with organization_context(tenant_a.org.pk):
        assert not EventUpload.objects.exists()


def test_a_missing_file_or_an_unknown_kind_is_refused(tenant_a):
    client = client_for(tenant_a.editor)
    response = client.post(import_url(tenant_a.org), {"kind": "flow_items"})
    assert refused(response, 400) == "Choose a CSV file to import."
    response = post(client, tenant_a.org, GOOD, kind="stories")
    assert refused(response, 400) == (
        "kind 'stories' is not one of "
        "flow_items, flow_transitions, deployments, changes, incidents, journey_events."
    )


# --- Imports ---------------------------------------------------------------------------


def test_a_good_file_is_stored_imported_and_counted(
    tenant_a, dental, media_root, django_capture_on_commit_callbacks
):
    client = client_for(tenant_a.editor)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = post(client, tenant_a.org, "\ufeff" + GOOD, name="items.csv")
    # The upload's import, then (queued by the import) the debounced KPI recompute.
    assert [callback.func.__self__.name for callback in queued] == [
        "streams.tasks.event_upload_process",
        "metrics.tasks.kpis_recompute",
    ]
    upload = the_upload(tenant_a.org)
    assert response.status_code == 302
    assert response["Location"] == upload_url(tenant_a.org, upload.pk)
    assert upload.status == UploadStatus.DONE
    assert upload.progress == 100
    assert upload.counts == {"created": 2, "updated": 0, "unchanged": 0}
    assert upload.errors == [] and upload.error_count == 0
    assert upload.original_name == "items.csv"
    assert upload.size == len(("\ufeff" + GOOD).encode())
    assert upload.uploaded_by == tenant_a.editor
    assert upload.started_at <= upload.finished_at
    assert upload.file.name.startswith(f"uploads/{tenant_a.org.pk}/")
    assert (media_root / upload.file.name).read_bytes() == ("\ufeff" + GOOD).encode()
    assert flow_item_keys(tenant_a.org) == ["F-1", "F-2"]

    page = client.get(upload_url(tenant_a.org, upload.pk))
    assert page.status_code == 200
    counts = page.content.decode().split('data-testid="upload-counts"')[1]
    assert '<td class="num">2</td><td class="num">0</td><td class="num">0</td>' in counts
    listing = client.get(import_url(tenant_a.org)).content.decode()
    assert "items.csv" in listing and "2 created, 0 updated, 0 unchanged" in listing


def test_a_bad_file_is_rejected_with_every_bad_line_and_imports_nothing(
    tenant_a, dental, django_capture_on_commit_callbacks
):
    client = client_for(tenant_a.editor)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, tenant_a.org, BAD)
    upload = the_upload(tenant_a.org)
    assert upload.status == UploadStatus.REJECTED
    assert upload.progress == 100
    assert upload.errors == BAD_ERRORS
    assert upload.error_count == 3
    assert upload.counts == {}
    assert flow_item_keys(tenant_a.org) == []

    page = client.get(upload_url(tenant_a.org, upload.pk)).content.decode()
    assert "The file has 3 bad lines; nothing was imported." in page
    listed = page.split('data-testid="upload-errors"')[1].split("</ul>")[0]
    assert listed.count("<li>") == 3
    assert "line 4: value stream &#x27;nowhere&#x27; is unknown" in listed


def test_a_rejection_keeps_the_first_errors_and_counts_the_rest(
    tenant_a, dental, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(uploads, "ERRORS_KEPT", 2)
    client = client_for(tenant_a.editor)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, tenant_a.org, BAD)
    upload = the_upload(tenant_a.org)
    assert upload.errors == BAD_ERRORS[:2]
    assert (upload.error_count, upload.errors_omitted) == (3, 1)
    page = client.get(upload_url(tenant_a.org, upload.pk)).content.decode()
    assert "The file has 3 bad lines" in page
    assert "… and 1 more." in page


def test_an_unexpected_error_fails_the_upload_without_leaking_it(
    tenant_a, dental, monkeypatch, django_capture_on_commit_callbacks
):
    def explode(**kwargs):
        raise RuntimeError("connection to secret-host:5432 lost")

    monkeypatch.setattr(uploads, "events_import", explode)
    client = client_for(tenant_a.editor)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, tenant_a.org, GOOD)
    upload = the_upload(tenant_a.org)
    assert upload.status == UploadStatus.FAILED
    assert upload.message == uploads.FAILED_MESSAGE
    page = client.get(upload_url(tenant_a.org, upload.pk)).content.decode()
    assert uploads.FAILED_MESSAGE in page
    assert "secret-host" not in page and "Traceback" not in page


def test_a_missing_stored_file_fails_the_upload(
    tenant_a, dental, media_root, django_capture_on_commit_callbacks
):
    post(client_for(tenant_a.editor), tenant_a.org, GOOD)
    upload = the_upload(tenant_a.org)
    (media_root / upload.file.name).unlink()
    assert event_upload_process.delay(tenant_a.org.pk, upload.pk).get() == UploadStatus.FAILED
    upload = the_upload(tenant_a.org)
    assert (upload.status, upload.message) == (UploadStatus.FAILED, uploads.MISSING_FILE_MESSAGE)


# --- The polling partial and the task's idempotency -----------------------------------


def test_the_status_partial_polls_until_the_upload_is_finished(tenant_a, dental):
    client = client_for(tenant_a.editor)
    post(client, tenant_a.org, GOOD)  # on_commit never runs here: the task stays queued
    upload = the_upload(tenant_a.org)
    assert (upload.status, upload.progress) == (UploadStatus.QUEUED, 0)
    url = upload_url(tenant_a.org, upload.pk)

    queued = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert queued.lstrip().startswith('<section id="upload-status"')
    assert "<h1>" not in queued
    assert 'hx-trigger="every 1s"' in queued and f'hx-get="{url}"' in queued
    assert 'value="0"' in queued

    with organization_context(tenant_a.org.pk):
        EventUpload.objects.filter(pk=upload.pk).update(status=UploadStatus.RUNNING, progress=10)
    running = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in running and 'value="10"' in running

    event_upload_process.delay(tenant_a.org.pk, upload.pk)
    for page in (client.get(url, headers={"HX-Request": "true"}), client.get(url)):
        html = page.content.decode()
        assert 'data-status="done"' in html and 'value="100"' in html
        assert "hx-trigger" not in html


def test_the_task_does_not_rerun_a_finished_upload(
    tenant_a, dental, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post(client_for(tenant_a.editor), tenant_a.org, GOOD)
    done = the_upload(tenant_a.org)
    assert event_upload_process.delay(tenant_a.org.pk, done.pk).get() is None
    assert the_upload(tenant_a.org).finished_at == done.finished_at
    # Neither a missing upload nor a missing organization is an error.
    assert event_upload_process.delay(tenant_a.org.pk, 2_000_000).get() is None
    assert event_upload_process.delay(2_000_000, done.pk).get() is None


def test_a_running_upload_whose_worker_died_is_imported_again_to_the_same_end(
    tenant_a, dental, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post(client_for(tenant_a.editor), tenant_a.org, GOOD)
    upload = the_upload(tenant_a.org)
    # The worker crashed after committing the import, before recording the outcome.
    with organization_context(tenant_a.org.pk):
        EventUpload.objects.filter(pk=upload.pk).update(
            status=UploadStatus.RUNNING, progress=10, counts={}, finished_at=None
        )
    assert event_upload_process.delay(tenant_a.org.pk, upload.pk).get() == UploadStatus.DONE
    again = the_upload(tenant_a.org)
    assert again.status == UploadStatus.DONE
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 2}
    assert flow_item_keys(tenant_a.org) == ["F-1", "F-2"]


def test_uploads_are_listed_newest_first_for_their_organization_only(
    tenant_a, tenant_b, django_capture_on_commit_callbacks
):
    post(client_for(tenant_a.editor), tenant_a.org, GOOD, name="first.csv")
    post(client_for(tenant_a.editor), tenant_a.org, GOOD, name="second.csv")
    post(client_for(tenant_b.editor), tenant_b.org, GOOD, name="theirs.csv")
    page = client_for(tenant_a.admin).get(import_url(tenant_a.org)).content.decode()
    assert page.index("second.csv") < page.index("first.csv")
    assert "theirs.csv" not in page


@pytest.fixture
def worker_media(media_root, monkeypatch):
    """The worker process reads the files this process stored."""
    monkeypatch.setenv("MEDIA_ROOT", str(media_root))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_imports_an_upload_queued_on_commit(tenant_a, dental, worker_media, request):
    queue, tmp_path, proc = request.getfixturevalue("worker_fixture")
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.task_default_queue
    conf.task_always_eager, conf.task_default_queue = False, queue
    try:
        response = post(client_for(tenant_a.editor), tenant_a.org, GOOD)
    finally:
        conf.task_always_eager, conf.task_default_queue = saved
    assert response.status_code == 302
    deadline = time.monotonic() + 90
    upload = the_upload(tenant_a.org)
    while time.monotonic() < deadline and not upload.finished:
        assert proc.poll() is None, (tmp_path / "worker.log").read_text()
        time.sleep(0.5)
        upload = the_upload(tenant_a.org)
    log = (tmp_path / "worker.log").read_text()
    assert upload.status == UploadStatus.DONE, log
    assert upload.counts == {"created": 2, "updated": 0, "unchanged": 0}
    assert "streams.tasks.event_upload_process" in log
    assert flow_item_keys(tenant_a.org) == ["F-1", "F-2"]
