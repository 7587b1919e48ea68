"""The user's path end to end, in Chromium: an org admin logs in, creates an objective
for a quarter with a key result linked to a value stream's flow time, links the
objective to the value stream, sees its progress, starts the quarterly export, waits
on the progress bar, and downloads the PDF, XLSX and CSV, whose contents are checked.

The history (tests/portfolio/test_okrs.py's): in 2026-Q3 the claims stream finishes
A-1 in 4 days and A-2 in 2, a median flow time of 3 days; from a baseline of 6 to a
target of 2, that is (3 - 6) / (2 - 6) = 75% progress.
"""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from metrics.tasks import report_export_build
from portfolio.tenancy import organization_context
from streams.ingest import events_import
from streams.models import ValueStream
from streams.services import value_stream_save
from tests.conftest import Tenant, _tenant
from tests.e2e.conftest import artifact_path
from tests.e2e.test_invitation_flow import log_in
from tests.factories import PASSWORD
from tests.portfolio.test_okrs import ITEMS, TRANSITIONS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(transactional_db: None) -> Tenant:
    t = _tenant("org-a")
    with organization_context(t.org.pk):
        value_stream_save(
            organization=t.org, value_stream=ValueStream(slug="claims", name="Claims delivery")
        )
        value_stream_save(
            organization=t.org, value_stream=ValueStream(slug="web", name="Web delivery")
        )
        for kind, text in (("flow_items", ITEMS), ("flow_transitions", TRANSITIONS)):
            events_import(organization=t.org, kind=kind, rows=io.StringIO(text))
    return t


def download(page: Page, fmt: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_test_id("report-downloads").locator(f'[data-format="{fmt}"]').click()
    path = info.value.path()
    assert path is not None
    with open(path, "rb") as file:
        return file.read()


def test_an_admin_links_okrs_and_exports_the_quarterly_report(
    page: Page, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1. Log in as the org admin.
    log_in(page, tenant.admin.email, PASSWORD)

    # 2. An objective for 2026-Q3 with a key result linked to the claims stream's flow time.
    page.get_by_role("link", name="OKRs", exact=True).click()
    page.get_by_role("link", name=re.compile(r"^Add the first objective")).click()
    page.locator("form [name=title]").fill("Pay claims faster")
    page.locator("form [name=quarter]").select_option("2026-Q3")
    page.get_by_role("button", name="Create objective").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pay claims faster")
    page.wait_for_load_state("load")  # htmx has bound the page's forms

    page.get_by_role("link", name="+ Add key result").click()
    form = page.locator("#kr-form-new")
    form.locator("[name=title]").fill("Claims flow time under 2 days")
    form.locator("[name=baseline]").fill("6")
    form.locator("[name=target]").fill("2")
    form.locator("[name=unit]").fill("days")
    form.locator("[name=measured_from]").select_option(label="Claims delivery")
    form.locator("[name=metric_key]").select_option(label="Flow time, median (days)")
    form.get_by_role("button", name="Add key result").click()
    results = page.locator("#key-results")
    expect(results.get_by_role("status")).to_contain_text("was added")

    # 3. Link the objective to the value stream.
    links = page.locator("#links")
    links.get_by_label("Link a value stream").select_option(label="Claims delivery")
    links.get_by_role("button", name="Link", exact=True).first.click()
    expect(links.get_by_role("status")).to_have_text("Value stream “Claims delivery” is linked.")

    # 4. See the progress: 75% for the key result and (its only one) the objective.
    page.reload()
    expect(page.get_by_test_id("kr-percent").first).to_have_text("75%")
    expect(page.get_by_test_id("objective-percent").first).to_have_text("75%")
    page.screenshot(path=str(artifact_path("user-path-objective.png")), full_page=True)

    # 5. Start the quarterly export, held back as a busy worker would hold it.
    held: list[tuple] = []
    monkeypatch.setattr(report_export_build, "delay_on_commit", lambda *args: held.append(args))
    page.get_by_role("link", name="Reports", exact=True).click()
    page.get_by_test_id("report-form").locator("[name=quarter]").select_option("2026-Q3")
    # The admin's recompute option wraps beside the button, never under it.
    option = (
        page.get_by_test_id("recompute").locator("xpath=following-sibling::span").bounding_box()
    )
    button = page.get_by_role("button", name="Export PDF, XLSX and CSV").bounding_box()
    assert option and button and option["x"] + option["width"] <= button["x"], (option, button)
    page.get_by_role("button", name="Export PDF, XLSX and CSV").click()

    # 6. Wait on the progress bar: queued, then done once a worker has built it.
    status = page.get_by_test_id("report-status")
    expect(status).to_have_attribute("data-status", "queued")
    expect(status.locator("progress")).to_have_attribute("value", "0")
    assert len(held) == 1
    report_export_build.delay(*held[0])  # the worker picks it up
    expect(status).to_have_attribute("data-status", "done")
    expect(status.locator("progress")).to_have_attribute("value", "100")
    expect(page.get_by_test_id("report-done")).to_contain_text("frozen")
    page.screenshot(path=str(artifact_path("user-path-report.png")), full_page=True)

    # 7. Download the three files and check what they say.
    rows = list(csv.DictReader(io.StringIO(download(page, "csv").decode("utf-8-sig"))))
    by_key = {(r["subject_type"], r["subject"], r["metric"]): r for r in rows}
    flow_time = by_key[("value_stream", "claims", "flow_time_median_days")]
    assert (float(flow_time["value"]), flow_time["unit"]) == (3.0, "days")
    key_result = ("key_result", "pay-claims-faster/claims-flow-time-under-2-days", "progress")
    assert float(by_key[key_result]["value"]) == 75.0
    assert float(by_key[("objective", "pay-claims-faster", "progress")]["value"]) == 75.0

    workbook = openpyxl.load_workbook(io.BytesIO(download(page, "xlsx")), read_only=True)
    assert {"Summary", "Flow", "DORA", "Journeys", "OKRs", "Weekly series"} <= set(
        workbook.sheetnames
    )
    okr_cells = [
        cell for row in workbook["OKRs"].iter_rows(values_only=True) for cell in row if cell
    ]
    assert "Pay claims faster" in okr_cells
    assert "Claims flow time under 2 days" in okr_cells

    pdf = PdfReader(io.BytesIO(download(page, "pdf")))
    text = "\n".join(p.extract_text() for p in pdf.pages)
    for name in ("Claims delivery", "Web delivery", "Pay claims faster", "2026-Q3"):
        assert name in text
