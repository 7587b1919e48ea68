"""Absolute links that leave the app (invitation links, shown and mailed; webhook payload
URLs) point at the server the user reached: SITE_URL when a deployment sets it, else the
request's own address, else where `make run` serves (HOST and PORT)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail

from tests.conftest import client_for

pytestmark = pytest.mark.django_db

BASE_DIR = Path(settings.BASE_DIR)
READ = (
    "import json, config.settings as s;"
    " print(json.dumps([s.SITE_URL, getattr(s, 'SITE_URL_IS_SET', None)]))"
)


def site_url_with(**env: str) -> tuple[str, bool]:
    """SITE_URL as config.settings reads it in a fresh interpreter with these variables."""
    clean = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "HOST", "PORT")}
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-c", READ],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    url, is_set = json.loads(done.stdout)
    return url, is_set


def test_the_default_site_url_follows_host_and_port():
    assert site_url_with(PORT="8100") == ("http://127.0.0.1:8100", False)
    assert site_url_with() == ("http://127.0.0.1:8000", False)
    assert site_url_with(HOST="localhost", PORT="8100") == ("http://localhost:8100", False)
    # Serving on every interface: a browser on this machine reaches it on the loopback.
    assert site_url_with(HOST="0.0.0.0", PORT="8100") == ("http://127.0.0.1:8100", False)  # noqa: S104
    assert site_url_with(HOST="::1", PORT="8100") == ("http://[::1]:8100", False)
    # A deployment's SITE_URL wins, without its trailing slash.
    assert site_url_with(SITE_URL="https://tl.example.com/", PORT="8100") == (
        "https://tl.example.com",
        True,
    )


def test_a_port_that_is_not_a_number_stops_the_settings_with_its_name():
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-c", READ],
        cwd=BASE_DIR,
        env={**os.environ, "PORT": "eighty"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "PORT='eighty' is not a port number" in done.stderr


def invite_link(client, **extra) -> str:
    page = client.post(
        "/o/org-a/members/invite/", {"email": "new@example.com", "role": "editor"}, **extra
    )
    assert page.status_code == 200
    return re.search(r'value="(http[^"]+/invitations/[^"]+/)"', page.content.decode())[1]


def test_the_invitation_link_shown_and_mailed_is_on_the_address_the_admin_used(
    tenant_a, django_capture_on_commit_callbacks
):
    client = client_for(tenant_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        link = invite_link(client, HTTP_HOST="localhost:8100")
    assert link.startswith("http://localhost:8100/invitations/")
    assert link in mail.outbox[0].body


def test_the_invitation_api_answers_a_link_on_the_callers_address(tenant_a):
    client = client_for(tenant_a.admin)
    answer = client.post(
        "/api/v1/orgs/org-a/invitations/",
        {"email": "api@example.com", "role": "viewer"},
        content_type="application/json",
        HTTP_HOST="localhost:8100",
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["url"].startswith("http://localhost:8100/invitations/")


def test_a_set_site_url_is_the_base_of_every_link(tenant_a, settings):
    settings.SITE_URL = "https://tl.example.com"
    settings.SITE_URL_IS_SET = True
    client = client_for(tenant_a.admin)
    assert invite_link(client, HTTP_HOST="localhost:8100").startswith(
        "https://tl.example.com/invitations/"
    )
    page = client.get("/o/org-a/streams/webhooks/", HTTP_HOST="localhost:8100")
    assert "https://tl.example.com/hooks/org-a/github/" in page.content.decode()


def test_webhook_payload_urls_are_on_the_address_the_admin_used(tenant_a):
    page = client_for(tenant_a.admin).get("/o/org-a/streams/webhooks/", HTTP_HOST="localhost:8100")
    assert page.status_code == 200
    html = page.content.decode()
    assert "http://localhost:8100/hooks/org-a/github/" in html
    assert "http://localhost:8100/hooks/org-a/jira/" in html
