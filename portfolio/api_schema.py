"""The OpenAPI schema class of the API: every org-scoped operation documents its errors.

Kept apart from the views (portfolio.apis) because DRF imports the default
schema class while the views module is still loading.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong.")


class ValidationErrorSerializer(serializers.Serializer):
    """The body of a 400: described by ``ValidationErrorScheme`` below."""


class ValidationErrorScheme(OpenApiSerializerExtension):
    target_class = ValidationErrorSerializer

    def get_name(self, auto_schema: AutoSchema, direction: str) -> str:
        return "ValidationError"

    def map_serializer(self, auto_schema: AutoSchema, direction: str) -> dict:
        messages = {"type": "array", "items": {"type": "string"}}
        # A body that cannot be parsed at all (bad JSON, a NUL character) is one message.
        detail = {"oneOf": [{"type": "string"}, messages]}
        return {
            "type": "object",
            "description": (
                "The input's problems: each key is the field at fault (`non_field_errors` "
                "for several fields together, `detail` for the request as a whole) and "
                "holds its messages; a nested field (an object's key, a list's index) "
                "holds an object of the same shape."
            ),
            "properties": {"detail": detail, "non_field_errors": messages},
            "additionalProperties": {"oneOf": [messages, {"type": "object"}]},
            "example": {"team": ["'claims-team' is not a team."]},
        }


class OrgAPISchema(AutoSchema):
    """Documents the errors every org-scoped operation can answer, with their bodies."""

    errors: ClassVar[dict[str, str]] = {
        "401": "Not signed in, or the token is unknown or revoked.",
        "403": "The caller's role may not do this (viewers read; editors and admins write).",
        "404": "No such organization (or the caller is not a member), or no such object in it.",
    }
    # Answered before a body is parsed (portfolio.request_limits, DRF's negotiation).
    body_errors: ClassVar[dict[str, str]] = {
        "413": "The body is over the size limit (DATA_UPLOAD_MAX_MEMORY_SIZE).",
        "415": "The body is not JSON (Content-Type: application/json).",
    }

    def get_operation(self, *args: Any, **kwargs: Any) -> dict | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None or "{org_slug}" not in self.path:
            return operation
        responses = operation.setdefault("responses", {})
        # Every operation validates its query string (portfolio.api_input: no NUL
        # characters) besides its filters and body.
        responses.setdefault(
            "400",
            self._error(
                ValidationErrorSerializer,
                "Invalid input (a body, a filter or a query parameter); nothing was changed.",
            ),
        )
        errors = dict(self.errors)
        if "requestBody" in operation:
            errors.update(self.body_errors)
        for code, description in errors.items():
            responses.setdefault(code, self._error(ErrorSerializer, description))
        return operation

    def _error(self, serializer: type[serializers.Serializer], description: str) -> dict:
        component = self.resolve_serializer(serializer, "response")
        return {
            "content": {"application/json": {"schema": component.ref}},
            "description": description,
        }


class ReadNullableFloatField(serializers.FloatField):
    """A number a client must give, which a stored row may lack: a check-in's value is
    required from people, while a worker's measurement of an undefined metric is null."""


class ReadNullableFloatFieldScheme(OpenApiSerializerFieldExtension):
    target_class = ReadNullableFloatField

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict:
        schema: dict[str, Any] = {"type": "number", "format": "double"}
        if direction == "response":
            schema["nullable"] = True
        return schema
