"""Django's request limits, answered as the problem they are, on every interface.

Django refuses a request body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` and a form
with more than ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` fields (or
``DATA_UPLOAD_MAX_NUMBER_FILES`` files) by raising an exception wherever the
body is first read: a generic 400, and in debug a traceback page. This
middleware answers 413 (too large) or 400 (too many fields or files) with a
readable message instead: a page for pages, ``{"detail": ...}`` for the API
and for any client that sent JSON.

It also applies the body limit to the API. DRF's parsers read the request
stream directly, past Django's check, so without it a JSON body of any size
would be read into memory. Uploaded files do not count toward the limit (Django
streams them to disk); each upload has its own limit, checked where it is
read (``streams.uploads``, ``portfolio.model_io``).

``RequestHeadersMiddleware`` cleans the request's headers before anything
reads them: PostgreSQL text cannot hold NUL, and headers are stored (the
user agent by django-axes and the audit log, a webhook's delivery id).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import ngettext
from rest_framework.views import APIView

logger = logging.getLogger(__name__)

NUL = "\x00"
# Where a NUL of a header was: what a character that cannot be kept is replaced by.
REPLACEMENT = "\ufffd"
# The request's headers as WSGI and ASGI name them in ``META``.
_UNPREFIXED_HEADERS = ("CONTENT_TYPE", "CONTENT_LENGTH")

_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def limit_text(limit: int) -> str:
    """A configured limit in the unit it was most likely set in: ``10 MB``, ``64 KB``."""
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit} bytes"


def body_too_large_message() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return (
        f"The request body is over the limit of {limit_text(limit)} "
        "(files uploaded through a form are limited separately); nothing was saved."
    )


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _wants_json(request: HttpRequest, view_func: Callable | None) -> bool:
    """An API view, or a client that sent JSON (a webhook delivery): answer in JSON."""
    view_class = getattr(view_func, "cls", None)
    if isinstance(view_class, type) and issubclass(view_class, APIView):
        return True
    return request.content_type == "application/json"


class RequestLimitsMiddleware:
    """Sits before ``CsrfViewMiddleware``, whose ``process_view`` may read the form
    first: a refusal raised there could no longer be answered here."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        content_type = request.content_type or ""
        as_json = _wants_json(request, view_func)
        # Django's own rule for a body that is not multipart (urlencoded, JSON
        # ...), by its declared length, before a byte is read; a multipart body
        # holds files, whose fields Django checks as it parses.
        multipart = content_type == "multipart/form-data"
        if limit is not None and not multipart and _declared_length(request) > limit:
            return self._refused(request, as_json, body_too_large_message(), 413)
        # A page's form is parsed now, so that its refusal is answered here; an
        # API view's body is its parsers' to read (their exceptions come back
        # through process_exception).
        form = request.method in ("POST", "PUT", "PATCH") and content_type in _FORM_TYPES
        if form and not as_json:
            try:
                request.POST  # noqa: B018 - parsing is the point
            except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent) as exc:
                return self.process_exception(request, exc)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        match = request.resolver_match
        as_json = _wants_json(request, match.func if match else None)
        if isinstance(exception, RequestDataTooBig):
            return self._refused(request, as_json, body_too_large_message(), 413)
        if isinstance(exception, TooManyFieldsSent):
            limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
            message = ngettext(
                "The form sent more than %(n)d field; nothing was saved.",
                "The form sent more than %(n)d fields; nothing was saved.",
                limit,
            ) % {"n": limit}
            return self._refused(request, as_json, message, 400)
        if isinstance(exception, TooManyFilesSent):
            limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
            message = ngettext(
                "The form sent more than %(n)d file; nothing was saved.",
                "The form sent more than %(n)d files; nothing was saved.",
                limit,
            ) % {"n": limit}
            return self._refused(request, as_json, message, 400)
        return None

    def _refused(
        self, request: HttpRequest, as_json: bool, message: str, status: int
    ) -> HttpResponse:
        if as_json:
            return JsonResponse({"detail": message}, status=status)
        return render(request, "request_refused.html", {"message": message}, status=status)


class RequestHeadersMiddleware:
    """Replaces each NUL character of a request header with U+FFFD, and logs it.

    First in ``MIDDLEWARE``, so nothing sees the raw header. A NUL in the user
    agent made every sign-in a server error before django-axes could store the
    failed attempt (PostgreSQL refuses NUL in text): its transaction rolled back
    with the lockout count, allowing unlimited password guesses. Cleaned rather
    than refused, so such a request is answered, and counted, like any other.
    NUL is the one character PostgreSQL's text cannot store; the others of a
    header (latin-1, as WSGI decodes it) are kept as they came.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        headers_clean(request)
        return self.get_response(request)


def headers_clean(request: HttpRequest) -> None:
    """Replace the NUL characters of ``request``'s headers (in ``META``) with U+FFFD."""
    meta = request.META
    names = sorted(
        name
        for name, value in meta.items()
        if (name.startswith("HTTP_") or name in _UNPREFIXED_HEADERS)
        and isinstance(value, str)
        and NUL in value
    )
    if not names:
        return
    for name in names:
        meta[name] = meta[name].replace(NUL, REPLACEMENT)
    # ``request.headers`` is read from META once, when first used: not before now.
    request.__dict__.pop("headers", None)
    logger.warning(
        "request %s %s: NUL characters replaced in %s %s",
        request.method,
        request.path.replace(NUL, REPLACEMENT),
        "the header" if len(names) == 1 else "the headers",
        ", ".join(names),
    )
