"""Background work for organizations and members."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone

from portfolio.models import Invitation, Organization
from portfolio.tenancy import org_task, organization_context


@org_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def invitation_send(organization_id: int, invitation_id: int, url: str) -> None:
    """Mail an invitation link. Idempotent: an invitation is mailed once."""
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("organization", "invited_by")
        .filter(organization_id=organization_id, pk=invitation_id, email_sent_at=None)
        .first()
    )
    if invitation is None or not invitation.is_pending:
        return
    context = {"invitation": invitation, "url": url}
    send_mail(
        subject=f"You are invited to {invitation.organization.name} on Throughline",
        message=render_to_string("portfolio/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )
    invitation.email_sent_at = timezone.now()
    invitation.save(update_fields=["email_sent_at"])


@shared_task
def invitations_purge_expired() -> int:
    """Delete invitations that expired or were revoked more than 30 days ago, per organization."""
    cutoff = timezone.now() - timedelta(days=30)
    removed = 0
    for org_id in Organization.objects.values_list("pk", flat=True):
        with organization_context(org_id):
            stale = Invitation.objects.filter(organization_id=org_id, accepted_at=None)
            removed += stale.filter(expires_at__lt=cutoff).delete()[0]
            removed += stale.filter(revoked_at__lt=cutoff).delete()[0]
    return removed
