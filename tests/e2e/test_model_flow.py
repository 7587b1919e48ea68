"""Building the model in a real browser: a value stream with stages, reordered,
then a journey whose touchpoint is served by one of those stages; the link shows
on both the journey map and the value stream page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from journeys.models import Touchpoint
from portfolio.tenancy import organization_context
from streams.models import Stage
from tests.conftest import Tenant, _tenant
from tests.e2e.test_invitation_flow import log_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(transactional_db: None) -> Tenant:
    return _tenant("org-a")


def stage_names(page: Page) -> list[str]:
    return page.locator("#stages li.stage input.stage-name").evaluate_all(
        "inputs => inputs.map(i => i.value)"
    )


def test_value_stream_stages_reordered_then_linked_from_a_journey(
    page: Page, live_server: LiveServer, tenant: Tenant
) -> None:
    log_in(page, tenant.editor.email, PASSWORD)

    # A value stream, from the list page's form.
    page.goto("/o/org-a/streams/")
    page.get_by_label("Name", exact=False).first.fill("Claims delivery")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Claims delivery")
    stream_url = page.url

    # Three stages, added in place (htmx) without leaving the page.
    for name in ("Develop", "Test", "Build"):
        page.get_by_label("New stage").fill(name)
        page.get_by_role("button", name="Add stage").click()
        expect(page.locator("#stages li.stage")).to_have_count(
            ["Develop", "Test", "Build"].index(name) + 1
        )
    assert page.url == stream_url
    assert stage_names(page) == ["Develop", "Test", "Build"]

    # Reorder with the buttons: Build up one place, then Test down to the end.
    page.get_by_role("button", name="Move Build up").click()
    expect(page.locator("#stages li.stage input.stage-name").nth(1)).to_have_value("Build")
    assert stage_names(page) == ["Develop", "Build", "Test"]
    with organization_context(tenant.org.pk):
        stored = list(Stage.objects.order_by("position").values_list("name", flat=True))
    assert stored == ["Develop", "Build", "Test"]

    # A journey with a stage and a touchpoint served by the stream's Build stage.
    page.goto("/o/org-a/journeys/")
    page.locator("form[action$='/journeys/new/'] input[name=name]").fill("Make a claim")
    page.get_by_role("button", name="Create journey").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Make a claim")
    journey_url = page.url
    page.locator("#stage-add input[name=name]").fill("Lodge claim")
    page.get_by_role("button", name="Add stage").click()
    expect(page.locator("li.jm-stage[data-stage='lodge-claim']")).to_be_visible()
    page.get_by_role("link", name="+ Add touchpoint").click()
    form = page.locator(".jm-tp.jm-editing form")
    form.locator("input[name=name]").fill("Online claim form")
    form.locator("select[name=channel]").select_option("web")
    form.locator("select[name=value_stream_stage]").select_option(label="Build")
    form.get_by_role("button", name="Add touchpoint").click()
    touchpoint = page.locator("li.jm-tp[data-touchpoint='online-claim-form']")
    expect(touchpoint).to_be_visible()
    assert page.url == journey_url

    # The journey map names the stream and stage behind the touchpoint, and links to it.
    serves = touchpoint.locator("dl.jm-serves")
    expect(serves).to_contain_text("Claims delivery \u203a Build")  # a single right angle quote
    serves.get_by_role("link", name="Claims delivery").click()
    expect(page).to_have_url(stream_url)

    # The value stream page lists the journey's touchpoint it serves, linking back.
    served = page.locator(
        "section", has=page.get_by_role("heading", name="Journeys this stream serves")
    )
    row = served.locator("tr", has_text="Online claim form")
    expect(row).to_contain_text("Make a claim")
    expect(row).to_contain_text("Lodge claim")
    expect(row).to_contain_text("Build")
    row.get_by_role("link", name="Make a claim").click()
    expect(page).to_have_url(re.compile(re.escape(journey_url) + "$"))
    with organization_context(tenant.org.pk):
        tp = Touchpoint.objects.select_related("value_stream_stage").get(slug="online-claim-form")
    assert tp.value_stream_stage.name == "Build"
