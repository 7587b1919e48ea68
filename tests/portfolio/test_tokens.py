"""API tokens: shown once, stored hashed, scoped to one organization, revocable."""

import re

import pytest
from django.test import Client

from portfolio.models import ApiToken, Role
from portfolio.services import secret_hash
from portfolio.tenancy import organization_context
from tests.conftest import client_for
from tests.factories import add_member

pytestmark = pytest.mark.django_db


def create_token(user, slug: str = "org-a", name: str = "nightly import") -> str:
    client = client_for(user)
    created = client.post(f"/o/{slug}/tokens/new/", {"name": name})
    assert created.status_code == 302
    page = client.get(created["Location"])
    key = re.search(r'value="(tl_[^"]+)"', page.content.decode())[1]
    # Shown once: the next visit no longer has it.
    assert key not in client.get(created["Location"]).content.decode()
    return key


def api(key: str) -> Client:
    return Client(headers={"Authorization": f"Token {key}"})


def test_a_token_is_shown_once_and_stored_hashed(tenant_a):
    key = create_token(tenant_a.editor)
    with organization_context(tenant_a.org.pk):
        token = ApiToken.objects.get(organization=tenant_a.org)
    assert token.key_hash == secret_hash(key)
    assert key not in token.key_hash
    assert token.prefix == key[:10]
    listing = client_for(tenant_a.editor).get("/o/org-a/tokens/").content.decode()
    assert key not in listing
    assert token.prefix in listing


def test_a_token_authenticates_for_its_organization_only(tenant_a, tenant_b):
    add_member(tenant_b.org, tenant_a.editor, Role.ADMIN)
    key = create_token(tenant_a.editor)
    client = api(key)
    assert client.get("/api/v1/orgs/org-a/members/").status_code == 200
    # The same user is an admin of org B, but this token belongs to org A.
    assert client.get("/api/v1/orgs/org-b/members/").status_code == 404
    assert [o["slug"] for o in client.get("/api/v1/orgs/").json()] == ["org-a"]
    with organization_context(tenant_a.org.pk):
        assert ApiToken.objects.get(organization=tenant_a.org).last_used_at is not None


def test_a_token_acts_with_its_users_role(tenant_a):
    key = create_token(tenant_a.viewer)
    client = api(key)
    assert client.get("/api/v1/orgs/org-a/members/").status_code == 200
    members = client.get("/api/v1/orgs/org-a/members/").json()["results"]
    target = next(m for m in members if m["role"] == "editor")
    answer = client.patch(
        f"/api/v1/orgs/org-a/members/{target['id']}/",
        {"role": "viewer"},
        content_type="application/json",
    )
    assert answer.status_code == 403


def test_bad_and_revoked_tokens_are_refused(tenant_a):
    key = create_token(tenant_a.editor)
    assert api("tl_wrong").get("/api/v1/orgs/org-a/").status_code == 401
    assert api("nonsense").get("/api/v1/orgs/org-a/").status_code == 401
    assert (
        Client(headers={"Authorization": "Token a b"}).get("/api/v1/orgs/org-a/").status_code == 401
    )
    with organization_context(tenant_a.org.pk):
        token_id = ApiToken.objects.get(organization=tenant_a.org).pk
    assert (
        client_for(tenant_a.editor).post(f"/o/org-a/tokens/{token_id}/revoke/").status_code == 302
    )
    assert api(key).get("/api/v1/orgs/org-a/").status_code == 401


def test_only_the_owner_or_an_admin_revokes_a_token(tenant_a):
    create_token(tenant_a.editor)
    with organization_context(tenant_a.org.pk):
        token_id = ApiToken.objects.get(organization=tenant_a.org).pk
    client_for(tenant_a.viewer).post(f"/o/org-a/tokens/{token_id}/revoke/")
    with organization_context(tenant_a.org.pk):
        assert ApiToken.objects.get(pk=token_id).revoked_at is None
    client_for(tenant_a.admin).post(f"/o/org-a/tokens/{token_id}/revoke/")
    with organization_context(tenant_a.org.pk):
        assert ApiToken.objects.get(pk=token_id).revoked_at is not None


def test_removing_a_member_revokes_their_tokens(tenant_a):
    key = create_token(tenant_a.editor)
    with organization_context(tenant_a.org.pk):
        from portfolio.models import Membership

        m = Membership.objects.get(organization=tenant_a.org, user=tenant_a.editor)
    client_for(tenant_a.admin).post(f"/o/org-a/members/{m.pk}/remove/")
    assert api(key).get("/api/v1/orgs/org-a/").status_code == 401


def test_a_token_needs_a_name(tenant_a):
    page = client_for(tenant_a.viewer).post("/o/org-a/tokens/new/", {"name": "  "})
    assert page.status_code == 400
    assert "This field is required" in page.content.decode()


def test_members_see_their_own_tokens_and_admins_see_all(tenant_a):
    create_token(tenant_a.editor, name="editor-token")
    create_token(tenant_a.viewer, name="viewer-token")
    viewer_page = client_for(tenant_a.viewer).get("/o/org-a/tokens/").content.decode()
    assert "viewer-token" in viewer_page
    assert "editor-token" not in viewer_page
    admin_page = client_for(tenant_a.admin).get("/o/org-a/tokens/").content.decode()
    assert "viewer-token" in admin_page
    assert "editor-token" in admin_page
