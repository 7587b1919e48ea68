"""Webhooks: the endpoints GitHub and Jira deliver to, and the admins' page that sets
them up (secrets, routes to value streams, the delivery log)."""

from __future__ import annotations

import secrets

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from portfolio.models import Organization, Role
from portfolio.site import absolute_url
from portfolio.tenancy import get_for_request, org_view, organization_context
from streams.models import ValueStream, WebhookProvider, WebhookRoute
from streams.webhooks import (
    MAX_BODY_BYTES,
    PROVIDERS,
    signature_refused,
    signature_valid,
    webhook_deliveries,
    webhook_delivery_receive,
    webhook_endpoints,
    webhook_route_create,
    webhook_route_delete,
    webhook_routes,
    webhook_secret_for,
    webhook_secret_rotate,
)

DELIVERIES_PER_PAGE = 25
NEW_SECRET_SESSION_KEY = "new_webhook_secret"  # noqa: S105 - a session key name
# Stands in for the secret of an organization that has none (or does not
# exist), so that every refused delivery costs the same HMAC.
_DECOY_SECRET = secrets.token_urlsafe(32)


# --- Receiving deliveries ------------------------------------------------------------


def _content_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _deliver(request: HttpRequest, org_slug: str, provider: str) -> JsonResponse:
    """Receive one delivery. The signature is the authentication: there is no
    session, and an unknown organization, an endpoint without a secret and a bad
    signature answer the very same 403."""
    length = _content_length(request)
    if length > MAX_BODY_BYTES:
        return JsonResponse(
            {
                "outcome": "rejected",
                "detail": f"the body is {length} bytes; at most {MAX_BODY_BYTES} (1 MiB) "
                "are accepted",
            },
            status=413,
        )
    body = request.body  # no longer than CONTENT_LENGTH, checked above
    organization = Organization.objects.filter(slug=org_slug).first()
    org_id = organization.pk if organization is not None else None
    spec = PROVIDERS[provider]
    with organization_context(org_id):
        secret = webhook_secret_for(organization_id=org_id, provider=provider)
        valid = signature_valid(
            secret=secret or _DECOY_SECRET,
            body=body,
            signature=request.META.get(spec.signature_header, ""),
        )
        if organization is None or secret is None or not valid:
            receipt = signature_refused(provider)
        else:
            receipt = webhook_delivery_receive(
                organization=organization,
                provider=provider,
                delivery_id=request.META.get(spec.delivery_header, ""),
                event=request.META.get("HTTP_X_GITHUB_EVENT", ""),
                content_type=request.META.get("CONTENT_TYPE", ""),
                body=body,
            )
    return JsonResponse(receipt.as_json(), status=receipt.status)


@csrf_exempt
@require_POST
def github_delivery(request: HttpRequest, org_slug: str) -> JsonResponse:
    return _deliver(request, org_slug, WebhookProvider.GITHUB)


@csrf_exempt
@require_POST
def jira_delivery(request: HttpRequest, org_slug: str) -> JsonResponse:
    return _deliver(request, org_slug, WebhookProvider.JIRA)


# --- The admins' page ----------------------------------------------------------------


class WebhookRouteForm(forms.Form):
    provider = forms.ChoiceField(choices=WebhookProvider.choices)
    source = forms.CharField(
        max_length=200,
        label="Repository or project",
        help_text="GitHub: owner/name. Jira: the project key, e.g. CLM.",
    )
    value_stream = forms.ModelChoiceField(queryset=ValueStream.objects.none())

    def __init__(self, *args: object, organization: Organization, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["value_stream"].queryset = ValueStream.objects.filter(
            organization=organization
        ).order_by("name")


def _page_context(request: HttpRequest, **extra: object) -> dict:
    org = request.organization
    endpoints = webhook_endpoints(organization=org)
    providers = [
        {
            "value": provider.value,
            "label": provider.label,
            "url": absolute_url(reverse(f"webhook_{provider.value}", args=[org.slug]), request),
            "endpoint": endpoints.get(provider.value),
        }
        for provider in WebhookProvider
    ]
    deliveries = Paginator(webhook_deliveries(organization=org), DELIVERIES_PER_PAGE)
    return {
        "providers": providers,
        "routes": webhook_routes(organization=org),
        "form": WebhookRouteForm(organization=org),
        "deliveries": deliveries.get_page(request.GET.get("page")),
        "max_age_hours": settings.WEBHOOK_MAX_AGE_SECONDS / 3600,
        **extra,
    }


@require_GET
@org_view(Role.ADMIN)
def webhooks_page(request: HttpRequest) -> HttpResponse:
    if request.htmx and request.htmx.target == "deliveries":
        context = _page_context(request)
        return render(request, "streams/webhooks.html#deliveries", context)
    # A secret just made is shown once: it waits in the session for this page
    # (post/redirect/get, so a refresh cannot rotate it again).
    new = request.session.pop(NEW_SECRET_SESSION_KEY, None)
    if new and new.get("organization_id") != request.organization.pk:
        new = None
    return render(request, "streams/webhooks.html", _page_context(request, new_secret=new))


@require_POST
@org_view(Role.ADMIN)
def webhook_secret_rotate_view(request: HttpRequest) -> HttpResponse:
    provider = request.POST.get("provider", "")
    try:
        secret = webhook_secret_rotate(
            organization=request.organization,
            provider=provider,
            actor=request.user,
            request=request,
        )
    except ValidationError as exc:
        return render(
            request,
            "streams/webhooks.html",
            _page_context(request, error="; ".join(exc.messages)),
            status=400,
        )
    request.session[NEW_SECRET_SESSION_KEY] = {
        "organization_id": request.organization.pk,
        "provider": WebhookProvider(provider).label,
        "secret": secret,
    }
    return redirect("webhooks", org_slug=request.organization.slug)


@require_POST
@org_view(Role.ADMIN)
def webhook_route_add(request: HttpRequest) -> HttpResponse:
    form = WebhookRouteForm(request.POST, organization=request.organization)
    if form.is_valid():
        try:
            route = webhook_route_create(organization=request.organization, **form.cleaned_data)
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            messages.success(
                request, f"{route.source} now feeds value stream “{route.value_stream.name}”."
            )
            return redirect("webhooks", org_slug=request.organization.slug)
    return render(request, "streams/webhooks.html", _page_context(request, form=form), status=400)


@require_POST
@org_view(Role.ADMIN)
def webhook_route_remove(request: HttpRequest, webhook_route_id: int) -> HttpResponse:
    route = get_for_request(request, WebhookRoute, pk=webhook_route_id)
    webhook_route_delete(organization=request.organization, route=route)
    messages.success(request, f"{route.source} is no longer routed; its deliveries are ignored.")
    return redirect("webhooks", org_slug=request.organization.slug)
