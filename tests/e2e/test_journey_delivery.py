"""The journey-to-delivery view in a real browser: from the journey map to the view,
a period picked, the weakest touchpoint first, and a flow number leading to the
dashboard of the stream behind it for the same period.

The journey, its delivery streams and their histories are those of
tests/journeys/test_delivery_view.py, whose comments work out every number.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tests.conftest import Tenant, _tenant
from tests.e2e.test_invitation_flow import log_in
from tests.factories import PASSWORD
from tests.journeys.test_delivery_view import (
    DELIVERY_EVENTS,
    JOURNEY_EVENTS,
    import_rows,
    make_claim_journey,
    make_delivery,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(transactional_db: None) -> Tenant:
    return _tenant("org-a")


def test_a_viewer_finds_the_weakest_touchpoint_and_the_flow_behind_it(
    page: Page, live_server: LiveServer, tenant: Tenant
) -> None:
    org = tenant.org
    delivery = make_delivery(org)
    journey = make_claim_journey(org, delivery)
    import_rows(org, "journey_events", JOURNEY_EVENTS, journey="claim")
    for kind, rows in DELIVERY_EVENTS.items():
        import_rows(org, kind, rows)

    log_in(page, tenant.viewer.email, PASSWORD)
    page.goto(f"/o/org-a/journeys/{journey.pk}/")
    page.get_by_role("link", name="Journey to delivery").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Make a claim: journey to delivery"
    )

    # The history is in 2026-Q3: pick it with the custom dates of the period picker.
    picker = page.locator("form", has=page.locator("#pick-from"))
    picker.locator("#pick-from").fill("2026-07-01")
    picker.locator("#pick-to").fill("2026-09-30")
    picker.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("2026-07-01 to 2026-09-30")
    expect(page.get_by_test_id("weakness-rule")).to_contain_text("lowest touchpoint NPS first")

    # Weakest first: status (NPS -25, emotion -2) leads, in its stage Assess.
    first = page.locator("li.jd-tp").first
    expect(first).to_have_attribute("data-touchpoint", "status")
    expect(first.locator(".jd-rank")).to_have_text("#1")
    expect(first.locator(".jd-nps")).to_have_text("\u221225")
    expect(first.locator(".jd-emotion")).to_contain_text("very negative")
    expect(page.locator("section.jd-stage").first).to_have_attribute("data-stage", "assess")
    expect(page.locator("li.jd-tp").last).to_have_attribute("data-touchpoint", "letter")
    expect(page.locator("li.jd-tp").last).to_contain_text("Not linked to delivery")

    # Behind it: Digital delivery, through member web; its flow time links to its
    # dashboard for the same period.
    row = first.locator("tr", has_text="Digital delivery")
    expect(row).to_contain_text("via Member web")
    flow_time = row.locator("td[data-metric=flow_time_median_days] a")
    expect(flow_time).to_contain_text("10.0")
    flow_time.click()
    expect(page).to_have_url(
        re.compile(
            rf"/o/org-a/streams/{delivery.digital.pk}/dashboard/"
            r"\?period=custom&from=2026-07-01&to=2026-09-30$"
        )
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("Digital delivery")
    expect(page.locator(".db-tile[data-metric=flow_time_median_days] .db-value")).to_contain_text(
        "10.0"
    )
