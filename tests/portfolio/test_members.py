"""Members, roles and invitations: pages and API, with the role (403) and
other-organization (404) cases."""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portfolio.models import Invitation, Membership, Role
from portfolio.services import membership_change_role, membership_remove
from portfolio.tenancy import organization_context
from tests.conftest import client_for
from tests.factories import UserFactory, add_member, invite

pytestmark = pytest.mark.django_db


def role_of(org, user) -> str | None:
    with organization_context(org.pk):
        m = Membership.objects.filter(organization=org, user=user).first()
        return m.role if m else None


def membership(org, user) -> Membership:
    with organization_context(org.pk):
        return Membership.objects.get(organization=org, user=user)


def test_org_home_shows_members_and_counts(tenant_a):
    page = client_for(tenant_a.viewer).get("/o/org-a/")
    assert page.status_code == 200
    html = page.content.decode()
    for email in ("admin@org-a.example", "editor@org-a.example", "viewer@org-a.example"):
        assert email in html
    assert re.search(r'<span class="num">3</span><span class="label">members</span>', html)


def test_admin_invites_and_the_link_is_shown_and_mailed(
    tenant_a, django_capture_on_commit_callbacks
):
    client = client_for(tenant_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            "/o/org-a/members/invite/", {"email": "New@Example.com", "role": "editor"}
        )
    assert page.status_code == 200
    link = re.search(r'value="(http[^"]+/invitations/[^"]+/)"', page.content.decode())[1]
    assert len(mail.outbox) == 1
    assert link in mail.outbox[0].body
    assert mail.outbox[0].to == ["New@example.com"]
    with organization_context(tenant_a.org.pk):
        inv = Invitation.objects.get(organization=tenant_a.org)
        assert inv.role == Role.EDITOR
        assert inv.email_sent_at is not None
        # Only the hash of the link's token is stored.
        assert link.rstrip("/").rsplit("/", 1)[1] not in inv.token_hash


def test_invite_rejects_bad_email_and_existing_member(tenant_a):
    client = client_for(tenant_a.admin)
    bad = client.post("/o/org-a/members/invite/", {"email": "not-an-email", "role": "editor"})
    assert bad.status_code == 400
    assert "Enter a valid email address" in bad.content.decode()
    dup = client.post(
        "/o/org-a/members/invite/", {"email": "editor@org-a.example", "role": "viewer"}
    )
    assert dup.status_code == 400
    assert "editor@org-a.example is already a member" in dup.content.decode()


@pytest.mark.parametrize("who", ["editor", "viewer"])
def test_only_admins_manage_members(tenant_a, who):
    client = client_for(getattr(tenant_a, who))
    target = membership(tenant_a.org, tenant_a.viewer)
    assert client.post("/o/org-a/members/invite/", {"email": "x@example.com"}).status_code == 403
    assert client.post(f"/o/org-a/members/{target.pk}/role/", {"role": "admin"}).status_code == 403
    assert client.post(f"/o/org-a/members/{target.pk}/remove/").status_code == 403
    assert role_of(tenant_a.org, tenant_a.viewer) == Role.VIEWER


def test_admin_changes_a_role_inline_with_htmx(tenant_a):
    target = membership(tenant_a.org, tenant_a.viewer)
    page = client_for(tenant_a.admin).post(
        f"/o/org-a/members/{target.pk}/role/", {"role": "editor"}, headers={"HX-Request": "true"}
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert html.lstrip().startswith(f'<tr id="member-{target.pk}"')
    assert '<option value="editor" selected>' in html
    assert role_of(tenant_a.org, tenant_a.viewer) == Role.EDITOR


def test_the_last_admin_can_be_neither_demoted_nor_removed(tenant_a):
    admin = membership(tenant_a.org, tenant_a.admin)
    client = client_for(tenant_a.admin)
    page = client.post(
        f"/o/org-a/members/{admin.pk}/role/", {"role": "viewer"}, headers={"HX-Request": "true"}
    )
    assert "The last admin cannot be demoted" in page.content.decode()
    client.post(f"/o/org-a/members/{admin.pk}/remove/")
    assert role_of(tenant_a.org, tenant_a.admin) == Role.ADMIN
    # With a second admin, the first may step down.
    with organization_context(tenant_a.org.pk):
        membership_change_role(
            organization=tenant_a.org,
            membership=membership(tenant_a.org, tenant_a.editor),
            role=Role.ADMIN,
            actor=tenant_a.admin,
        )
        membership_remove(organization=tenant_a.org, membership=admin, actor=tenant_a.admin)
    assert role_of(tenant_a.org, tenant_a.admin) is None


def test_api_members_list_and_last_admin_rule(tenant_a):
    client = client_for(tenant_a.admin)
    answer = client.get("/api/v1/orgs/org-a/members/")
    assert answer.status_code == 200
    assert [m["email"] for m in answer.json()["results"]] == [
        "admin@org-a.example",
        "editor@org-a.example",
        "viewer@org-a.example",
    ]
    admin = membership(tenant_a.org, tenant_a.admin)
    refused = client.patch(
        f"/api/v1/orgs/org-a/members/{admin.pk}/",
        {"role": "viewer"},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert "last admin" in refused.json()["detail"][0]
    refused = client.delete(f"/api/v1/orgs/org-a/members/{admin.pk}/")
    assert refused.status_code == 400
    bad = client.patch(
        f"/api/v1/orgs/org-a/members/{admin.pk}/", {"role": "boss"}, content_type="application/json"
    )
    assert bad.status_code == 400
    assert "role" in bad.json()


def test_api_viewer_reads_but_may_not_write(tenant_a):
    client = client_for(tenant_a.viewer)
    target = membership(tenant_a.org, tenant_a.editor)
    assert client.get(f"/api/v1/orgs/org-a/members/{target.pk}/").status_code == 200
    assert (
        client.patch(
            f"/api/v1/orgs/org-a/members/{target.pk}/",
            {"role": "admin"},
            content_type="application/json",
        ).status_code
        == 403
    )
    assert client.get("/api/v1/orgs/org-a/invitations/").status_code == 403


def test_api_lists_only_the_callers_organizations(tenant_a, tenant_b):
    add_member(tenant_b.org, tenant_a.viewer, Role.EDITOR)
    answer = client_for(tenant_a.viewer).get("/api/v1/orgs/").json()
    assert sorted((o["slug"], o["role"]) for o in answer) == [
        ("org-a", "viewer"),
        ("org-b", "editor"),
    ]
    answer = client_for(tenant_a.editor).get("/api/v1/orgs/").json()
    assert [o["slug"] for o in answer] == ["org-a"]


def test_members_page_query_count_does_not_grow_with_members(tenant_a):
    client = client_for(tenant_a.admin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/o/org-a/members/").status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    for i in range(40):
        add_member(tenant_a.org, UserFactory(email=f"m{i}@org-a.example"), Role.VIEWER)
    assert queries() == few


def test_invitation_accept_by_signing_up(client, tenant_a):
    new = invite(tenant_a.org, "fresh@example.com", by=tenant_a.admin, role=Role.EDITOR)
    path = urlsplit(new.url).path
    page = client.get(path)
    assert "Create your account" in page.content.decode()
    short = client.post(path, {"password1": "abc", "password2": "abc"})
    assert short.status_code == 400
    assert "too short" in short.content.decode()
    done = client.post(path, {"password1": "a-Good-passw0rd!", "password2": "a-Good-passw0rd!"})
    assert done.status_code == 302
    assert done["Location"] == "/o/org-a/"
    assert client.get("/o/org-a/").status_code == 200
    # The link works once.
    assert client.get(path).status_code == 404


def test_invitation_accept_when_signed_in_needs_the_invited_email(tenant_a, tenant_b):
    new = invite(tenant_a.org, "admin@org-b.example", by=tenant_a.admin, role=Role.VIEWER)
    path = urlsplit(new.url).path
    wrong = client_for(tenant_b.editor).post(path)
    assert wrong.status_code == 400
    assert "This invitation is for admin@org-b.example" in wrong.content.decode()
    right = client_for(tenant_b.admin).post(path)
    assert right["Location"] == "/o/org-a/"
    assert role_of(tenant_a.org, tenant_b.admin) == Role.VIEWER


def test_unknown_or_revoked_invitation_links_are_refused(client, tenant_a):
    assert client.get("/invitations/nonsense/").status_code == 404
    new = invite(tenant_a.org, "x@example.com", by=tenant_a.admin, role=Role.VIEWER)
    client_for(tenant_a.admin).post(f"/o/org-a/invitations/{new.invitation.pk}/revoke/")
    assert client.get(urlsplit(new.url).path).status_code == 404


def test_org_switcher_lists_the_users_organizations(tenant_a, tenant_b):
    add_member(tenant_b.org, tenant_a.admin, Role.VIEWER)
    html = client_for(tenant_a.admin).get("/o/org-a/").content.decode()
    assert 'href="/o/org-a/"' in html
    assert 'href="/o/org-b/"' in html
    html = client_for(tenant_a.viewer).get("/o/org-a/").content.decode()
    assert 'href="/o/org-b/"' not in html


def test_login_redirects_to_the_organization(client, tenant_a, password):
    answer = client.post(
        reverse("login"), {"username": "Admin@Org-A.example", "password": password}
    )
    assert answer.status_code == 302
    assert client.get("/", follow=False)["Location"] == "/o/org-a/"


def test_org_home_counts_the_model_in_constant_queries(tenant_a):
    from streams.models import ValueStream
    from streams.services import stage_add, value_stream_save

    client = client_for(tenant_a.viewer)
    html = client.get("/o/org-a/").content.decode()
    assert re.search(r'<span class="num">7</span><span class="label">layers</span>', html)
    assert "Start from a template" in html
    with CaptureQueriesContext(connection) as ctx:
        client.get("/o/org-a/")
    before = len(ctx.captured_queries)
    with organization_context(tenant_a.org.pk):
        vs = value_stream_save(
            organization=tenant_a.org, value_stream=ValueStream(slug="v", name="V")
        )
        for name in ("A", "B", "C"):
            stage_add(organization=tenant_a.org, value_stream=vs, name=name)
    with CaptureQueriesContext(connection) as ctx:
        html = client.get("/o/org-a/").content.decode()
    assert len(ctx.captured_queries) == before
    assert re.search(r'<span class="num">3</span><span class="label">stages</span>', html)
    assert "Start from a template" not in html


def test_admin_settings_change_name_time_zone_and_dora_year(tenant_a):
    url = "/o/org-a/settings/"
    data = {"name": "Org A Ltd", "time_zone": "Europe/Berlin", "dora_report_year": 2021}
    assert client_for(tenant_a.editor).get(url).status_code == 403
    assert client_for(tenant_a.editor).post(url, data).status_code == 403
    admin = client_for(tenant_a.admin)
    assert admin.post(url, data).status_code == 302
    tenant_a.org.refresh_from_db()
    assert (tenant_a.org.name, tenant_a.org.time_zone, tenant_a.org.dora_report_year) == (
        "Org A Ltd",
        "Europe/Berlin",
        2021,
    )
    bad = admin.post(url, {**data, "time_zone": "Mars/Base", "dora_report_year": 1999})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "not a known IANA time zone" in html
    assert "Select a valid choice" in html
