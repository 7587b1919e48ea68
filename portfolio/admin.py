"""The Django admin is for platform superusers only (users and lockouts).

Organization data is not shown here: it lives under row-level security and is
reached through the organization's own pages and API.
"""

from django.contrib import admin
from django.http import HttpRequest


def superuser_only(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.is_superuser


admin.site.has_permission = superuser_only
admin.site.site_header = "Throughline platform administration"
