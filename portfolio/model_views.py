"""The model page: download the organization's model as JSON, or upload one to import (admins)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from portfolio.audit import audit_record
from portfolio.model_io import (
    MAX_FILE_BYTES,
    ImportSummary,
    ModelImportError,
    model_export_json,
    model_import,
    model_parse,
)
from portfolio.models import AuditAction, Role
from portfolio.tenancy import org_view
from portfolio.text_input import InputRefused, input_size_check


def _import_upload(request: HttpRequest) -> tuple[ImportSummary | None, list[str], int]:
    """The import's summary, or its errors and the status to answer them with."""
    upload = request.FILES.get("file")
    if upload is None:
        return None, ["Choose a model JSON file to import."], 400
    try:
        input_size_check(name=upload.name, size=upload.size, limit=MAX_FILE_BYTES)
    except InputRefused as exc:
        return None, [exc.message], exc.status
    try:
        data = model_parse(upload.read())
        return model_import(organization=request.organization, data=data), [], 200
    except ModelImportError as exc:
        return None, exc.errors, 400


@require_http_methods(["GET", "POST"])
@org_view(Role.ADMIN)
def model_page(request: HttpRequest) -> HttpResponse:
    summary, errors, status = (
        _import_upload(request) if request.method == "POST" else (None, [], 200)
    )
    return render(
        request,
        "portfolio/model_io.html",
        {
            "summary": summary,
            "errors": errors,
            "max_mb": MAX_FILE_BYTES // 1024 // 1024,
        },
        status=status,
    )


@require_GET
@org_view(Role.ADMIN)
def model_download(request: HttpRequest) -> HttpResponse:
    org = request.organization
    content = model_export_json(organization=org)
    audit_record(
        organization=org,
        actor=request.user,
        action=AuditAction.MODEL_EXPORTED,
        target=f"{org.slug}-model.json",
        detail={"via": "page"},
        request=request,
    )
    response = HttpResponse(content, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{org.slug}-model.json"'
    return response
