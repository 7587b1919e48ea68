"""Tenancy: the one place each interface resolves and enforces the organization.

- HTML pages: ``TenantMiddleware`` resolves ``request.organization`` from
  ``/o/<slug>/`` and the user's membership, once per request.
- The API: ``OrgScopedAPIMixin`` (portfolio.apis) does the same after DRF has
  authenticated the request.
- Tasks: ``org_task`` runs the task body inside ``organization_context``.
- Commands: ``OrgCommand`` (portfolio.management.base) resolves ``--org``.

Each of them sets the organization (and user) for the current transaction
with ``set_config(..., true)``; PostgreSQL's row-level security policies
(portfolio.rls) then hide every other organization's rows, as a second wall
behind the ORM filters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils import timezone

from portfolio.models import Membership, Organization, Role, role_at_least

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

GUC_ORGANIZATION = "throughline.organization"
GUC_USER = "throughline.user"
GUC_LOOKUP = "throughline.lookup"

ORG_PATH = re.compile(r"^/o/(?P<slug>[^/]+)/")
# The methods an HTML page under /o/<slug>/ takes (org_view).
PAGE_METHODS = ("GET", "HEAD", "POST")


def _set(name: str, value: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(%s, %s, true)", [name, "" if value is None else str(value)]
        )


def _get(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [name])
        return cursor.fetchone()[0] or ""


def set_transaction_context(*, organization_id: int | None, user_id: int | None = None) -> None:
    """Set the organization and user for the rest of the current transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("the organization context needs a transaction (transaction.atomic)")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(%s, %s, true), set_config(%s, %s, true)",
            [
                GUC_ORGANIZATION,
                "" if organization_id is None else str(organization_id),
                GUC_USER,
                "" if user_id is None else str(user_id),
            ],
        )


@contextmanager
def organization_context(
    organization_id: int | None, *, user_id: int | None = None
) -> Iterator[None]:
    """Run a block in a transaction acting for one organization (and optionally a user).

    The previous context is restored on exit, so a nested block (an eager task
    inside a request, say) leaves its caller's context as it found it.
    """
    with transaction.atomic():
        previous = (_get(GUC_ORGANIZATION), _get(GUC_USER))
        set_transaction_context(organization_id=organization_id, user_id=user_id)
        yield
        # Only on a normal exit: after an error the rollback of this atomic
        # block undoes set_config(..., true) itself, and a statement here would
        # hide the error behind "current transaction is aborted".
        _set(GUC_ORGANIZATION, previous[0])
        _set(GUC_USER, previous[1])


@contextmanager
def lookup_key(value: str) -> Iterator[None]:
    """Make rows whose secret hash equals ``value`` visible for the block.

    An invitation link or an API token is looked up before its organization is
    known; the policies of those two tables let a row through when its hash is
    this transaction's lookup key, and no other row.
    """
    with transaction.atomic():
        _set(GUC_LOOKUP, value)
        yield
        _set(GUC_LOOKUP, "")  # on an error, the rollback clears it


def membership_for(user: AbstractBaseUser, slug: str) -> Membership | None:
    """The user's membership of the organization with this slug, or None.

    A missing organization and one the user does not belong to give the same
    None: the caller answers 404 for both.
    """
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.select_related("organization", "user")
        .filter(organization__slug=slug, user=user)
        .first()
    )


def enter_organization(request: HttpRequest, slug: str) -> Membership:
    """Resolve the organization of a request and set it for the transaction; 404 if not a member."""
    membership = membership_for(request.user, slug)
    if membership is None:
        raise Http404("No such organization.")
    set_transaction_context(organization_id=membership.organization_id, user_id=request.user.pk)
    request.organization = membership.organization
    request.membership = membership
    return membership


class TenantMiddleware:
    """One transaction per request, with row-level security context set in it.

    For ``/o/<slug>/`` pages it resolves ``request.organization`` and
    ``request.membership``; anonymous visitors are sent to the login page.
    Elsewhere it sets only the user, which lets a user read their own
    memberships (the organization switcher) and nothing of any organization.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.organization = None
        request.membership = None
        if request.path.startswith(settings.STATIC_URL):
            return self.get_response(request)
        with transaction.atomic():
            user_id = request.user.pk if request.user.is_authenticated else None
            set_transaction_context(organization_id=None, user_id=user_id)
            match = ORG_PATH.match(request.path_info)
            if not match:
                return self.get_response(request)
            if user_id is None:
                return redirect_to_login(request.get_full_path())
            membership = enter_organization(request, match["slug"])
            # Pages show times in the organization's time zone.
            with timezone.override(membership.organization.time_zone):
                return self.get_response(request)


def require_role(request: HttpRequest, role: str) -> None:
    """403 unless the request's member has at least ``role`` in its organization."""
    membership = getattr(request, "membership", None)
    if membership is None or not role_at_least(membership.role, role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role.")


def org_view(role: str = Role.VIEWER) -> Callable:
    """Decorate an ``/o/<slug>/`` view: it needs a member with at least ``role``.

    The organization itself is already resolved by ``TenantMiddleware``; the
    ``org_slug`` URL argument is consumed here so views see only their own.
    Pages are read with GET and written with POST (forms and htmx); any other
    method answers 405 rather than the page.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, org_slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.organization is None or request.organization.slug != org_slug:
                raise Http404("No such organization.")
            if request.method not in PAGE_METHODS:
                return HttpResponseNotAllowed(PAGE_METHODS)
            require_role(request, role)
            return view(request, *args, **kwargs)

        wrapper.required_role = role
        return wrapper

    return decorator


def get_for_request[M: Model](
    request: HttpRequest, queryset: QuerySet[M] | type[M], **lookup: Any
) -> M:
    """Fetch one object of the request's organization; 404 for a missing one and
    for another organization's, alike."""
    qs = queryset._default_manager.all() if isinstance(queryset, type) else queryset
    try:
        return qs.get(organization=request.organization, **lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404(f"No such {qs.model._meta.verbose_name}.") from exc


def org_task(*task_args: Any, **task_kwargs: Any) -> Callable:
    """Declare a Celery task that acts for one organization.

    The task's first argument is ``organization_id``; its body runs in a
    transaction with that organization set for row-level security. Tasks take
    ids, never model instances.
    """
    from celery import shared_task

    def decorator(fn: Callable[..., Any]) -> Any:
        @functools.wraps(fn)
        def run(organization_id: int, *args: Any, **kwargs: Any) -> Any:
            if not Organization.objects.filter(pk=organization_id).exists():
                return None
            with organization_context(organization_id):
                return fn(organization_id, *args, **kwargs)

        return shared_task(*task_args, **task_kwargs)(run)

    return decorator
