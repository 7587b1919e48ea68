"""Absolute links to this site, for links that leave the app: invitation links (shown
and mailed) and webhook payload URLs."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def absolute_url(path: str, request: HttpRequest | None = None) -> str:
    """``path`` (from ``reverse``) as an absolute URL.

    SITE_URL when a deployment sets it (behind a proxy the request's address may be
    an internal one); else the address the request came to, so that a link works
    wherever the user reached the app (another port, host name or interface); else,
    outside a request, SITE_URL's default from HOST and PORT.
    """
    if request is not None and not settings.SITE_URL_IS_SET:
        return request.build_absolute_uri(path)
    return settings.SITE_URL + path
