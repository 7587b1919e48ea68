"""Browser tests: Playwright's sync API driving Debian's Chromium against ``live_server``.

Chromium is a system package, not a Python one, so a developer without it gets
the browser tests skipped (and told how to install it at the end of the run);
CI, where a skipped browser test would hide a broken product, fails instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
CHROMIUM_MISSING = (
    "Chromium not found: install it with "
    "`apt-get install -y --no-install-recommends chromium` (browser tests skipped)"
)
# Flags for a headless run in containers and CI: no sandbox (often no user
# namespaces there), no GPU, and none of the background traffic (updates,
# sync, QUIC probes) that a test run neither needs nor should depend on.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 10_000
# Git-ignored (/test-artifacts/ in .gitignore); CI can upload it on failure.
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"

# How many browser tests were collected without a Chromium to run them.
_missing_chromium_for = pytest.StashKey[int]()
_call_report = pytest.StashKey[pytest.TestReport]()


def chromium_available() -> bool:
    path = Path(CHROMIUM_PATH)
    return path.is_file() and os.access(path, os.X_OK)


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def artifact_path(name: str) -> Path:
    """A path under test-artifacts/ for ``name``, made safe as a file name."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR / re.sub(r"[^\w.-]+", "_", name).strip("_")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if chromium_available():
        return
    browser_items = [item for item in items if item.get_closest_marker("browser")]
    config.stash[_missing_chromium_for] = len(browser_items)
    if in_ci():
        # The tests stay in and fail in the ``browser`` fixture.
        return
    # Skipping at collection time keeps the skipped tests from starting the
    # live server and truncating the database for nothing.
    for item in browser_items:
        item.add_marker(pytest.mark.skip(reason=CHROMIUM_MISSING))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # The per-test skip reason only shows with -rs; say it once, plainly, so
    # `make test` does not pass quietly without having driven a browser.
    count = terminalreporter.config.stash.get(_missing_chromium_for, 0)
    if not count:
        return
    if in_ci():
        terminalreporter.write_sep("-", "browser tests failed: no Chromium", red=True)
        terminalreporter.write_line(f"{count} browser test(s) need Chromium at {CHROMIUM_PATH}.")
    else:
        terminalreporter.write_sep("-", "browser tests skipped", yellow=True)
        terminalreporter.write_line(
            f"{count} browser test(s) skipped: no Chromium at {CHROMIUM_PATH}."
        )
    terminalreporter.write_line(
        "Install it with: apt-get install -y --no-install-recommends chromium"
        " (or set CHROMIUM_PATH to a Chromium binary)."
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Keep the call-phase report on the item so the ``page`` fixture's teardown
    # knows whether the test body failed and a screenshot is worth saving.
    report = yield
    if report.when == "call":
        item.stash[_call_report] = report
    return report


@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Playwright]:
    """Playwright, for the browser tests of this package only.

    The sync API runs an asyncio event loop in the main thread while it is
    started; Django sees that loop and refuses ORM calls from test code
    (fixtures, database asserts) with SynchronousOnlyOperation. Nothing here is
    really async (ORM calls happen between browser steps), hence
    DJANGO_ALLOW_ASYNC_UNSAFE. It is set only while Playwright runs, not at
    import: set process-wide, it would leak into the rest of the run and into
    its subprocesses (``manage.py check --deploy`` then fails with async.E001).
    Package scope stops Playwright, and unsets the variable, after the last
    browser test.
    """
    # Assertions (expect) wait as long as actions do: slow CI runners get the
    # same 10 s for "the heading shows X" as for "click the button".
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            yield playwright


@pytest.fixture(scope="package")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """One Chromium for the browser tests; each test gets its own context from ``page``."""
    if not chromium_available():
        # Only reached in CI (elsewhere the tests were skipped at collection).
        pytest.fail(
            f"Chromium not found at {CHROMIUM_PATH}, and CI is set, so browser tests "
            "must run: install it with `apt-get install -y --no-install-recommends "
            "chromium` in the CI image (or set CHROMIUM_PATH).",
            pytrace=False,
        )
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def page(
    browser: Browser, live_server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies shared between tests).

    Relative URLs resolve against the live server, so ``page.goto("/accounts/login/")``
    works. On a failing test, a full-page screenshot is saved under test-artifacts/.
    """
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    yield page
    report = request.node.stash.get(_call_report, None)
    if report is not None and report.failed:
        path = artifact_path(f"{request.node.nodeid}.png")
        try:
            page.screenshot(path=str(path), full_page=True)
        except Exception as exc:  # a broken page must not mask the test's own failure
            print(f"Could not save a screenshot to {path}: {exc}")
        else:
            print(f"Screenshot of the failure: {path}")
    context.close()
