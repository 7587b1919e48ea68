"""The audit log in a real browser: a failed and a successful sign-in through the
login form show up on the admin's audit page, reached from the navigation, and the
action filter narrows the list over htmx without CSP violations or script errors."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import ConsoleMessage, Error, Page, expect

from tests.conftest import Tenant, _tenant
from tests.e2e.test_invitation_flow import log_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def org_a(transactional_db: None) -> Tenant:
    """``transactional_db``: the live server's thread only sees committed rows."""
    return _tenant("org-a")


def test_an_admin_reads_sign_ins_and_filters_the_log(page: Page, org_a: Tenant) -> None:
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # Chromium reports CSP violations as console errors, next to script errors.
        if message.type == "error":
            problems.append(f"console error on {page.url}: {message.text}")

    def on_page_error(error: Error) -> None:
        problems.append(f"uncaught exception on {page.url}: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)

    # A failed sign-in for the viewer, then the admin's own. The live server's first
    # answer imports every view module (8 s measured on a loaded 2-core machine).
    page.goto("/accounts/login/", timeout=60_000)
    page.get_by_label("Email").fill(org_a.viewer.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    log_in(page, org_a.admin.email, PASSWORD)

    page.goto(f"/o/{org_a.org.slug}/")
    page.locator("nav.mainnav").get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    rows = page.locator("#audit-events tbody tr")
    expect(rows).to_have_count(2)
    # Newest first: the admin's sign-in, then the viewer's failed one.
    expect(rows.nth(0)).to_contain_text("Signed in")
    expect(rows.nth(0)).to_contain_text(org_a.admin.email)
    expect(rows.nth(1)).to_contain_text("Failed sign-in")
    expect(rows.nth(1)).to_contain_text(org_a.viewer.email)
    expect(rows.nth(1)).to_contain_text("127.0.0.1")

    # Choosing an action swaps the results over htmx and keeps the filter in the URL.
    with page.expect_response(lambda r: "action=login.failed" in r.url) as answer:
        page.get_by_label("Action").select_option("login.failed")
    assert answer.value.request.headers.get("hx-request") == "true", "not sent by htmx"
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("Failed sign-in")
    expect(page).to_have_url(re.compile(r"/audit/\?.*action=login\.failed"))

    assert page.evaluate("typeof htmx") == "object"
    assert problems == [], "\n".join(problems)
