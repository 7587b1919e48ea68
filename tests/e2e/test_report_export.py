"""Exporting the quarterly report in a real browser: the export's progress bar polls
until the worker is done, then the page offers a download per format."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from metrics.reports import exports
from metrics.tasks import report_export_build
from tests.conftest import Tenant, _tenant
from tests.e2e.conftest import artifact_path
from tests.e2e.test_invitation_flow import log_in
from tests.factories import PASSWORD
from tests.metrics.report_history import build_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(transactional_db: None) -> Tenant:
    t = _tenant("org-a")
    build_history(t.org)
    return t


def test_an_export_polls_until_its_files_can_be_downloaded(
    page: Page, live_server: LiveServer, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hold the task back, as a busy worker would, to watch the page poll.
    held: list[tuple] = []
    monkeypatch.setattr(report_export_build, "delay_on_commit", lambda *args: held.append(args))
    # The PDF's layout takes seconds and is not what this test is about.
    monkeypatch.setitem(exports.RENDERERS, "pdf", lambda data: b"%PDF-1.7 test")
    log_in(page, tenant.editor.email, PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Quarterly reports")
    page.get_by_label("Quarter").select_option("2026-Q3")
    page.get_by_role("button", name="Export PDF, XLSX and CSV").click()

    status = page.get_by_test_id("report-status")
    expect(status).to_have_attribute("data-status", "queued")
    expect(status).to_contain_text("Waiting for a worker")
    expect(status.locator("progress")).to_have_attribute("value", "0")

    assert len(held) == 1
    report_export_build.delay(*held[0])  # the worker picks it up

    # htmx swaps the status in place: the bar fills and the downloads appear.
    expect(status).to_have_attribute("data-status", "done")
    expect(status.locator("progress")).to_have_attribute("value", "100")
    downloads = page.get_by_test_id("report-downloads").locator("a")
    expect(downloads).to_have_count(3)
    expect(status).not_to_have_attribute("hx-trigger", "every 1s")
    page.screenshot(path=str(artifact_path("report-done.png")), full_page=True)
    with page.expect_download() as download:
        page.get_by_test_id("report-downloads").locator("a[data-format=csv]").click()
    assert download.value.suggested_filename == "org-a-2026-Q3-report-definitions-2026.1.csv"
    assert Path(download.value.path()).read_bytes().startswith(b"section,subject_type")

    # The reports page lists the export and the quarter it froze.
    page.get_by_role("link", name="All reports").click()
    expect(page.get_by_test_id("frozen-quarters")).to_contain_text("2026-Q3")
    expect(page.get_by_test_id("report-exports").locator("tbody tr")).to_contain_text("Done")
    page.screenshot(path=str(artifact_path("report-list.png")), full_page=True)
