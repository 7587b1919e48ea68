"""The OKR pages in a real browser: an editor filters the board, checks in on a key
result and sees its progress change in place (htmx, no page load), adds a key result
on the objective's page and links a journey to the objective.

The OKRs are tests/portfolio/test_okr_views.py's: "Assessors trained" goes from 0 to
10 people, so a check-in of 4 is 40% progress, for the key result and its objective.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Tenant, _tenant
from tests.e2e.test_invitation_flow import log_in
from tests.factories import PASSWORD
from tests.portfolio.test_okr_views import make_okrs

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(transactional_db: None) -> Tenant:
    return _tenant("org-a")


def test_an_editor_checks_in_on_the_board_and_works_on_an_objective(
    page: Page, tenant: Tenant
) -> None:
    okrs = make_okrs(tenant)
    log_in(page, tenant.editor.email, PASSWORD)
    page.get_by_role("link", name="OKRs", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("OKRs")
    expect(page.get_by_test_id("status-rule")).to_contain_text("share of the quarter gone by")
    # htmx binds the filters once the page has loaded; a change before that is lost.
    page.wait_for_load_state("load")

    # Filtering by a value stream keeps its objective and dims the one it is aligned to.
    page.locator("#id_value_stream").select_option(label="Web delivery")
    expect(page).to_have_url(re.compile(rf"value_stream={okrs.web.pk}"))
    expect(page.locator('[data-objective="safer"]')).to_be_visible()
    expect(page.locator('[data-objective="faster"]')).to_have_attribute("data-context", "true")
    expect(page.locator('[data-objective="recommend"]')).to_have_count(0)
    page.get_by_role("link", name="Clear filters").click()
    expect(page.locator('[data-objective="recommend"]')).to_be_visible()

    # A check-in swaps the key result's row and the objective's progress in place.
    page.evaluate("window.notReloaded = true")
    row = page.locator(f"#kr-{okrs.manual.pk}")
    row.locator("summary").click()
    row.get_by_label("Value (people)").fill("4")
    row.get_by_label("Confidence").fill("7")
    row.get_by_label("Note").fill("Four through the course")
    row.get_by_role("button", name="Check in").click()
    expect(row.get_by_test_id("kr-percent")).to_have_text("40%")
    expect(row.get_by_role("status")).to_have_text("Checked in: progress is now 40%.")
    objective = page.locator(f"#objective-{okrs.parent.pk}-progress")
    expect(objective.get_by_test_id("objective-percent")).to_have_text("40%")
    assert page.evaluate("window.notReloaded") is True

    # On the objective's page: the history, a new key result, a linked journey.
    page.get_by_role("link", name="Pay claims faster").click()
    card = page.locator(f"#kr-{okrs.manual.pk}")
    expect(card.locator("table")).to_contain_text("Four through the course")
    page.wait_for_load_state("load")
    page.get_by_role("link", name="+ Add key result").click()
    form = page.locator("#kr-form-new")
    form.locator("[name=title]").fill("Claims reopened")
    form.locator("[name=baseline]").fill("20")
    form.locator("[name=target]").fill("15")
    form.locator("[name=measured_from]").select_option(label="Make a claim")
    form.locator("[name=metric_key]").select_option(label="Flow velocity (items)")
    form.get_by_role("button", name="Add key result").click()
    # The service's rule, on the form, with what was typed kept.
    expect(form.locator(".error")).to_contain_text("is not a journey metric")
    expect(form.locator("[name=title]")).to_have_value("Claims reopened")
    form.locator("[name=metric_key]").select_option(label="Journey lead time, median (days)")
    form.get_by_role("button", name="Add key result").click()
    results = page.locator("#key-results")
    expect(results.get_by_role("status")).to_have_text("Key result “Claims reopened” was added.")
    expect(results).to_contain_text("Measured from Journey lead time, median of Make a claim")

    links = page.locator("#links")
    links.get_by_label("Link a value stream").select_option(label="Web delivery")
    links.get_by_role("button", name="Link", exact=True).first.click()
    expect(links.get_by_role("status")).to_have_text("Value stream “Web delivery” is linked.")
    expect(links.locator('[data-value-stream="web"]')).to_be_visible()
