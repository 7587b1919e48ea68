"""The model page: download the organization's model as JSON, or upload one to import (admins)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from portfolio.model_io import (
    MAX_FILE_BYTES,
    ImportSummary,
    ModelImportError,
    model_export_json,
    model_import,
    model_parse,
)
from portfolio.models import Role
from portfolio.tenancy import org_view


def _import_upload(request: HttpRequest) -> tuple[ImportSummary | None, list[str]]:
    upload = request.FILES.get("file")
    if upload is None:
        return None, ["Choose a model JSON file to import."]
    if upload.size > MAX_FILE_BYTES:
        return None, [
            f"{upload.name} is {upload.size / 1024 / 1024:.1f} MB; "
            f"the limit is {MAX_FILE_BYTES // 1024 // 1024} MB."
        ]
    try:
        data = model_parse(upload.read())
        return model_import(organization=request.organization, data=data), []
    except ModelImportError as exc:
        return None, exc.errors


@require_http_methods(["GET", "POST"])
@org_view(Role.ADMIN)
def model_page(request: HttpRequest) -> HttpResponse:
    summary, errors = _import_upload(request) if request.method == "POST" else (None, [])
    return render(
        request,
        "portfolio/model_io.html",
        {
            "summary": summary,
            "errors": errors,
            "max_mb": MAX_FILE_BYTES // 1024 // 1024,
        },
        status=400 if errors else 200,
    )


@require_GET
@org_view(Role.ADMIN)
def model_download(request: HttpRequest) -> HttpResponse:
    org = request.organization
    response = HttpResponse(
        model_export_json(organization=org), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{org.slug}-model.json"'
    return response
