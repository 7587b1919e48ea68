"""Pages for the organization, its members, invitations and API tokens."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from portfolio import selectors, services
from portfolio.audit import audit_events
from portfolio.forms import (
    AuditFilterForm,
    InvitationForm,
    OrganizationSettingsForm,
    RoleForm,
    SignUpForm,
    TokenForm,
)
from portfolio.models import ApiToken, Invitation, Membership, Role, may_administer
from portfolio.tenancy import get_for_request, org_view

logger = logging.getLogger(__name__)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    memberships = selectors.memberships_of_user(user=request.user)
    if len(memberships) == 1:
        return redirect("org_home", org_slug=memberships[0].organization.slug)
    return render(request, "home.html", {"memberships": memberships})


@require_GET
@org_view()
def org_home(request: HttpRequest) -> HttpResponse:
    org = request.organization
    return render(
        request,
        "portfolio/org_home.html",
        {
            "counts": selectors.organization_counts(organization=org),
            "members": selectors.members_of(organization=org)[:12],
        },
    )


def _members_context(request: HttpRequest, **extra: object) -> dict:
    org = request.organization
    page = Paginator(selectors.members_of(organization=org), 50).get_page(request.GET.get("page"))
    return {
        "page": page,
        "role_choices": Role.choices,
        "invitations": (
            selectors.invitations_pending(organization=org)
            if may_administer(request.membership)
            else []
        ),
        "form": InvitationForm(),
        **extra,
    }


@require_GET
@org_view()
def members(request: HttpRequest) -> HttpResponse:
    return render(request, "portfolio/members.html", _members_context(request))


@require_POST
@org_view(Role.ADMIN)
def member_invite(request: HttpRequest) -> HttpResponse:
    form = InvitationForm(request.POST)
    new = None
    if form.is_valid():
        try:
            new = services.invitation_create(
                organization=request.organization,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=request.user,
                request=request,
            )
        except ValidationError as exc:
            form.add_error("email", exc)
    if new is not None:
        # In development the email goes to the console; the admin also sees
        # the link here, once, to pass it on by hand.
        if settings.DEBUG:
            logger.warning("Invitation for %s: %s", new.invitation.email, new.url)
        form = InvitationForm()
    context = _members_context(request, form=form, new_invitation=new)
    template = "portfolio/members.html#invitations" if request.htmx else "portfolio/members.html"
    status = 200 if new is not None or not form.errors else 400
    if request.htmx and status == 400:
        # htmx does not swap 4xx answers by default; the form with its errors must show.
        status = 200
    return render(request, template, context, status=status)


@require_POST
@org_view(Role.ADMIN)
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_for_request(
        request, Membership.objects.select_related("user"), pk=membership_id
    )
    form = RoleForm(request.POST)
    error = None
    if form.is_valid():
        try:
            services.membership_change_role(
                organization=request.organization,
                membership=membership,
                role=form.cleaned_data["role"],
                actor=request.user,
                request=request,
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = "Choose admin, editor or viewer."
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, f"{membership.user.email} is now {membership.role}.")
        return redirect("members", org_slug=request.organization.slug)
    membership.refresh_from_db()
    return render(
        request,
        "portfolio/members.html#member-row",
        {"m": membership, "role_choices": Role.choices, "row_error": error},
    )


@require_POST
@org_view(Role.ADMIN)
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_for_request(
        request, Membership.objects.select_related("user"), pk=membership_id
    )
    try:
        services.membership_remove(
            organization=request.organization,
            membership=membership,
            actor=request.user,
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{membership.user.email} was removed.")
    if (
        membership.user_id == request.user.pk
        and not Membership.objects.filter(
            organization=request.organization, user=request.user
        ).exists()
    ):
        return redirect("home")
    return redirect("members", org_slug=request.organization.slug)


@require_POST
@org_view(Role.ADMIN)
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_for_request(request, Invitation, pk=invitation_id)
    services.invitation_revoke(
        organization=request.organization,
        invitation=invitation,
        actor=request.user,
        request=request,
    )
    messages.success(request, f"The invitation of {invitation.email} was revoked.")
    return redirect("members", org_slug=request.organization.slug)


@org_view(Role.ADMIN)
def org_settings(request: HttpRequest) -> HttpResponse:
    org = request.organization
    form = OrganizationSettingsForm(request.POST or None, instance=org)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.organization_update(organization=org, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, "Settings saved.")
                return redirect("org_settings", org_slug=org.slug)
        org.refresh_from_db()
        return render(request, "portfolio/settings.html", {"form": form}, status=400)
    return render(request, "portfolio/settings.html", {"form": form})


def _tokens_context(request: HttpRequest, **extra: object) -> dict:
    tokens = selectors.api_tokens_visible(
        organization=request.organization, membership=request.membership
    )
    return {"tokens": tokens, "form": TokenForm(), **extra}


NEW_TOKEN_SESSION_KEY = "new_api_token"  # noqa: S105 - a session key name


@require_GET
@org_view()
def tokens(request: HttpRequest) -> HttpResponse:
    # A key just created is shown once: it waits in the session for this page
    # (post/redirect/get, so a refresh cannot mint a second token).
    new = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
    if new and new.get("organization_id") != request.organization.pk:
        new = None
    return render(request, "portfolio/tokens.html", _tokens_context(request, new_token=new))


@require_POST
@org_view()
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            new = services.api_token_create(
                organization=request.organization,
                user=request.user,
                name=form.cleaned_data["name"],
                actor=request.user,
                request=request,
            )
        except ValidationError as exc:
            form.add_error("name", exc)
        else:
            request.session[NEW_TOKEN_SESSION_KEY] = {
                "organization_id": request.organization.pk,
                "name": new.token.name,
                "key": new.key,
            }
            return redirect("tokens", org_slug=request.organization.slug)
    return render(request, "portfolio/tokens.html", _tokens_context(request, form=form), status=400)


@require_POST
@org_view()
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_for_request(request, ApiToken, pk=token_id)
    if token.user_id != request.user.pk and not may_administer(request.membership):
        messages.error(request, "Only the token's owner or an admin can revoke it.")
        return redirect("tokens", org_slug=request.organization.slug)
    services.api_token_revoke(
        organization=request.organization, token=token, actor=request.user, request=request
    )
    messages.success(request, f"Token “{token.name}” was revoked.")
    return redirect("tokens", org_slug=request.organization.slug)


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Accept an invitation: sign in and accept, or sign up with the invited email."""
    invitation = services.invitation_by_token(token)
    if invitation is None:
        return render(request, "portfolio/invitation_invalid.html", status=404)
    context: dict = {"invitation": invitation, "form": SignUpForm()}
    if request.method == "POST":
        try:
            if request.user.is_authenticated:
                membership = services.invitation_accept(
                    token=token, user=request.user, request=request
                )
            else:
                form = SignUpForm(request.POST)
                context["form"] = form
                if not form.is_valid():
                    return render(request, "portfolio/invitation_accept.html", context, status=400)
                user, membership = services.user_sign_up_and_accept(
                    token=token, password=form.cleaned_data["password1"], request=request
                )
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        except ValidationError as exc:
            context["error"] = " ".join(exc.messages)
            return render(request, "portfolio/invitation_accept.html", context, status=400)
        messages.success(request, f"Welcome to {membership.organization.name}.")
        return redirect("org_home", org_slug=membership.organization.slug)
    context["login_url"] = reverse("login") + "?next=" + request.path
    context["has_account"] = services.User.objects.filter(email__iexact=invitation.email).exists()
    return render(request, "portfolio/invitation_accept.html", context)


AUDIT_PAGE_SIZE = 50


@require_GET
@org_view(Role.ADMIN)
def audit_log(request: HttpRequest) -> HttpResponse:
    """The organization's audit log, newest first, filtered by action, actor and date."""
    filters = AuditFilterForm(request.GET)
    status = 200
    if filters.is_valid():
        f = filters.cleaned_data
        events = audit_events(
            organization=request.organization,
            action=f["action"],
            actor_email=f["actor"],
            since=f["since"],
        )
        page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    else:
        page = None
        # htmx does not swap 4xx answers by default; the errors must show.
        status = 200 if request.htmx else 400
    template = "portfolio/audit.html#results" if request.htmx else "portfolio/audit.html"
    return render(request, template, {"filters": filters, "page": page}, status=status)
