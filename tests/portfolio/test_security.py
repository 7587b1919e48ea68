"""CSRF enforcement, login lockout, security headers and the sealed API mixin."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from portfolio.apis import OrgScopedAPIMixin
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def csrf_token(client: Client, path: str) -> str:
    html = client.get(path).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]


def test_page_posts_need_the_csrf_token(tenant_a):
    client = csrf_client(tenant_a.admin)
    refused = client.post("/o/org-a/members/invite/", {"email": "a@example.com", "role": "viewer"})
    assert refused.status_code == 403
    token = csrf_token(client, "/o/org-a/members/")
    accepted = client.post(
        "/o/org-a/members/invite/",
        {"email": "a@example.com", "role": "viewer", "csrfmiddlewaretoken": token},
    )
    assert accepted.status_code == 200


def test_htmx_posts_carry_the_csrf_token_in_a_header(tenant_a):
    client = csrf_client(tenant_a.admin)
    html = client.get("/o/org-a/members/").content.decode()
    header_token = re.search(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'", html)[1]
    answer = client.post(
        "/o/org-a/members/invite/",
        {"email": "b@example.com", "role": "viewer"},
        headers={"X-CSRFToken": header_token, "HX-Request": "true"},
    )
    assert answer.status_code == 200


def test_api_session_writes_need_csrf_but_token_writes_do_not(tenant_a):
    client = csrf_client(tenant_a.admin)
    refused = client.post(
        "/api/v1/orgs/org-a/invitations/",
        {"email": "c@example.com"},
        content_type="application/json",
    )
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    admin = client_for(tenant_a.admin)
    admin.post("/o/org-a/tokens/new/", {"name": "script"})
    key = re.search(r'value="(tl_[^"]+)"', admin.get("/o/org-a/tokens/").content.decode())[1]
    token_client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Token {key}"})
    created = token_client.post(
        "/api/v1/orgs/org-a/invitations/",
        {"email": "c@example.com"},
        content_type="application/json",
    )
    assert created.status_code == 201
    assert "/invitations/" in created.json()["url"]


def test_login_locks_out_at_the_fifth_failure(client, tenant_a, password):
    login = reverse("login")
    for _ in range(4):
        failed = client.post(login, {"username": "admin@org-a.example", "password": "wrong"})
        assert failed.status_code == 200
        assert "did not match" in failed.content.decode()
    fifth = client.post(login, {"username": "admin@org-a.example", "password": "wrong"})
    assert fifth.status_code == 429
    # Locked: even the right password is refused until the cool-off ends.
    locked = client.post(login, {"username": "admin@org-a.example", "password": password})
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    # Another account from the same address is not locked.
    other = client.post(login, {"username": "editor@org-a.example", "password": password})
    assert other.status_code == 302


def test_a_nul_in_the_user_agent_still_counts_every_failed_sign_in(tenant_a, password, caplog):
    """PostgreSQL text cannot hold NUL: a header with one must not make the sign-in
    fail before django-axes records the attempt (unlimited guessing)."""
    client = Client(HTTP_USER_AGENT="Mozilla/5.0\x00", HTTP_ACCEPT="text/html\x00")
    login = reverse("login")
    for _ in range(4):
        failed = client.post(login, {"username": "admin@org-a.example", "password": "wrong"})
        assert failed.status_code == 200
        assert "did not match" in failed.content.decode()
    assert (
        client.post(login, {"username": "admin@org-a.example", "password": "wrong"}).status_code
        == 429
    )
    locked = client.post(login, {"username": "admin@org-a.example", "password": password})
    assert locked.status_code == 429
    assert (
        "request POST /accounts/login/: NUL characters replaced in the headers "
        "HTTP_ACCEPT, HTTP_USER_AGENT"
    ) in caplog.text


def test_successful_login_resets_the_failure_count(client, tenant_a, password):
    login = reverse("login")
    for _ in range(4):
        client.post(login, {"username": "admin@org-a.example", "password": "wrong"})
    assert (
        client.post(login, {"username": "admin@org-a.example", "password": password}).status_code
        == 302
    )
    client.post(reverse("logout"))
    # Four more failures would have locked the account without the reset.
    for _ in range(4):
        client.post(login, {"username": "admin@org-a.example", "password": "wrong"})
    assert (
        client.post(login, {"username": "admin@org-a.example", "password": password}).status_code
        == 302
    )


def test_pages_send_a_nonce_csp_and_use_it_for_scripts(tenant_a):
    page = client_for(tenant_a.viewer).get("/o/org-a/")
    csp = page["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)[1]
    assert "script-src 'self' 'nonce-" in csp
    assert "unsafe-inline" not in csp
    scripts = re.findall(r"<script[^>]*>", page.content.decode())
    assert scripts
    assert all(f'nonce="{nonce}"' in s for s in scripts)
    assert page["X-Frame-Options"] == "DENY"


def test_the_api_docs_page_alone_allows_inline_styles(client, tenant_a):
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert "style-src 'self' 'unsafe-inline'" in docs["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in docs["Content-Security-Policy"] or (
        "script-src 'self'" in docs["Content-Security-Policy"]
    )
    assert "unsafe-inline" not in client.get("/accounts/login/")["Content-Security-Policy"]


def test_signed_out_pages_redirect_to_login(client, tenant_a):
    answer = client.get("/o/org-a/members/")
    assert answer.status_code == 302
    assert answer["Location"].startswith("/accounts/login/?next=/o/org-a/members/")


def test_the_django_admin_is_for_superusers_only(tenant_a):
    staff = tenant_a.admin
    staff.is_staff = True
    staff.save()
    assert client_for(staff).get("/admin/").status_code == 302
    staff.is_superuser = True
    staff.save()
    assert client_for(staff).get("/admin/").status_code == 200


def test_org_scoped_api_views_cannot_override_the_scoping():
    with pytest.raises(TypeError, match="overrides get_queryset"):

        class Leaky(OrgScopedAPIMixin):
            def get_queryset(self):
                return None

    with pytest.raises(TypeError, match="overrides get_object"):

        class Leaky2(OrgScopedAPIMixin):
            def get_object(self):
                return None


def test_password_reset_mails_a_link_that_sets_a_new_password(client, tenant_a):
    from django.core import mail

    answer = client.post(reverse("password_reset"), {"email": "viewer@org-a.example"})
    assert answer.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", mail.outbox[0].body)[1]
    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Another-g00d-pass", "new_password2": "Another-g00d-pass"},
    )
    assert done.status_code == 302
    login = client.post(
        reverse("login"), {"username": "viewer@org-a.example", "password": "Another-g00d-pass"}
    )
    assert login.status_code == 302


def test_password_change_needs_the_old_password(tenant_a, password):
    client = client_for(tenant_a.editor)
    wrong = client.post(
        reverse("password_change"),
        {
            "old_password": "nope",
            "new_password1": "Fresh-pass-2026",
            "new_password2": "Fresh-pass-2026",
        },
    )
    assert wrong.status_code == 200
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    right = client.post(
        reverse("password_change"),
        {
            "old_password": password,
            "new_password1": "Fresh-pass-2026",
            "new_password2": "Fresh-pass-2026",
        },
    )
    assert right.status_code == 302
