"""Writes for organizations, members, invitations and API tokens.

Each function takes the organization explicitly and expects to run inside the
organization's context (set by the interface that calls it: a request, a task
or a command); ``organization_create`` sets the context for the new one.

The member, invitation and token services record themselves in the audit log
(portfolio.audit): they take the ``actor`` (None for the system) and, from a
page or the API, the ``request`` whose address and user agent are kept.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone

from portfolio.audit import audit_record
from portfolio.entities import entity_save, links_set, position_move, positions_renumber
from portfolio.models import (
    DEFAULT_LAYERS,
    ApiToken,
    AuditAction,
    Invitation,
    KeyResult,
    Layer,
    Membership,
    Objective,
    ObjectiveJourney,
    ObjectiveValueStream,
    Organization,
    Role,
    may_administer,
    quarter_validator,
    slug_validator,
    validate_time_zone,
)
from portfolio.site import absolute_url
from portfolio.tenancy import lookup_key, organization_context, set_transaction_context

if TYPE_CHECKING:
    from django.http import HttpRequest

    from journeys.models import Journey
    from streams.models import ValueStream

User = get_user_model()

INVITATION_LIFETIME = timedelta(days=7)
TOKEN_PREFIX = "tl_"  # noqa: S105 - a visible prefix, not a secret


def secret_hash(secret: str) -> str:
    """SHA-256 of a high-entropy secret (a token or an invitation link).

    A fast hash is right here: the secrets are 256-bit random values, not
    passwords, so there is nothing to brute-force.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def user_get_or_create(*, email: str, password: str | None) -> tuple[AbstractBaseUser, bool]:
    """The user with this email (case-insensitive), or a new one with this password."""
    email = User.objects.normalize_email(email.strip())
    validate_email(email)
    user = User.objects.filter(email__iexact=email).order_by("pk").first()
    if user is not None:
        return user, False
    if not password:
        raise ValidationError(f"No user has the email {email}; a password is needed to create one.")
    user = User(username=email.lower(), email=email)
    validate_password(password, user)
    user.set_password(password)
    user.save()
    return user, True


@transaction.atomic
def organization_create(
    *,
    slug: str,
    name: str,
    admin: AbstractBaseUser,
    time_zone: str = "UTC",
    default_layers: bool = True,
) -> Organization:
    """Create an organization with ``admin`` as its first org admin.

    Leaves the transaction acting for the new organization. ``default_layers=False``
    leaves it without layers, for a restore whose file brings its own (portfolio.org_io).
    """
    slug_validator(slug)
    validate_time_zone(time_zone)
    if not name.strip():
        raise ValidationError("The organization needs a name.")
    try:
        with transaction.atomic():
            org = Organization.objects.create(slug=slug, name=name.strip(), time_zone=time_zone)
    except IntegrityError as exc:
        raise ValidationError(f"The slug '{slug}' is taken.") from exc
    set_transaction_context(organization_id=org.pk, user_id=admin.pk)
    Membership.objects.create(organization=org, user=admin, role=Role.ADMIN)
    if default_layers:
        layers_create_defaults(organization=org)
    return org


@transaction.atomic
def organization_update(
    *, organization: Organization, name: str, time_zone: str, dora_report_year: int
) -> Organization:
    from metrics.bands import REPORT_YEARS

    validate_time_zone(time_zone)
    if dora_report_year not in REPORT_YEARS:
        raise ValidationError(f"DORA report year {dora_report_year} is not one of 2023, 2021.")
    if not name.strip():
        raise ValidationError("The organization needs a name.")
    organization.name = name.strip()
    organization.time_zone = time_zone
    organization.dora_report_year = dora_report_year
    organization.save(update_fields=["name", "time_zone", "dora_report_year"])
    return organization


def _other_admins_exist(*, organization: Organization, excluding: Membership) -> bool:
    return (
        Membership.objects.filter(organization=organization, role=Role.ADMIN)
        .exclude(pk=excluding.pk)
        .exists()
    )


@transaction.atomic
def membership_change_role(
    *,
    organization: Organization,
    membership: Membership,
    role: str,
    actor: AbstractBaseUser | None,
    request: HttpRequest | None = None,
) -> Membership:
    """Change a member's role. The last admin can never be demoted."""
    if role not in Role.values:
        raise ValidationError(f"'{role}' is not a role; use one of {', '.join(Role.values)}.")
    # Lock the organization's admins so two demotions cannot both pass the check.
    list(
        Membership.objects.select_for_update()
        .filter(organization=organization, role=Role.ADMIN)
        .values_list("pk", flat=True)
    )
    membership.refresh_from_db()
    if (
        may_administer(membership)
        and not may_administer(role)
        and not _other_admins_exist(organization=organization, excluding=membership)
    ):
        raise ValidationError("The last admin cannot be demoted; make another member admin first.")
    previous = membership.role
    if previous == role:
        return membership  # nothing changed, nothing to record
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditAction.MEMBER_ROLE_CHANGED,
        target=membership.user.email,
        detail={"user_id": membership.user_id, "from": previous, "to": role},
        request=request,
    )
    return membership


@transaction.atomic
def membership_remove(
    *,
    organization: Organization,
    membership: Membership,
    actor: AbstractBaseUser | None,
    request: HttpRequest | None = None,
) -> None:
    """Remove a member (and revoke their tokens). The last admin can never be removed."""
    list(
        Membership.objects.select_for_update()
        .filter(organization=organization, role=Role.ADMIN)
        .values_list("pk", flat=True)
    )
    membership.refresh_from_db()
    if may_administer(membership) and not _other_admins_exist(
        organization=organization, excluding=membership
    ):
        raise ValidationError("The last admin cannot be removed; make another member admin first.")
    revoked = ApiToken.objects.filter(
        organization=organization, user_id=membership.user_id, revoked_at=None
    ).update(revoked_at=timezone.now())
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditAction.MEMBER_REMOVED,
        target=membership.user.email,
        detail={"user_id": membership.user_id, "role": membership.role, "tokens_revoked": revoked},
        request=request,
    )
    membership.delete()


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    url: str


def invitation_url(token: str, request: HttpRequest | None = None) -> str:
    """The link that accepts an invitation, on the address the inviting admin used."""
    return absolute_url(reverse("invitation_accept", kwargs={"token": token}), request)


@transaction.atomic
def invitation_create(
    *,
    organization: Organization,
    email: str,
    role: str,
    actor: AbstractBaseUser | None,
    request: HttpRequest | None = None,
) -> NewInvitation:
    """Invite someone by email on behalf of ``actor`` (the invitation's ``invited_by``).

    The link is returned (shown to the admin once) and mailed by a worker;
    pending invitations to the same email are replaced. The audit log never
    holds the link.
    """
    email = User.objects.normalize_email(email.strip())
    validate_email(email)
    if role not in Role.values:
        raise ValidationError(f"'{role}' is not a role; use one of {', '.join(Role.values)}.")
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ValidationError(f"{email} is already a member.")
    now = timezone.now()
    replaced = Invitation.objects.filter(
        organization=organization,
        email__iexact=email,
        accepted_at=None,
        revoked_at=None,
    ).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        token_hash=secret_hash(token),
        invited_by=actor if actor is not None and actor.is_authenticated else None,
        expires_at=now + INVITATION_LIFETIME,
    )
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditAction.INVITATION_CREATED,
        target=email,
        detail={"invitation_id": invitation.pk, "role": role, "replaced": replaced},
        request=request,
    )
    from portfolio.tasks import invitation_send

    url = invitation_url(token, request)
    invitation_send.delay_on_commit(organization.pk, invitation.pk, url)
    return NewInvitation(invitation=invitation, url=url)


@transaction.atomic
def invitation_revoke(
    *,
    organization: Organization,
    invitation: Invitation,
    actor: AbstractBaseUser | None,
    request: HttpRequest | None = None,
) -> None:
    """Revoke a pending invitation; revoking one already used or revoked changes nothing."""
    revoked = Invitation.objects.filter(
        organization=organization, pk=invitation.pk, accepted_at=None, revoked_at=None
    ).update(revoked_at=timezone.now())
    if revoked:
        audit_record(
            organization=organization,
            actor=actor,
            action=AuditAction.INVITATION_REVOKED,
            target=invitation.email,
            detail={"invitation_id": invitation.pk, "role": invitation.role},
            request=request,
        )


def invitation_by_token(token: str) -> Invitation | None:
    """The pending invitation behind a link, or None (unknown, used, revoked or expired)."""
    hashed = secret_hash(token)
    with lookup_key(hashed):
        invitation = (
            Invitation.objects.select_related("organization").filter(token_hash=hashed).first()
        )
    if invitation is None or not invitation.is_pending:
        return None
    return invitation


@transaction.atomic
def invitation_accept(
    *, token: str, user: AbstractBaseUser, request: HttpRequest | None = None
) -> Membership:
    """Accept an invitation as ``user`` (the actor), whose email must be the invited one."""
    invitation = invitation_by_token(token)
    if invitation is None:
        raise ValidationError("This invitation is unknown, used, revoked or expired.")
    if (user.email or "").lower() != invitation.email.lower():
        raise ValidationError(
            f"This invitation is for {invitation.email}; you are signed in as {user.email}."
        )
    set_transaction_context(organization_id=invitation.organization_id, user_id=user.pk)
    membership, created = Membership.objects.get_or_create(
        organization_id=invitation.organization_id, user=user, defaults={"role": invitation.role}
    )
    Invitation.objects.filter(pk=invitation.pk).update(accepted_at=timezone.now(), accepted_by=user)
    membership.organization = invitation.organization
    audit_record(
        organization=invitation.organization,
        actor=user,
        action=AuditAction.INVITATION_ACCEPTED,
        target=invitation.email,
        detail={
            "invitation_id": invitation.pk,
            "role": membership.role,
            "already_member": not created,
        },
        request=request,
    )
    return membership


@transaction.atomic
def user_sign_up_and_accept(
    *, token: str, password: str, request: HttpRequest | None = None
) -> tuple[AbstractBaseUser, Membership]:
    """Create the invited user with this password, then accept the invitation as them
    (the new user is the audit event's actor)."""
    invitation = invitation_by_token(token)
    if invitation is None:
        raise ValidationError("This invitation is unknown, used, revoked or expired.")
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise ValidationError(f"{invitation.email} already has an account: sign in to accept.")
    user, _ = user_get_or_create(email=invitation.email, password=password)
    return user, invitation_accept(token=token, user=user, request=request)


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    key: str


@transaction.atomic
def api_token_create(
    *,
    organization: Organization,
    user: AbstractBaseUser,
    name: str,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> NewToken:
    """Create a token for ``user`` in ``organization``; the key is returned once.

    ``actor`` defaults to ``user``: people create their own tokens (the page and
    the API offer nothing else); whoever mints one for someone else names
    themselves. The audit log keeps the key's visible prefix, never the key.
    """
    name = name.strip()
    if not name:
        raise ValidationError("Give the token a name, such as the script that will use it.")
    if not Membership.objects.filter(organization=organization, user=user).exists():
        raise ValidationError("Only members can have tokens for an organization.")
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        organization=organization,
        user=user,
        name=name[:100],
        prefix=key[:10],
        key_hash=secret_hash(key),
    )
    audit_record(
        organization=organization,
        actor=user if actor is None else actor,
        action=AuditAction.TOKEN_CREATED,
        target=str(token),
        detail={"token_id": token.pk, "user": user.email, "prefix": token.prefix},
        request=request,
    )
    return NewToken(token=token, key=key)


@transaction.atomic
def api_token_revoke(
    *,
    organization: Organization,
    token: ApiToken,
    actor: AbstractBaseUser | None,
    request: HttpRequest | None = None,
) -> None:
    """Revoke a token; revoking one already revoked changes nothing."""
    revoked = ApiToken.objects.filter(
        organization=organization, pk=token.pk, revoked_at=None
    ).update(revoked_at=timezone.now())
    if revoked:
        owner = User.objects.filter(pk=token.user_id).values_list("email", flat=True).first()
        audit_record(
            organization=organization,
            actor=actor,
            action=AuditAction.TOKEN_REVOKED,
            target=str(token),
            detail={"token_id": token.pk, "user": owner or "", "prefix": token.prefix},
            request=request,
        )


def api_token_authenticate(key: str) -> ApiToken | None:
    """The active token with this key, with its user and organization, or None."""
    if not key.startswith(TOKEN_PREFIX):
        return None
    hashed = secret_hash(key)
    with lookup_key(hashed):
        token = (
            ApiToken.objects.select_related("user", "organization")
            .filter(key_hash=hashed, revoked_at=None)
            .first()
        )
    if token is None or not token.user.is_active:
        return None
    with organization_context(token.organization_id, user_id=token.user_id):
        ApiToken.objects.filter(organization_id=token.organization_id, pk=token.pk).update(
            last_used_at=timezone.now()
        )
    return token


# --- The portfolio ---------------------------------------------------------------


@transaction.atomic
def layers_create_defaults(*, organization: Organization) -> list[Layer]:
    """Give an organization the seven default layers (those it lacks) of
    docs/metrics.md#the-portfolio."""
    existing = set(Layer.objects.filter(organization=organization).values_list("name", flat=True))
    start = Layer.objects.filter(organization=organization).count()
    created = []
    for name in DEFAULT_LAYERS:
        if name not in existing:
            created.append(
                entity_save(
                    Layer(name=name, position=start + len(created)), organization=organization
                )
            )
    return created


@transaction.atomic
def layer_save(*, organization: Organization, layer: Layer) -> Layer:
    if layer.pk is None and not layer.position:
        layer.position = Layer.objects.filter(organization=organization).count()
    return entity_save(layer, organization=organization)


@transaction.atomic
def layer_move(*, organization: Organization, layer: Layer, offset: int) -> None:
    position_move(Layer.objects.filter(organization=organization), layer, offset)


@transaction.atomic
def layers_reorder(*, organization: Organization, ordered_ids: list[int]) -> None:
    positions_renumber(Layer.objects.filter(organization=organization), ordered_ids)


# --- OKRs --------------------------------------------------------------------------


def _check_no_cycle(instance: models.Model, parent_field: str, what: str) -> None:
    """Refuse a parent that is the instance itself or one of its descendants."""
    seen = set()
    node = getattr(instance, parent_field)
    while node is not None:
        if instance.pk is not None and node.pk == instance.pk:
            article = "An" if what[0] in "aeiou" else "A"
            raise ValidationError({parent_field: f"{article} {what} cannot descend from itself."})
        if node.pk in seen:
            break
        seen.add(node.pk)
        node = getattr(node, parent_field)


@transaction.atomic
def objective_save(
    *,
    organization: Organization,
    objective: Objective,
    value_streams: Iterable | None = None,
    journeys: Iterable | None = None,
    refresh: bool = True,
) -> Objective:
    """Save an objective and replace the links given. When its quarter changes, its
    linked key results are measured again for the new quarter (unless ``refresh`` is
    False: an import measures everything it touched once, at its end)."""
    from portfolio.okrs import key_result_readings_reset, key_results_current_refresh, quarter_dates

    # The quarter's dates are computed for its progress and status: a quarter such as
    # 0000-Q1, which the model's pattern lets through, has none. (A quarter the pattern
    # refuses is reported by entity_save's validation, with the model's message.)
    if quarter_validator.regex.search(objective.quarter or ""):
        quarter_dates(objective.quarter)
    _check_no_cycle(objective, "parent", "objective")
    old_quarter = (
        Objective.objects.filter(pk=objective.pk).values_list("quarter", flat=True).first()
        if objective.pk
        else None
    )
    entity_save(objective, organization=organization)
    if old_quarter is not None and old_quarter != objective.quarter:
        key_result_ids = list(objective.key_results.values_list("pk", flat=True))
        # Readings of the old quarter measured another period.
        key_result_readings_reset(organization=organization, key_result_ids=key_result_ids)
        if refresh:
            key_results_current_refresh(organization=organization, key_result_ids=key_result_ids)
    if value_streams is not None:
        links_set(
            organization=organization,
            link_model=ObjectiveValueStream,
            owner_field="objective",
            owner=objective,
            target_field="value_stream",
            targets=value_streams,
        )
    if journeys is not None:
        links_set(
            organization=organization,
            link_model=ObjectiveJourney,
            owner_field="objective",
            owner=objective,
            target_field="journey",
            targets=journeys,
        )
    return objective


@transaction.atomic
def key_result_save(
    *, organization: Organization, key_result: KeyResult, refresh: bool = True
) -> KeyResult:
    """Save a key result; a linked metric must name one subject and a key of its kind.
    Its current value is then set again (measured, for a linked one) unless
    ``refresh`` is False (see ``objective_save``)."""
    from metrics.definitions import METRICS, Subject, keys_for
    from portfolio.okrs import key_result_readings_reset, key_results_current_refresh

    subject = None
    if key_result.metric_value_stream_id and key_result.metric_journey_id:
        raise ValidationError(
            "A key result's metric belongs to a value stream or a journey, not both."
        )
    if key_result.metric_value_stream_id:
        subject = Subject.VALUE_STREAM
    elif key_result.metric_journey_id:
        subject = Subject.JOURNEY
    if subject is None and key_result.metric_key:
        raise ValidationError({"metric_key": "Name the value stream or journey this metric is of."})
    if subject is not None:
        metric = METRICS.get(key_result.metric_key)
        if metric is None or metric.subject != subject:
            raise ValidationError(
                {
                    "metric_key": f"'{key_result.metric_key}' is not a {subject.replace('_', ' ')} "
                    f"metric; use one of {', '.join(keys_for(subject))}."
                }
            )
    if key_result.baseline == key_result.target:
        raise ValidationError({"target": "The target must differ from the baseline."})
    before = (
        KeyResult.objects.filter(pk=key_result.pk)
        .values_list("metric_value_stream_id", "metric_journey_id", "metric_key")
        .first()
        if key_result.pk
        else None
    )
    entity_save(key_result, organization=organization)
    metric = (
        key_result.metric_value_stream_id,
        key_result.metric_journey_id,
        key_result.metric_key,
    )
    if before is not None and tuple(before) != metric:
        # Readings of another metric are not this key result's history.
        key_result_readings_reset(organization=organization, key_result_ids=[key_result.pk])
    if refresh:
        key_results_current_refresh(organization=organization, key_result_ids=[key_result.pk])
        key_result.refresh_from_db(fields=["current_value", "current_as_of"])
    return key_result


def _check_link(
    organization: Organization, objective: Objective, target: models.Model, target_field: str
) -> None:
    """Both ends of a link must be the organization's; another's reads as missing."""
    for name, obj in (("objective", objective), (target_field, target)):
        if obj.organization_id != organization.pk:
            raise ValidationError(
                {name: f"No {obj._meta.verbose_name} with id {obj.pk} in this organization."}
            )


@transaction.atomic
def objective_value_stream_link(
    *, organization: Organization, objective: Objective, value_stream: ValueStream
) -> ObjectiveValueStream:
    """Link an objective to a value stream; linking it again changes nothing."""
    _check_link(organization, objective, value_stream, "value_stream")
    link = ObjectiveValueStream.objects.filter(
        organization=organization, objective=objective, value_stream=value_stream
    ).first()
    if link is not None:
        return link
    return entity_save(
        ObjectiveValueStream(objective=objective, value_stream=value_stream),
        organization=organization,
    )


@transaction.atomic
def objective_value_stream_unlink(
    *, organization: Organization, objective: Objective, value_stream: ValueStream
) -> bool:
    """Remove the link, if there is one (each delete is a recorded change); True if
    there was one."""
    _check_link(organization, objective, value_stream, "value_stream")
    links = ObjectiveValueStream.objects.filter(
        organization=organization, objective=objective, value_stream=value_stream
    )
    found = False
    for link in links:
        link.delete()
        found = True
    return found


@transaction.atomic
def objective_journey_link(
    *, organization: Organization, objective: Objective, journey: Journey
) -> ObjectiveJourney:
    """Link an objective to a journey; linking it again changes nothing."""
    _check_link(organization, objective, journey, "journey")
    link = ObjectiveJourney.objects.filter(
        organization=organization, objective=objective, journey=journey
    ).first()
    if link is not None:
        return link
    return entity_save(
        ObjectiveJourney(objective=objective, journey=journey), organization=organization
    )


@transaction.atomic
def objective_journey_unlink(
    *, organization: Organization, objective: Objective, journey: Journey
) -> bool:
    """Remove the link, if there is one; True if there was one."""
    _check_link(organization, objective, journey, "journey")
    found = False
    for link in ObjectiveJourney.objects.filter(
        organization=organization, objective=objective, journey=journey
    ):
        link.delete()
        found = True
    return found
