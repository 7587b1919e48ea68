"""The event CSV import page: upload a file, then watch its import (streams.uploads)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from portfolio.models import Role
from portfolio.tenancy import get_for_request, org_view
from portfolio.text_input import InputRefused
from streams.formats import DOCS_PATH, FORMATS, example_names
from streams.models import EventUpload
from streams.uploads import MAX_UPLOAD_BYTES, event_upload_create, event_uploads_recent


def _import_page(
    request: HttpRequest, *, error: str = "", kind: str = "", status: int = 200
) -> HttpResponse:
    return render(
        request,
        "streams/upload.html",
        {
            "formats": FORMATS.values(),
            "docs_path": DOCS_PATH,
            "kind": kind,
            "error": error,
            "max_mb": MAX_UPLOAD_BYTES // 1024 // 1024,
            "uploads": event_uploads_recent(organization=request.organization),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@org_view(Role.EDITOR)
def upload_page(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _import_page(request)
    kind = request.POST.get("kind", "")
    file = request.FILES.get("file")
    if file is None:
        return _import_page(request, error="Choose a CSV file to import.", kind=kind, status=400)
    try:
        upload = event_upload_create(
            organization=request.organization, user=request.user, kind=kind, file=file
        )
    except InputRefused as exc:
        return _import_page(request, error=exc.message, kind=kind, status=exc.status)
    return redirect("event_upload", org_slug=request.organization.slug, upload_id=upload.pk)


@require_GET
@org_view(Role.EDITOR)
def upload_detail(request: HttpRequest, upload_id: int) -> HttpResponse:
    upload = get_for_request(
        request, EventUpload.objects.select_related("uploaded_by"), pk=upload_id
    )
    template = "streams/upload_detail.html"
    return render(request, f"{template}#status" if request.htmx else template, {"upload": upload})


@require_GET
@org_view(Role.EDITOR)
def upload_example(request: HttpRequest, kind: str) -> HttpResponse:
    """An example CSV of ``kind`` (one route per kind), naming the organization's own
    value stream and journey so that it imports as it is."""
    fmt = FORMATS[kind]
    response = HttpResponse(
        fmt.example_csv(example_names(request.organization)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{kind}-example.csv"'
    return response
