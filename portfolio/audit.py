"""The security audit log: ``audit_record``, the one service that writes it, the
sign-in recorders behind the auth signals, and ``audit_events``, its reader.

Services call ``audit_record`` inside their own transaction, so an event is
recorded exactly when the change it describes commits. The caller acts for the
organization already (row-level security admits the row only then): a request
under ``/o/<slug>/``, ``OrgScopedAPIMixin``, ``org_task``, ``OrgCommand``, or
``organization_context`` elsewhere (the sign-in recorders). Rows are
append-only: the app role may not update or delete them (portfolio.rls);
deleting the organization removes its log through the database's cascade.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from axes.helpers import get_client_ip_address
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address

from portfolio.models import AuditAction, AuditEvent, Membership, Organization
from portfolio.tenancy import organization_context

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import AbstractBaseUser
    from django.db.models import QuerySet
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

TARGET_MAX = AuditEvent._meta.get_field("target").max_length
USER_AGENT_MAX = AuditEvent._meta.get_field("user_agent").max_length


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as django-axes reads it (``AXES_PROXY_COUNT``), so the
    log and the login lockout name the same address; None if it is not an IP."""
    address = get_client_ip_address(request)
    if not address:
        return None
    try:
        validate_ipv46_address(address)
    except ValidationError:
        return None
    return address


def audit_record(
    *,
    organization: Organization,
    actor: AbstractBaseUser | None,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Record one event of ``action`` in ``organization``'s audit log.

    ``actor`` is None for the system (a management command, a worker) or an
    anonymous attempt; their email is copied so the event outlives the user.
    With a ``request``, the client's address and user agent are kept too.
    ``detail`` must be JSON-serializable and never hold a secret (a password,
    a token's key, an invitation link).
    """
    if action not in AuditAction.values:
        raise ValueError(f"audit action {action!r} is not one of {', '.join(AuditAction.values)}")
    if actor is not None and not actor.is_authenticated:
        actor = None  # AnonymousUser: nobody to name
    ip_address = None
    user_agent = ""
    if request is not None:
        ip_address = client_ip(request)
        user_agent = request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX]
    return AuditEvent.objects.create(
        organization=organization,
        action=action,
        actor=actor,
        # Lowercased: emails are compared case-insensitively (usernames are the
        # lowercased email), and the filter then uses the index.
        actor_email=(getattr(actor, "email", "") or "").lower(),
        target=target[:TARGET_MAX],
        detail=detail or {},
        ip_address=ip_address,
        user_agent=user_agent,
    )


def audit_events(
    *,
    organization: Organization,
    action: str = "",
    actor_email: str = "",
    since: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """The organization's audit events, newest first, optionally of one action, by
    one actor (their email, any case) and from a moment on. One query, no joins:
    an event carries everything it shows."""
    events = AuditEvent.objects.filter(organization=organization)
    if action:
        events = events.filter(action=action)
    if actor_email:
        events = events.filter(actor_email=actor_email.strip().lower())
    if since is not None:
        events = events.filter(at__gte=since)
    return events.order_by("-at", "-id")


# --- Sign-ins ------------------------------------------------------------------------
# A sign-in is global while the log is per organization: it is recorded in every
# organization the user belongs to, each in its own context (row-level security).


def _memberships_of(user_id: int) -> list[Membership]:
    # A member may read their own memberships across organizations (portfolio.rls).
    with organization_context(None, user_id=user_id):
        return list(
            Membership.objects.filter(user_id=user_id)
            .select_related("organization")
            .order_by("organization_id")
        )


def login_record(*, user: AbstractBaseUser, request: HttpRequest | None) -> list[AuditEvent]:
    """Record a successful sign-in in each of the user's organizations."""
    events = []
    for membership in _memberships_of(user.pk):
        with organization_context(membership.organization_id, user_id=user.pk):
            events.append(
                audit_record(
                    organization=membership.organization,
                    actor=user,
                    action=AuditAction.LOGIN,
                    target=user.email,
                    request=request,
                )
            )
    return events


def login_failed_record(
    *, credentials: dict[str, Any], request: HttpRequest | None
) -> list[AuditEvent]:
    """Record a failed sign-in in each organization of the user whose email was tried.

    An email that names no user belongs to no organization: it goes to the
    Python log only. The password tried is never read (Django has already
    masked it in ``credentials``).
    """
    User = get_user_model()
    tried = str(credentials.get(User.USERNAME_FIELD) or "").strip()
    users = (
        list(User._default_manager.filter(**{f"{User.USERNAME_FIELD}__iexact": tried}))
        if tried
        else []
    )
    # django-axes has already counted this failure (its receiver runs first).
    detail = {"locked_out": bool(getattr(request, "axes_locked_out", False))}
    events = []
    for user in users:
        for membership in _memberships_of(user.pk):
            # Nobody is signed in: the attempt has no actor, the account is its target.
            with organization_context(membership.organization_id):
                events.append(
                    audit_record(
                        organization=membership.organization,
                        actor=None,
                        action=AuditAction.LOGIN_FAILED,
                        target=user.email,
                        detail=detail,
                        request=request,
                    )
                )
    if not users:
        logger.warning(
            "failed sign-in for %r, which is no user's, from %s (locked out: %s)",
            tried,
            client_ip(request) if request is not None else "no request",
            detail["locked_out"],
        )
    return events


def on_user_logged_in(
    sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any
) -> None:
    login_record(user=user, request=request)


def on_user_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    login_failed_record(credentials=credentials, request=request)
