"""Background tasks: idempotent, acting for one organization at a time."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from portfolio.models import Invitation
from portfolio.tasks import invitation_send, invitations_purge_expired
from portfolio.tenancy import organization_context
from tests.factories import invite

pytestmark = pytest.mark.django_db


def invite_into(t, email: str):
    return invite(t.org, email, by=t.admin)


def test_invitation_send_mails_once_however_often_it_runs(tenant_a):
    new = invite_into(tenant_a, "once@example.com")
    for _ in range(3):
        invitation_send.delay(tenant_a.org.pk, new.invitation.pk, new.url)
    assert len(mail.outbox) == 1


def test_invitation_send_ignores_another_organizations_invitation(tenant_a, tenant_b):
    new = invite_into(tenant_b, "b-only@example.com")
    # Org A's id with org B's invitation: RLS and the filter both hide it.
    invitation_send.delay(tenant_a.org.pk, new.invitation.pk, new.url)
    assert mail.outbox == []


def test_purge_removes_long_expired_and_revoked_invitations_in_every_organization(
    tenant_a, tenant_b
):
    old = timezone.now() - timedelta(days=40)
    keep_a = invite_into(tenant_a, "fresh@example.com").invitation
    for t in (tenant_a, tenant_b):
        stale = invite_into(t, "stale@example.com").invitation
        revoked = invite_into(t, "revoked@example.com").invitation
        with organization_context(t.org.pk):
            Invitation.objects.filter(pk=stale.pk).update(expires_at=old)
            Invitation.objects.filter(pk=revoked.pk).update(revoked_at=old)
    assert invitations_purge_expired.delay().get() == 4
    with organization_context(tenant_a.org.pk):
        assert list(Invitation.objects.values_list("pk", flat=True)) == [keep_a.pk]
    with organization_context(tenant_b.org.pk):
        assert Invitation.objects.count() == 0
    assert invitations_purge_expired.delay().get() == 0
