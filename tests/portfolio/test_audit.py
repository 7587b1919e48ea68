"""The security audit log: what each action records (actor, organization, target,
address), sign-ins and failed sign-ins per organization, the page and the API (admins
only; another organization's admin sees nothing), filters, pagination, query counts,
and that the app role can neither change nor delete an event."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from metrics.models import ExportStatus, ReportExport, ReportFile
from portfolio.audit import audit_record
from portfolio.models import (
    ApiToken,
    AuditAction,
    AuditEvent,
    Invitation,
    Membership,
    Organization,
    Role,
)
from portfolio.tenancy import organization_context
from tests import api
from tests.conftest import client_for
from tests.factories import PASSWORD, add_member, invite

pytestmark = pytest.mark.django_db

IP = "203.0.113.7"
AGENT = "AuditTest/1.0"


def browser(user=None) -> Client:
    """A client whose requests come from IP with AGENT (signed in as ``user`` if given)."""
    client = Client(REMOTE_ADDR=IP, HTTP_USER_AGENT=AGENT)
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def events(org: Organization, action: str | None = None) -> list[AuditEvent]:
    with organization_context(org.pk):
        qs = AuditEvent.objects.filter(organization=org)
        if action:
            qs = qs.filter(action=action)
        return list(qs.order_by("at", "id"))


def only(org: Organization, action: str) -> AuditEvent:
    found = events(org, action)
    assert len(found) == 1, [(e.action, e.target) for e in found]
    return found[0]


def assert_from_browser(event: AuditEvent, org: Organization, actor) -> None:
    assert event.organization_id == org.pk
    assert event.actor_id == actor.pk
    assert event.actor_email == actor.email
    assert (event.ip_address, event.user_agent) == (IP, AGENT)


def membership(org: Organization, user) -> Membership:
    with organization_context(org.pk):
        return Membership.objects.get(organization=org, user=user)


# --- audit_record ------------------------------------------------------------------


def test_audit_record_refuses_an_action_outside_the_vocabulary(tenant_a):
    with organization_context(tenant_a.org.pk), pytest.raises(ValueError) as exc:
        audit_record(organization=tenant_a.org, actor=None, action="member.promoted")
    assert "'member.promoted' is not one of login, login.failed" in str(exc.value)


def test_an_event_keeps_its_actors_email_after_the_user_is_deleted(tenant_a):
    with organization_context(tenant_a.org.pk):
        audit_record(
            organization=tenant_a.org,
            actor=tenant_a.editor,
            action=AuditAction.WEBHOOK_SECRET_ROTATED,
            target="deployments hook",
        )
    with organization_context(tenant_a.org.pk, user_id=tenant_a.editor.pk):
        tenant_a.editor.delete()
    event = only(tenant_a.org, AuditAction.WEBHOOK_SECRET_ROTATED)
    assert (event.actor_email, event.target) == ("editor@org-a.example", "deployments hook")


# --- Members, invitations, tokens (pages) ------------------------------------------


def test_role_change_and_removal_are_recorded_with_actor_target_and_address(tenant_a):
    client = browser(tenant_a.admin)
    viewer = membership(tenant_a.org, tenant_a.viewer)
    client.post(f"/o/org-a/members/{viewer.pk}/role/", {"role": "editor"})
    changed = only(tenant_a.org, AuditAction.MEMBER_ROLE_CHANGED)
    assert_from_browser(changed, tenant_a.org, tenant_a.admin)
    assert changed.target == "viewer@org-a.example"
    assert changed.detail == {"user_id": tenant_a.viewer.pk, "from": "viewer", "to": "editor"}
    # The same role again is no change, and records nothing.
    client.post(f"/o/org-a/members/{viewer.pk}/role/", {"role": "editor"})
    assert len(events(tenant_a.org, AuditAction.MEMBER_ROLE_CHANGED)) == 1

    client.post(f"/o/org-a/members/{viewer.pk}/remove/")
    removed = only(tenant_a.org, AuditAction.MEMBER_REMOVED)
    assert_from_browser(removed, tenant_a.org, tenant_a.admin)
    assert removed.target == "viewer@org-a.example"
    assert removed.detail["role"] == "editor"


def test_a_refused_change_records_nothing(tenant_a):
    admin = membership(tenant_a.org, tenant_a.admin)
    client = browser(tenant_a.admin)
    client.post(f"/o/org-a/members/{admin.pk}/role/", {"role": "viewer"})
    client.post(f"/o/org-a/members/{admin.pk}/remove/")
    assert events(tenant_a.org, AuditAction.MEMBER_ROLE_CHANGED) == []
    assert events(tenant_a.org, AuditAction.MEMBER_REMOVED) == []


def test_invitation_created_revoked_and_accepted_are_recorded(tenant_a, outsider):
    admin = browser(tenant_a.admin)
    page = admin.post("/o/org-a/members/invite/", {"email": "new@example.com", "role": "editor"})
    link = re.search(r'value="(http[^"]+/invitations/[^"]+/)"', page.content.decode())[1]
    created = only(tenant_a.org, AuditAction.INVITATION_CREATED)
    assert_from_browser(created, tenant_a.org, tenant_a.admin)
    assert created.target == "new@example.com"
    assert created.detail["role"] == "editor"
    # The link is a secret: the log never holds it.
    token = link.rstrip("/").rsplit("/", 1)[1]
    with organization_context(tenant_a.org.pk):
        stored = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert token not in stored

    with organization_context(tenant_a.org.pk):
        invitation = Invitation.objects.get(organization=tenant_a.org, email="new@example.com")
    admin.post(f"/o/org-a/invitations/{invitation.pk}/revoke/")
    revoked = only(tenant_a.org, AuditAction.INVITATION_REVOKED)
    assert_from_browser(revoked, tenant_a.org, tenant_a.admin)
    assert revoked.target == "new@example.com"
    # Revoking it again changes nothing and records nothing.
    admin.post(f"/o/org-a/invitations/{invitation.pk}/revoke/")
    assert len(events(tenant_a.org, AuditAction.INVITATION_REVOKED)) == 1

    # Accepted by an existing user, signed in.
    path = "/" + invite(tenant_a.org, outsider.email, by=tenant_a.admin).url.split("/", 3)[3]
    assert browser(outsider).post(path).status_code == 302
    accepted = only(tenant_a.org, AuditAction.INVITATION_ACCEPTED)
    assert_from_browser(accepted, tenant_a.org, outsider)
    assert accepted.target == outsider.email
    assert accepted.detail["role"] == "viewer"


def test_signing_up_through_an_invitation_records_the_new_user_as_actor(tenant_a):
    path = "/" + invite(tenant_a.org, "fresh@example.com", by=tenant_a.admin).url.split("/", 3)[3]
    answer = browser().post(
        path, {"password1": "A-g00d-passphrase", "password2": "A-g00d-passphrase"}
    )
    assert answer.status_code == 302
    accepted = only(tenant_a.org, AuditAction.INVITATION_ACCEPTED)
    assert accepted.actor_email == "fresh@example.com"
    assert (accepted.ip_address, accepted.user_agent) == (IP, AGENT)
    # Signed in on the way: the sign-in is in the new organization's log too.
    assert only(tenant_a.org, AuditAction.LOGIN).actor_email == "fresh@example.com"


def test_token_created_and_revoked_are_recorded_without_the_key(tenant_a):
    editor = browser(tenant_a.editor)
    editor.post("/o/org-a/tokens/new/", {"name": "nightly"})
    key = re.search(r'value="(tl_[^"]+)"', editor.get("/o/org-a/tokens/").content.decode())[1]
    created = only(tenant_a.org, AuditAction.TOKEN_CREATED)
    assert_from_browser(created, tenant_a.org, tenant_a.editor)
    assert created.target == f"nightly ({key[:10]}…)"
    assert created.detail["user"] == "editor@org-a.example"
    with organization_context(tenant_a.org.pk):
        token = ApiToken.objects.get(organization=tenant_a.org)
        assert key not in json.dumps(list(AuditEvent.objects.values()), default=str)
    # An admin revokes someone else's token: the admin is the actor.
    browser(tenant_a.admin).post(f"/o/org-a/tokens/{token.pk}/revoke/")
    revoked = only(tenant_a.org, AuditAction.TOKEN_REVOKED)
    assert_from_browser(revoked, tenant_a.org, tenant_a.admin)
    assert revoked.target == created.target
    assert revoked.detail["user"] == "editor@org-a.example"


def test_removing_a_member_records_the_tokens_it_revoked(tenant_a):
    browser(tenant_a.viewer).post("/o/org-a/tokens/new/", {"name": "script"})
    viewer = membership(tenant_a.org, tenant_a.viewer)
    browser(tenant_a.admin).post(f"/o/org-a/members/{viewer.pk}/remove/")
    assert only(tenant_a.org, AuditAction.MEMBER_REMOVED).detail["tokens_revoked"] == 1


# --- Members and invitations (API) -------------------------------------------------


def test_the_api_records_role_changes_and_invitations_with_the_callers_address(tenant_a):
    client = browser(tenant_a.admin)
    viewer = membership(tenant_a.org, tenant_a.viewer)
    assert api.send(client, "patch", f"members/{viewer.pk}/", {"role": "admin"}).status_code == 200
    changed = only(tenant_a.org, AuditAction.MEMBER_ROLE_CHANGED)
    assert_from_browser(changed, tenant_a.org, tenant_a.admin)
    assert changed.detail["to"] == "admin"

    created = api.send(client, "post", "invitations/", {"email": "api@example.com"})
    assert created.status_code == 201
    assert_from_browser(
        only(tenant_a.org, AuditAction.INVITATION_CREATED), tenant_a.org, tenant_a.admin
    )
    assert api.send(client, "delete", f"invitations/{created.json()['id']}/").status_code == 204
    assert only(tenant_a.org, AuditAction.INVITATION_REVOKED).target == "api@example.com"
    assert api.send(client, "delete", f"members/{viewer.pk}/").status_code == 204
    assert_from_browser(
        only(tenant_a.org, AuditAction.MEMBER_REMOVED), tenant_a.org, tenant_a.admin
    )


# --- Sign-ins ------------------------------------------------------------------------


def test_a_sign_in_is_recorded_in_each_of_the_users_organizations(tenant_a, tenant_b):
    add_member(tenant_b.org, tenant_a.editor, Role.VIEWER)
    answer = browser().post(
        reverse("login"), {"username": "editor@org-a.example", "password": PASSWORD}
    )
    assert answer.status_code == 302
    for org in (tenant_a.org, tenant_b.org):
        event = only(org, AuditAction.LOGIN)
        assert_from_browser(event, org, tenant_a.editor)
        assert event.target == "editor@org-a.example"


def test_a_failed_sign_in_is_recorded_in_the_users_organizations_only(tenant_a, tenant_b):
    answer = browser().post(
        reverse("login"), {"username": "Viewer@Org-A.example", "password": "not-it-42"}
    )
    assert answer.status_code == 200
    failed = only(tenant_a.org, AuditAction.LOGIN_FAILED)
    assert failed.actor_id is None and failed.actor_email == ""
    assert failed.target == "viewer@org-a.example"
    assert (failed.ip_address, failed.user_agent) == (IP, AGENT)
    assert failed.detail == {"locked_out": False}
    assert events(tenant_b.org) == []
    # The password tried is stored nowhere.
    with organization_context(tenant_a.org.pk):
        assert "not-it-42" not in json.dumps(list(AuditEvent.objects.values()), default=str)


def test_a_failed_sign_in_keeps_the_user_agent_without_its_nul_characters(tenant_a):
    client = Client(REMOTE_ADDR=IP, HTTP_USER_AGENT="Audit\x00Test/1.0\x00")
    answer = client.post(reverse("login"), {"username": "admin@org-a.example", "password": "no"})
    assert answer.status_code == 200
    failed = only(tenant_a.org, AuditAction.LOGIN_FAILED)
    assert failed.user_agent == "Audit\ufffdTest/1.0\ufffd"


def test_the_failure_that_locks_an_account_out_says_so(tenant_a, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client = browser()
    for _ in range(2):
        client.post(reverse("login"), {"username": "admin@org-a.example", "password": "nope"})
    assert [e.detail["locked_out"] for e in events(tenant_a.org, AuditAction.LOGIN_FAILED)] == [
        False,
        True,
    ]


def test_a_failed_sign_in_for_an_unknown_email_goes_to_the_log_only(tenant_a, tenant_b, caplog):
    with caplog.at_level(logging.WARNING, logger="portfolio.audit"):
        browser().post(reverse("login"), {"username": "ghost@example.com", "password": "secret-1"})
    assert events(tenant_a.org) == [] and events(tenant_b.org) == []
    assert "failed sign-in for 'ghost@example.com', which is no user's, from 203.0.113.7" in (
        caplog.text
    )
    assert "secret-1" not in caplog.text


# --- Exports ------------------------------------------------------------------------


def _finished_export(tenant) -> ReportExport:
    with organization_context(tenant.org.pk):
        export = ReportExport.objects.create(
            organization=tenant.org,
            quarter="2026-Q2",
            formats=["csv"],
            status=ExportStatus.DONE,
            progress=100,
            requested_by=tenant.editor,
        )
        ReportFile.objects.create(
            organization=tenant.org,
            export=export,
            format="csv",
            filename="org-a-2026-Q2-report.csv",
            content=b"section",
            size=7,
        )
    return export


def test_report_exports_and_downloads_are_recorded_from_the_page(tenant_a):
    editor = browser(tenant_a.editor)
    assert editor.post("/o/org-a/reports/", {"quarter": "2026-Q2"}).status_code == 302
    started = only(tenant_a.org, AuditAction.REPORT_EXPORT_STARTED)
    assert_from_browser(started, tenant_a.org, tenant_a.editor)
    assert started.target == "2026-Q2 report"
    assert started.detail["formats"] == ["pdf", "xlsx", "csv"]

    export = _finished_export(tenant_a)
    assert (
        browser(tenant_a.viewer).get(f"/o/org-a/reports/{export.pk}/download/csv/").status_code
        == 200
    )
    downloaded = only(tenant_a.org, AuditAction.REPORT_DOWNLOADED)
    assert_from_browser(downloaded, tenant_a.org, tenant_a.viewer)
    assert downloaded.target == "org-a-2026-Q2-report.csv"
    assert downloaded.detail == {"export_id": export.pk, "quarter": "2026-Q2", "format": "csv"}
    # A file that is not there is no download.
    assert (
        browser(tenant_a.viewer).get(f"/o/org-a/reports/{export.pk}/download/pdf/").status_code
        == 404
    )
    assert len(events(tenant_a.org, AuditAction.REPORT_DOWNLOADED)) == 1


def test_report_exports_and_downloads_are_recorded_from_the_api(tenant_a):
    client = browser(tenant_a.editor)
    answer = api.send(client, "post", "reports/", {"quarter": "2026-Q2", "formats": ["csv"]})
    assert answer.status_code == 202
    started = only(tenant_a.org, AuditAction.REPORT_EXPORT_STARTED)
    assert_from_browser(started, tenant_a.org, tenant_a.editor)
    assert started.detail["formats"] == ["csv"]
    export = _finished_export(tenant_a)
    assert client.get(api.url(f"reports/{export.pk}/download/csv/")).status_code == 200
    assert_from_browser(
        only(tenant_a.org, AuditAction.REPORT_DOWNLOADED), tenant_a.org, tenant_a.editor
    )


def test_export_report_command_records_the_system_as_actor(tenant_a, tmp_path: Path):
    out = tmp_path / "q2.csv"
    call_command(
        "export_report",
        "--org=org-a",
        "--quarter=2026-Q2",
        "--format=csv",
        f"-o={out}",
        stdout=StringIO(),
    )
    started = only(tenant_a.org, AuditAction.REPORT_EXPORT_STARTED)
    downloaded = only(tenant_a.org, AuditAction.REPORT_DOWNLOADED)
    assert started.actor_id is None and downloaded.actor_id is None
    assert started.detail["via"] == "command"
    assert downloaded.detail["output"] == str(out.resolve())
    assert downloaded.target.endswith(".csv")


def test_model_exports_are_recorded_from_the_page_the_api_and_the_command(tenant_a):
    client = browser(tenant_a.admin)
    assert client.get("/o/org-a/model/export.json").status_code == 200
    assert client.get(api.url("model/")).status_code == 200
    call_command("export_model", "--org=org-a", stdout=StringIO())
    page, via_api, command = events(tenant_a.org, AuditAction.MODEL_EXPORTED)
    assert_from_browser(page, tenant_a.org, tenant_a.admin)
    assert_from_browser(via_api, tenant_a.org, tenant_a.admin)
    assert command.actor_id is None and command.ip_address is None
    assert [e.detail["via"] for e in (page, via_api, command)] == ["page", "api", "command"]
    assert {e.target for e in (page, via_api, command)} == {"org-a-model.json"}


# --- The page -----------------------------------------------------------------------


def seed(org: Organization, n: int, *, actor=None, action=AuditAction.TOKEN_CREATED) -> None:
    """``n`` events one minute apart, the newest last (``event-<n-1>``)."""
    start = timezone.now() - dt.timedelta(days=1)
    with organization_context(org.pk):
        AuditEvent.objects.bulk_create(
            AuditEvent(
                organization=org,
                at=start + dt.timedelta(minutes=i),
                action=action,
                actor=actor,
                actor_email=actor.email if actor else "",
                target=f"event-{i}",
            )
            for i in range(n)
        )


def test_the_page_is_for_admins_only_and_another_organization_answers_404(tenant_a, tenant_b):
    assert client_for(tenant_a.admin).get("/o/org-a/audit/").status_code == 200
    assert client_for(tenant_a.editor).get("/o/org-a/audit/").status_code == 403
    assert client_for(tenant_a.viewer).get("/o/org-a/audit/").status_code == 403
    assert client_for(tenant_b.admin).get("/o/org-a/audit/").status_code == 404


def test_the_admins_navigation_links_the_page(tenant_a):
    assert 'href="/o/org-a/audit/"' in client_for(tenant_a.admin).get("/o/org-a/").content.decode()
    assert (
        'href="/o/org-a/audit/"'
        not in client_for(tenant_a.editor).get("/o/org-a/").content.decode()
    )


def test_another_organizations_admin_never_sees_its_events(tenant_a, tenant_b):
    seed(tenant_a.org, 3, actor=tenant_a.admin)
    page = client_for(tenant_b.admin).get("/o/org-b/audit/").content.decode()
    assert "event-" not in page and "admin@org-a.example" not in page
    listing = api.get(client_for(tenant_b.admin), "audit-events/", org="org-b").json()
    assert all(not e["target"].startswith("event-") for e in listing["results"])
    assert api.get(client_for(tenant_b.admin), "audit-events/").status_code == 404


def test_the_page_lists_newest_first_in_pages_of_50(tenant_a):
    seed(tenant_a.org, 60)
    client = client_for(tenant_a.admin)  # its sign-in is an event too: filter it out
    first = client.get("/o/org-a/audit/", {"action": "token.created"}).content.decode()
    targets = re.findall(r"<td>(event-\d+)</td>", first)
    assert targets == [f"event-{i}" for i in range(59, 9, -1)]
    assert "Page 1 of 2 (60 events)" in first
    # The pager keeps the filters.
    assert 'href="?action=token.created&amp;page=2"' in first
    second = client.get("/o/org-a/audit/", {"action": "token.created", "page": 2})
    targets = re.findall(r"<td>(event-\d+)</td>", second.content.decode())
    assert targets == [f"event-{i}" for i in range(9, -1, -1)]
    # A page number that is not one shows the first page, as on every list page.
    assert "event-59" in client.get("/o/org-a/audit/", {"page": "x"}).content.decode()


def test_the_page_filters_by_action_actor_and_date(tenant_a):
    seed(tenant_a.org, 3, actor=tenant_a.editor, action=AuditAction.TOKEN_CREATED)
    seed(tenant_a.org, 2, actor=tenant_a.admin, action=AuditAction.MEMBER_REMOVED)
    client = client_for(tenant_a.admin)

    def rows(**params) -> list[str]:
        page = client.get("/o/org-a/audit/", params)
        assert page.status_code == 200
        return re.findall(r'<tr data-action="([^"]+)">', page.content.decode())

    assert rows(action="member.removed") == ["member.removed"] * 2
    assert rows(actor="EDITOR@org-a.example") == ["token.created"] * 3
    assert rows(action="member.removed", actor="editor@org-a.example") == []
    assert rows(since=(timezone.now() + dt.timedelta(days=1)).date().isoformat()) == []
    assert len(rows(since="2020-01-01")) == 6  # the five and the admin's sign-in
    # htmx asks for the results alone.
    partial = client.get(
        "/o/org-a/audit/", {"action": "token.created"}, headers={"HX-Request": "true"}
    )
    assert partial.content.decode().lstrip().startswith('<div id="results">')


def test_bad_filters_answer_400_with_the_reason(tenant_a):
    client = client_for(tenant_a.admin)
    page = client.get("/o/org-a/audit/", {"action": "drop-table", "since": "yesterday"})
    assert page.status_code == 400
    text = page.content.decode()
    assert "&#x27;drop-table&#x27; is not an audit action; use one of login" in text
    assert "&#x27;yesterday&#x27; is not a date or an ISO 8601 date-time" in text


@pytest.mark.parametrize("n", [3, 30])
def test_the_page_query_count_does_not_grow_with_the_events(tenant_a, n, django_assert_num_queries):
    seed(tenant_a.org, n, actor=tenant_a.editor)
    client = client_for(tenant_a.admin)
    client.get("/o/org-a/audit/")  # warm the session
    # The same for 3 events and for 30: the count and one page, no join per row.
    with django_assert_num_queries(PAGE_QUERIES):
        assert client.get("/o/org-a/audit/").status_code == 200


PAGE_QUERIES = 10
API_QUERIES = 9


# --- The API ------------------------------------------------------------------------


def test_the_api_is_for_admins_only(tenant_a):
    for user, expected in ((tenant_a.admin, 200), (tenant_a.editor, 403), (tenant_a.viewer, 403)):
        assert api.get(client_for(user), "audit-events/").status_code == expected
    assert api.send(client_for(tenant_a.admin), "post", "audit-events/", {}).status_code == 405


def test_the_api_lists_and_filters_events(tenant_a):
    seed(tenant_a.org, 3, actor=tenant_a.editor, action=AuditAction.TOKEN_CREATED)
    seed(tenant_a.org, 2, actor=tenant_a.admin, action=AuditAction.MEMBER_REMOVED)
    client = client_for(tenant_a.admin)
    listing = api.get(client, "audit-events/", action="token.created").json()
    assert listing["count"] == 3
    first = listing["results"][0]
    assert first["target"] == "event-2" and first["actor_email"] == "editor@org-a.example"
    assert set(first) == {
        "id",
        "at",
        "action",
        "actor_email",
        "target",
        "detail",
        "ip_address",
        "user_agent",
    }
    # The admin's two, and their sign-in (client_for).
    assert api.get(client, "audit-events/", actor="Admin@Org-A.example").json()["count"] == 3
    removed = api.get(client, "audit-events/", actor="admin@org-a.example", action="member.removed")
    assert removed.json()["count"] == 2
    since = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    assert api.get(client, "audit-events/", since=since).json()["count"] == 0
    one = api.get(client, f"audit-events/{first['id']}/")
    assert one.status_code == 200 and one.json() == first


def test_the_api_answers_400_for_a_bad_filter(tenant_a):
    answer = api.get(client_for(tenant_a.admin), "audit-events/", action="x", since="2026-13-01")
    assert answer.status_code == 400
    body = answer.json()
    assert body["action"] == [
        f"'x' is not an audit action; use one of {', '.join(AuditAction.values)}."
    ]
    assert body["since"][0].startswith("'2026-13-01' is not a date or an ISO 8601 date-time")


def test_the_api_reads_a_date_time_without_offset_in_the_organizations_time_zone(tenant_a):
    with organization_context(tenant_a.org.pk):
        Organization.objects.filter(pk=tenant_a.org.pk).update(time_zone="Asia/Tokyo")
        AuditEvent.objects.create(
            organization=tenant_a.org,
            action=AuditAction.WEBHOOK_SECRET_ROTATED,
            at=dt.datetime(2026, 7, 1, 0, 30, tzinfo=dt.UTC),  # 09:30 in Tokyo
        )
    client = client_for(tenant_a.admin)

    def count(since: str) -> int:
        params = {"action": "webhook.secret_rotated", "since": since}
        return api.get(client, "audit-events/", **params).json()["count"]

    assert count("2026-07-01T09:00") == 1
    assert count("2026-07-01T10:00") == 0
    assert count("2026-07-01T00:30:00Z") == 1  # an offset is taken as given


@pytest.mark.parametrize("n", [3, 30])
def test_the_api_query_count_does_not_grow_with_the_events(tenant_a, n, django_assert_num_queries):
    seed(tenant_a.org, n, actor=tenant_a.editor)
    client = client_for(tenant_a.admin)
    # The same for 3 events and for 30: the count and one page, no join per row.
    with django_assert_num_queries(API_QUERIES):
        answer = api.get(client, "audit-events/", action="token.created")
    assert answer.json()["count"] == n


# --- Append-only ----------------------------------------------------------------------


def test_the_app_role_can_neither_update_nor_delete_an_event(tenant_a):
    seed(tenant_a.org, 1, actor=tenant_a.admin)
    with organization_context(tenant_a.org.pk):
        for statement in (
            "UPDATE portfolio_auditevent SET target = 'forged'",
            "DELETE FROM portfolio_auditevent",
        ):
            with (
                pytest.raises(DatabaseError, match="permission denied"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(statement)
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            AuditEvent.objects.filter(organization=tenant_a.org).delete()
    assert [e.target for e in events(tenant_a.org)] == ["event-0"]


def test_deleting_an_organization_still_removes_its_log(tenant_a, tenant_b):
    seed(tenant_a.org, 2)
    seed(tenant_b.org, 1)
    with organization_context(tenant_a.org.pk):
        Organization.objects.filter(pk=tenant_a.org.pk).delete()
    with connection.cursor() as cursor, organization_context(tenant_a.org.pk):
        cursor.execute("SELECT count(*) FROM portfolio_auditevent")
        assert cursor.fetchone()[0] == 0
    assert len(events(tenant_b.org)) == 1
