"""A name of 200 characters without a space (the longest a value stream may have) wraps
inside the page instead of widening it: at 1280 px the pages that show it scroll
vertically only.

The stream is a child of another such stream, so its name also shows as a parent (a
table column, a select's option, the cascade) on the same pages; the organization's
name, in the top bar, is as long.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from portfolio.tenancy import organization_context
from streams.models import ValueStream
from streams.services import value_stream_save
from tests.conftest import Tenant, _tenant
from tests.e2e.conftest import artifact_path
from tests.e2e.test_invitation_flow import log_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORT = {"width": 1280, "height": 900}
PARENT_NAME = "A" * 200
CHILD_NAME = "B" * 200
ORG_NAME = "O" * 200


@pytest.fixture
def tenant(transactional_db: None) -> Tenant:
    tenant = _tenant("org-a")
    tenant.org.name = ORG_NAME
    with organization_context(tenant.org.pk):
        tenant.org.save(update_fields=["name"])
    return tenant


@pytest.fixture
def streams(tenant: Tenant) -> tuple[ValueStream, ValueStream]:
    org = tenant.org
    with organization_context(org.pk):
        parent = value_stream_save(
            organization=org,
            value_stream=ValueStream(slug="long", name=PARENT_NAME, kind="business"),
        )
        child = value_stream_save(
            organization=org,
            value_stream=ValueStream(slug="longer", name=CHILD_NAME, parent=parent),
        )
    return parent, child


def overflow(page: Page) -> dict[str, int]:
    """The page's scroll width against the viewport's, and the widest element that
    sticks out past the right edge (to name it when the test fails)."""
    return page.evaluate(
        """() => {
            const root = document.documentElement;
            let widest = null, right = 0;
            for (const el of document.body.querySelectorAll('*')) {
                const r = el.getBoundingClientRect();
                if (r.right > right) { right = r.right; widest = el; }
            }
            return {
                scroll: root.scrollWidth,
                viewport: root.clientWidth,
                right: Math.round(right),
                widest: widest ? widest.tagName + '.' + widest.className : '',
            };
        }"""
    )


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("streams-list", "/o/org-a/streams/"),
        ("dashboard", "/o/org-a/streams/{child}/dashboard/"),
        ("stream-detail", "/o/org-a/streams/{child}/"),
        ("streams-overview", "/o/org-a/streams/overview/"),
        ("streams-tree", "/o/org-a/streams/tree/"),
    ],
)
def test_a_long_name_without_spaces_stays_inside_the_page(
    page: Page,
    live_server: LiveServer,
    tenant: Tenant,
    streams: tuple[ValueStream, ValueStream],
    name: str,
    path: str,
) -> None:
    page.set_viewport_size(VIEWPORT)
    log_in(page, tenant.viewer.email, PASSWORD)
    page.goto(path.format(child=streams[1].pk))
    # The name is on the page, whole (wrapped, not cut).
    expect(page.get_by_text(CHILD_NAME).first).to_be_visible()
    page.screenshot(path=str(artifact_path(f"long-name-{name}.png")), full_page=True)
    found = overflow(page)
    assert found["scroll"] <= VIEWPORT["width"], found
    assert found["right"] <= found["viewport"], found
