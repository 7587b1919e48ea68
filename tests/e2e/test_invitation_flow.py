"""The invitation journey in a real browser: an admin of two organizations switches
between them, invites a newcomer with the htmx form, and the newcomer signs up
through the link and lands in the organization."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import ConsoleMessage, Error, Page, expect
from pytest_django.live_server_helper import LiveServer

from portfolio.models import Membership, Organization, Role
from portfolio.tenancy import organization_context
from tests.conftest import Tenant, _tenant
from tests.e2e.conftest import artifact_path
from tests.factories import PASSWORD, add_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEWCOMER = "newcomer@example.com"
# Must pass the project's password validators (length, common, numeric, similarity).
NEWCOMER_PASSWORD = "Lantern-Orchard-47-Quill"


def log_in(page: Page, email: str, password: str) -> None:
    """Sign in through the login form, as a user would."""
    page.goto("/accounts/login/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Throughline")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    # Signed-in pages show the email in the user menu; a failed login re-renders
    # the form instead (its alert is then in the failure screenshot).
    expect(page.locator("details.usermenu summary")).to_have_text(email)


def switch_to(page: Page, org: Organization) -> None:
    """Open the organization switcher in the top bar and pick ``org``."""
    switcher = page.get_by_test_id("org-switcher")
    switcher.locator("summary").click()
    switcher.locator("a", has_text=org.name).click()
    expect(page).to_have_url(re.compile(rf"/o/{re.escape(org.slug)}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(org.name)
    # The switcher now names the organization the user is in.
    expect(switcher.locator("summary")).to_have_text(org.name)


def sign_out(page: Page) -> None:
    """Sign out with the POST button inside the user menu."""
    menu = page.locator("details.usermenu")
    menu.locator("summary").click()
    menu.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.locator("details.usermenu")).to_have_count(0)


@pytest.fixture
def two_orgs(transactional_db: None) -> tuple[Tenant, Tenant]:
    """Org A and org B, built with the shared helpers; A's admin is also an editor of B.

    ``transactional_db``: the live server's thread only sees committed rows.
    """
    tenant_a, tenant_b = _tenant("org-a"), _tenant("org-b")
    add_member(tenant_b.org, tenant_a.admin, Role.EDITOR)
    return tenant_a, tenant_b


def test_admin_invites_a_newcomer_who_signs_up_and_joins(
    page: Page,
    live_server: LiveServer,
    two_orgs: tuple[Tenant, Tenant],
) -> None:
    tenant_a, tenant_b = two_orgs
    org_a, org_b = tenant_a.org, tenant_b.org
    # With SITE_URL unset, the link the admin copies is on the address the admin
    # used, the live server's: the one the newcomer can open.

    # 1. A's admin signs in; belonging to two organizations, they get the chooser.
    log_in(page, tenant_a.admin.email, PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your organizations")

    # 2. The switcher takes them to org B and back to org A.
    switch_to(page, org_b)
    expect(page.get_by_text("you are editor")).to_be_visible()
    switch_to(page, org_a)
    expect(page.get_by_text("you are admin")).to_be_visible()

    # 3. Members: invite the newcomer as an editor. The form posts with htmx and
    # swaps #invitations in place, so the URL must not change.
    page.locator("nav.mainnav").get_by_role("link", name="Members").click()
    expect(page).to_have_url(re.compile(rf"/o/{org_a.slug}/members/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    invitations = page.locator("#invitations")
    invitations.get_by_label("Email").fill(NEWCOMER)
    invitations.get_by_label("Role").select_option(Role.EDITOR)
    # htmx leaves the page as it was when the server errors; check the answer
    # itself so a 500 fails here, by name, rather than as a missing element.
    with page.expect_response(lambda r: r.url.endswith("/members/invite/")) as answer:
        invitations.get_by_role("button", name="Send invitation").click()
    assert answer.value.status == 200, f"invite answered {answer.value.status}"
    assert answer.value.request.headers.get("hx-request") == "true", "not sent by htmx"

    notice = page.get_by_test_id("invitation-link")
    expect(notice).to_contain_text(f"Invitation created for {NEWCOMER} as editor")
    expect(page).to_have_url(re.compile(rf"/o/{org_a.slug}/members/$"))
    pending = invitations.locator("table tbody tr", has_text=NEWCOMER)
    expect(pending).to_contain_text("Editor")
    # The form is reset for the next invitation.
    expect(invitations.get_by_label("Email")).to_have_value("")
    link = notice.locator("input").input_value()
    assert link.startswith(f"{live_server.url}/invitations/"), link
    # Kept as a review artifact (test-artifacts/ is git-ignored).
    page.screenshot(path=str(artifact_path("members-invite.png")), full_page=True)

    # 4. The admin signs out; the newcomer opens the link and signs up.
    sign_out(page)
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Join {org_a.name}")
    expect(page.get_by_text(f"You are invited as editor, for {NEWCOMER}.")).to_be_visible()
    page.get_by_label("Password", exact=True).fill(NEWCOMER_PASSWORD)
    page.get_by_label("Password again").fill(NEWCOMER_PASSWORD)
    page.get_by_role("button", name="Sign up and join").click()

    # 5. They land, signed in, on org A's overview, counted among its members.
    expect(page).to_have_url(re.compile(rf"/o/{org_a.slug}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(org_a.name)
    expect(page.get_by_role("status")).to_contain_text(f"Welcome to {org_a.name}.")
    expect(page.locator("details.usermenu summary")).to_have_text(NEWCOMER)
    expect(page.get_by_text("you are editor")).to_be_visible()
    # Admin, editor and viewer from the fixture, plus the newcomer.
    members_stat = page.get_by_label("Counts").locator(".stat", has_text="members").first
    expect(members_stat.locator(".num")).to_have_text("4")
    expect(page.locator("table tbody tr", has_text=NEWCOMER)).to_contain_text("Editor")

    with organization_context(org_a.pk):
        assert Membership.objects.filter(
            organization=org_a, user__email=NEWCOMER, role=Role.EDITOR
        ).exists()


def test_pages_load_without_csp_violations_or_js_errors(
    page: Page, two_orgs: tuple[Tenant, Tenant]
) -> None:
    tenant_a, _ = two_orgs
    org = tenant_a.org
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # Chromium reports CSP violations (blocked inline scripts or styles,
        # foreign origins) as console errors, next to ordinary script errors.
        if message.type == "error":
            problems.append(f"console error on {page.url}: {message.text}")

    def on_page_error(error: Error) -> None:
        problems.append(f"uncaught exception on {page.url}: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    # The securitypolicyviolation event names the directive and the blocked URI,
    # which the console text does not always do. Init scripts run outside the
    # page's CSP, so this listener cannot itself be blocked.
    page.add_init_script(
        """
        window.__cspViolations = [];
        document.addEventListener("securitypolicyviolation", (e) => {
          window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
        });
        """
    )

    log_in(page, tenant_a.admin.email, PASSWORD)
    for path, heading in ((f"/o/{org.slug}/", org.name), (f"/o/{org.slug}/members/", "Members")):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        page.wait_for_load_state("load")
        assert page.evaluate("typeof htmx") == "object", f"htmx did not load on {path}"
        violations = page.evaluate("window.__cspViolations")
        assert violations == [], f"CSP violations on {path}: {violations}"

    # One htmx round trip too: a swap is where a CSP slip (an inline script or
    # style in the swapped markup) or a missing CSRF header would show.
    row = page.locator(f'tr[data-email="{tenant_a.viewer.email}"]')
    row.get_by_label(f"Role of {tenant_a.viewer.email}").select_option(Role.EDITOR)
    with page.expect_response(lambda r: r.url.endswith("/role/")) as answer:
        row.get_by_role("button", name="Change").click()
    assert answer.value.status == 200, f"role change answered {answer.value.status}"
    assert answer.value.request.headers.get("hx-request") == "true", "not sent by htmx"
    expect(page).to_have_url(re.compile(rf"/o/{org.slug}/members/$"))
    expect(row.get_by_label(f"Role of {tenant_a.viewer.email}")).to_have_value(Role.EDITOR)
    assert page.evaluate("window.__cspViolations") == []

    assert problems == [], "\n".join(problems)
