"""The model API: the organization's model as JSON (docs/formats.md#the-model-json), read or
imported.

Admins only, like the model page: the export is the whole model at once and
the import may change all of it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portfolio import api_input
from portfolio.apis import OrgScopedAPIMixin
from portfolio.audit import audit_record
from portfolio.model_io import (
    KINDS,
    MAX_FILE_BYTES,
    ModelImportError,
    model_export,
    model_import,
    model_parse,
)
from portfolio.models import AuditAction, Role


class RawJSONParser(api_input.JSONParser):
    """Hands the body over unparsed (at most one byte over the limit), so that the
    API reports bad JSON exactly as the command and the page do (model_parse; NUL
    characters included). An ``api_input.JSONParser``, so the schema documents the
    body as the API's JSON (SPECTACULAR_SETTINGS' PARSER_WHITELIST)."""

    media_type = "application/json"

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: dict | None = None
    ) -> bytes:
        return stream.read(MAX_FILE_BYTES + 1)


class ModelImportCountsSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()


_SUMMARY = inline_serializer(
    "ModelImportSummary",
    fields={
        "summary": inline_serializer(
            "ModelImportSummaryKinds",
            fields={kind: ModelImportCountsSerializer() for kind in KINDS},
        )
    },
)
_ERRORS = inline_serializer(
    "ModelImportErrors",
    fields={
        "errors": serializers.ListField(
            child=serializers.CharField(),
            help_text="Every error of the file, each 'json.path: message'.",
        )
    },
)
_FORBIDDEN = OpenApiResponse(description="The caller is not an admin of the organization.")
_NOT_FOUND = OpenApiResponse(description="No such organization (or the caller is not in it).")


@extend_schema(tags=["model"])
class ModelAPI(OrgScopedAPIMixin, APIView):
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    parser_classes = [RawJSONParser]

    @extend_schema(
        summary="Export the model (admins)",
        description=(
            "The organization's whole model as the model JSON (docs/formats.md), the same "
            "as `manage.py export_model`; POST it back (here or elsewhere) to import it."
        ),
        responses={200: OpenApiTypes.OBJECT, 403: _FORBIDDEN, 404: _NOT_FOUND},
    )
    def get(self, request: Request, org_slug: str) -> Response:
        model = model_export(organization=self.organization)
        audit_record(
            organization=self.organization,
            actor=request.user,
            action=AuditAction.MODEL_EXPORTED,
            target=f"{self.organization.slug}-model.json",
            detail={"via": "api"},
            request=request,
        )
        return Response(model)

    @extend_schema(
        summary="Import the model (admins)",
        description=(
            "Upserts the model from a Model JSON body (at most 5 MB), like "
            "`manage.py import_model`: by slug (layers by name), deleting nothing. "
            "All or nothing: any error rejects the whole body with every error listed."
        ),
        request=OpenApiTypes.OBJECT,
        responses={
            200: OpenApiResponse(_SUMMARY, description="Imported; counts per kind."),
            400: OpenApiResponse(_ERRORS, description="Rejected; nothing was imported."),
            403: _FORBIDDEN,
            404: _NOT_FOUND,
            413: OpenApiResponse(description="The body is over 5 MB; nothing was imported."),
            415: OpenApiResponse(description="The body is not application/json."),
        },
    )
    def post(self, request: Request, org_slug: str) -> Response:
        raw = request.data
        if isinstance(raw, bytes) and len(raw) > MAX_FILE_BYTES:
            # The parser stopped one byte over the limit: the size is a lower bound.
            detail = f"The body is over the limit of {MAX_FILE_BYTES // 1024 // 1024} MB."
            return Response({"detail": detail}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        if not isinstance(raw, bytes) or not raw.strip():
            return _errors(["the body is empty; send the model JSON"])
        try:
            summary = model_import(organization=self.organization, data=model_parse(raw))
        except ModelImportError as exc:
            return _errors(exc.errors)
        return Response({"summary": summary.counts})


def _errors(errors: list[str]) -> Response:
    return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
