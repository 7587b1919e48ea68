"""What the REST API accepts, checked at its edge before any of it reaches a query.

Two rules hold for every request body, query string and serializer of the API:

- **No NUL characters.** PostgreSQL text cannot hold U+0000 (psycopg refuses
  to send it), so a NUL in a JSON string, a form field or a query parameter
  would otherwise surface as a server error wherever it reached the database.
  The parsers below and ``query_params_check`` refuse it with a 400 that names
  where it was.
- **JSON values have the type the schema documents.** DRF's fields serve HTML
  forms too, where everything is a string, so they coerce: ``0`` becomes the
  name ``"0"``, ``"12"`` the integer 12, ``"yes"`` True. An API whose OpenAPI
  schema types every field refuses the wrong type instead (``StrictTypes``),
  so a client's bug is reported rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.views import defaults
from django_filters import rest_framework as filters
from django_filters.widgets import BooleanWidget
from rest_framework import pagination, parsers, serializers
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.relations import ManyRelatedField, RelatedField
from rest_framework.request import Request
from rest_framework.utils import json

from portfolio.text_input import InputRefused, json_parse, json_too_deep_message

NUL = "\x00"


def nul_location(value: Any, path: str = "") -> str | None:
    """Where the first string of ``value`` (a key or a value) holding a NUL character
    is, as its JSON path (``'stages[2].name'``); None when there is none."""
    if isinstance(value, str):
        return _where(path) if NUL in value else None
    if isinstance(value, QueryDict):
        value = dict(value.lists())
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and NUL in key:
                return f"a key of {_where(path)}"
            found = nul_location(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = nul_location(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _where(path: str) -> str:
    return f"'{path}'" if path else "the body"


def _refuse_nul(data: Any) -> Any:
    where = nul_location(data)
    if where is not None:
        raise ParseError(f"{where[0].upper()}{where[1:]} must not contain NUL characters.")
    return data


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser through ``json_parse`` (portfolio.text_input), the parser of
    every JSON body: JSON nested too deeply to read answers 400 like invalid JSON.
    Refuses NUL characters in any string of the body."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"the body is not {encoding} text: {exc}") from exc
        constant = json.strict_constant if self.strict else None
        try:
            data = json_parse(text, name="the body", parse_constant=constant)
        except InputRefused as exc:
            raise ParseError(exc.message) from exc
        try:
            return _refuse_nul(data)
        except RecursionError as exc:
            # Parsed, but too deep to walk: Python's parser goes deeper than its
            # recursion limit lets a Python function follow.
            raise ParseError(json_too_deep_message("the body")) from exc


class FormParser(parsers.FormParser):
    """DRF's form parser, refusing NUL characters in any field."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return _refuse_nul(super().parse(stream, media_type, parser_context))


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing NUL characters in any field (files may hold any bytes)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        _refuse_nul(parsed.data)
        return parsed


def query_params_check(request: Request) -> None:
    """Refuse (400) a query string with a NUL character in a parameter's name or value."""
    for name, values in request.query_params.lists():
        if NUL in name or any(NUL in value for value in values):
            label = name.replace(NUL, "\\x00")
            raise ValidationError(
                {label: [f"The query parameter '{label}' must not contain NUL characters."]}
            )


# --- JSON types -------------------------------------------------------------------------

# The JSON types each kind of field takes. The first matching kind decides, so a
# subclass comes before its base (MultipleChoiceField before ChoiceField); bool is
# an int in Python, so it is refused wherever it is not named.
_TYPES: tuple[tuple[type[serializers.Field], tuple[type, ...], str], ...] = (
    (serializers.BooleanField, (bool,), "true or false"),
    (serializers.IntegerField, (int,), "an integer"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.DecimalField, (int, float, str), "a number"),
    (serializers.MultipleChoiceField, (list,), "a list of choices"),
    (serializers.CharField, (str,), "a string"),
    (serializers.DateTimeField, (str,), "a date-time string such as 2026-07-01T09:30:00Z"),
    (serializers.DateField, (str,), "a date string such as 2026-07-01"),
    (serializers.TimeField, (str,), "a time string such as 09:30"),
    (serializers.DurationField, (str,), "a duration string"),
)


def _type_error(field: serializers.Field, value: Any) -> str | None:
    """Why ``value`` is not of the JSON type ``field`` documents, or None."""
    if value is None:
        return None  # the field's own allow_null decides
    kinds = _TYPES
    if isinstance(field, serializers.ChoiceField) and not isinstance(
        field, serializers.MultipleChoiceField
    ):
        # A choice is of its choices' type: "feature", or 1 for an integer choice.
        kinds = ((serializers.ChoiceField, _choice_types(field), "one of the choices"),)
    for kind, accepted, expected in kinds:
        if isinstance(field, kind):
            if isinstance(value, bool) and bool not in accepted:
                return f"Expected {expected}, not {str(value).lower()}."
            if not isinstance(value, accepted):
                return f"Expected {expected}, not {_json_type(value)}."
            return None
    return None


def _choice_types(field: serializers.ChoiceField) -> tuple[type, ...]:
    types = {type(choice) for choice in field.choices} or {str}
    return tuple(types | {str}) if field.allow_blank else tuple(types)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _field_errors(field: serializers.Field, value: Any) -> Any:
    """The type errors of ``value`` for ``field``, in DRF's error shape, or None."""
    if isinstance(field, ManyRelatedField):
        # Its related field is bound (it has a source), so it cannot be a ListField's
        # child; like every relation, it checks its own input (a list, each item).
        return None
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        errors = {i: e for i, item in enumerate(value) if (e := _field_errors(field.child, item))}
        return errors or None
    if isinstance(field, serializers.DictField) and isinstance(value, Mapping):
        errors = {k: e for k, item in value.items() if (e := _field_errors(field.child, item))}
        return errors or None
    if isinstance(field, RelatedField | serializers.BaseSerializer):
        return None  # they check their own input
    message = _type_error(field, value)
    return [message] if message else None


class StrictTypes:
    """A serializer mixin: every JSON value must have its field's documented type.

    Checked before the fields' own validation, which would coerce it. Form input
    (a QueryDict, all strings) is left to the fields, as DRF intends.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping) and not isinstance(data, QueryDict):
            errors = {}
            for field in self._writable_fields:
                if field.field_name in data:
                    found = _field_errors(field, data[field.field_name])
                    if found:
                        errors[field.field_name] = found
            if errors:
                raise ValidationError(errors)
        return super().to_internal_value(data)


class ApiSerializer(StrictTypes, serializers.Serializer):
    """The base of the API's plain serializers."""


class ApiModelSerializer(StrictTypes, serializers.ModelSerializer):
    """The base of the API's model serializers."""


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The site's 404 handler: JSON, as every API answer, for a path under /api/ that no
    route matches (an id that is not a number, say); the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


# --- Filters ------------------------------------------------------------------------------


class _TrueFalseWidget(BooleanWidget):
    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        value = data.get(name)
        return {"true": True, "false": False}.get(value, value)


class _TrueFalseField(forms.NullBooleanField):
    widget = _TrueFalseWidget

    def to_python(self, value: Any) -> bool | None:
        if value is None or value == "":
            return None
        if value is True or value is False:
            return value
        raise forms.ValidationError("Use true or false.", code="invalid")


class BooleanFilter(filters.BooleanFilter):
    """A filter documented as a boolean: ``true`` or ``false``, and any other value
    answers 400 (django-filter would ignore it, and list everything)."""

    field_class = _TrueFalseField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", _TrueFalseWidget)
        super().__init__(*args, **kwargs)


class PageNumberPagination(pagination.PageNumberPagination):
    """DRF's page-number pagination, but ``page`` is what the schema says: a
    positive integer. DRF reads an empty ``page=`` as page 1 and accepts the
    word ``last``; both are answered 400 here rather than guessed at."""

    def get_page_number(self, request: Request, paginator: Any) -> int | str:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if not (raw.isascii() and raw.isdigit()) or not raw.strip("0"):
            raise ValidationError({self.page_query_param: ["Use a page number: 1, 2, 3..."]})
        if len(raw) > 18:
            # A page number all the same, past any list's last page (and int() of
            # thousands of digits raises): DRF's answer to a page past the end.
            raise NotFound("Invalid page.")
        return raw

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {**parameter["schema"], "minimum": 1}
        return parameters
