"""Importing event CSVs in a real browser: a bad file lists its bad lines; a good
file's progress bar polls until the import is done and shows the counts."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from portfolio.tenancy import organization_context
from streams.models import FlowItem, ValueStream
from streams.services import value_stream_save
from streams.tasks import event_upload_process
from tests.conftest import Tenant, _tenant
from tests.e2e.conftest import artifact_path
from tests.e2e.test_invitation_flow import log_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ITEMS = "key,type,title,value_stream,created_at\n"
GOOD = (
    ITEMS
    + "F-1,feature,Quote online,dental,2026-07-01T09:30:00Z\n"
    + "F-2,defect,,dental,2026-07-01T10:00:00+02:00\n"
    + "F-3,risk,Audit,dental,2026-07-02T08:00:00Z\n"
)
BAD = (
    ITEMS
    + "F-1,feature,Fine,dental,2026-07-01T09:30:00Z\n"
    + "F-2,story,Bad type,dental,2026-07-01T09:30:00Z\n"
    + "F-3,feature,Bad stream,nowhere,2026-07-01T09:30:00Z\n"
)


@pytest.fixture
def tenant(transactional_db: None, settings, tmp_path) -> Tenant:
    settings.MEDIA_ROOT = tmp_path
    t = _tenant("org-a")
    with organization_context(t.org.pk):
        value_stream_save(
            organization=t.org, value_stream=ValueStream(slug="dental", name="Dental")
        )
    return t


def upload(page: Page, kind: str, name: str, text: str) -> None:
    page.goto("/o/org-a/streams/import/")
    page.get_by_label("Kind").select_option(kind)
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}]
    )
    page.get_by_role("button", name="Upload and import").click()


def flow_item_keys(org) -> list[str]:
    with organization_context(org.pk):
        return sorted(FlowItem.objects.filter(organization=org).values_list("key", flat=True))


def test_a_bad_file_lists_its_bad_lines_and_imports_nothing(
    page: Page, live_server: LiveServer, tenant: Tenant
) -> None:
    log_in(page, tenant.editor.email, PASSWORD)
    # Celery is eager here: the import runs when the upload's request commits.
    upload(page, "flow_items", "bad.csv", BAD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Import of bad.csv")
    expect(page.get_by_test_id("upload-rejected")).to_contain_text(
        "The file has 2 bad lines; nothing was imported."
    )
    expect(page.get_by_test_id("upload-errors").locator("li")).to_have_text(
        [
            "line 3: type 'story' is not one of feature, defect, risk, debt",
            "line 4: value stream 'nowhere' is unknown",
        ]
    )
    expect(page.get_by_test_id("upload-status")).not_to_have_attribute("hx-trigger", "every 1s")
    page.screenshot(path=str(artifact_path("upload-rejected.png")), full_page=True)
    assert flow_item_keys(tenant.org) == []


def test_a_good_files_progress_bar_polls_until_the_counts_show(
    page: Page, live_server: LiveServer, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hold the task back, as a busy worker would, to watch the page poll.
    held: list[tuple] = []
    monkeypatch.setattr(event_upload_process, "delay_on_commit", lambda *args: held.append(args))
    log_in(page, tenant.editor.email, PASSWORD)
    upload(page, "flow_items", "items.csv", GOOD)
    status = page.get_by_test_id("upload-status")
    expect(status).to_have_attribute("data-status", "queued")
    expect(status).to_contain_text("Waiting for a worker")
    expect(status.locator("progress")).to_have_attribute("value", "0")
    page.screenshot(path=str(artifact_path("upload-queued.png")), full_page=True)

    assert len(held) == 1
    event_upload_process.delay(*held[0])  # the worker picks it up

    # htmx swaps the status in place: no reload, the bar fills and the counts show.
    expect(status).to_have_attribute("data-status", "done")
    expect(status.locator("progress")).to_have_attribute("value", "100")
    expect(page.get_by_test_id("upload-counts").locator("td")).to_have_text(["3", "0", "0"])
    expect(status).not_to_have_attribute("hx-trigger", "every 1s")
    page.screenshot(path=str(artifact_path("upload-done.png")), full_page=True)
    assert flow_item_keys(tenant.org) == ["F-1", "F-2", "F-3"]

    # The import page lists it among the organization's recent uploads.
    page.get_by_role("link", name="Import another file").click()
    row = page.get_by_test_id("recent-uploads").locator("tr", has_text="items.csv")
    expect(row).to_contain_text("3 created, 0 updated, 0 unchanged")
