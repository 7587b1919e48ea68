"""The bulk event API: ``POST events/<kind>/`` upserts a JSON list of events.

One URL per kind (``events/flow-items/`` ...), each a thin view over
``streams.ingest.events_import``, so the API and ``import_events`` share every
rule: the fields are the CSV columns, and one bad object rejects the list.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from journeys.models import JourneyEventType
from portfolio import api_input
from portfolio.apis import OrgScopedAPIMixin
from portfolio.models import Role
from portfolio.text_input import JSON_BODY, InputRefused, json_parse, text_check
from streams.ingest import KINDS, ImportRejected, events_import
from streams.models import DeploymentStatus, FlowType

_TIME = "ISO 8601 with a UTC offset, e.g. 2026-07-01T09:30:00Z."
# The documented shape of one event per kind; the service does the validating.
_FIELD_DOCS: dict[str, dict[str, tuple[str, str]]] = {
    "flow_items": {
        "key": ("str", "The work item's key in its tool; the record's identity."),
        "type": ("type", f"One of {', '.join(FlowType.values)}."),
        "title": ("str", "Optional title."),
        "value_stream": ("str", "The value stream's slug."),
        "created_at": ("time", _TIME),
    },
    "flow_transitions": {
        "key": ("str", "The flow item's key."),
        "at": ("time", _TIME),
        "state": (
            "str",
            "A state category (new, active, waiting, done, canceled) or a tool status "
            "mapped in the item's value stream.",
        ),
    },
    "deployments": {
        "key": ("str", "The deployment's key; its identity."),
        "value_stream": ("str", "The value stream's slug."),
        "environment": ("str", "e.g. production; only production counts for DORA."),
        "deployed_at": ("time", _TIME),
        "status": ("status", f"One of {', '.join(DeploymentStatus.values)}."),
    },
    "changes": {
        "key": ("str", "The commit's or pull request's key; its identity."),
        "value_stream": ("str", "The value stream's slug."),
        "committed_at": ("time", "First commit time; " + _TIME),
        "deployment": ("str", "The key of the deployment that shipped it."),
    },
    "incidents": {
        "key": ("str", "The incident's key; its identity."),
        "value_stream": ("str", "The value stream's slug."),
        "opened_at": ("time", _TIME),
        "resolved_at": ("time", "Null while open; " + _TIME),
        "deployment": ("str", "The key of the deployment that caused it, or null."),
    },
    "journey_events": {
        "key": ("str", "The event's key; its identity."),
        "journey": ("str", "The journey's slug."),
        "type": ("event_type", f"One of {', '.join(JourneyEventType.values)}."),
        "at": ("time", _TIME),
        "customer": ("str", "The customer; needed by acquired, churned and stage_entered."),
        "ref": (
            "str",
            "The instance (an application, a claim) of stage_entered, or the contract of "
            "renewal_due and renewed.",
        ),
        "value": (
            "str",
            "A decimal number: 0..10 for survey, contacts for case_resolved, the amount for "
            "acquisition_cost and claim_paid.",
        ),
        "stage": ("str", "The slug of a stage of the journey; needed by stage_entered."),
        "touchpoint": ("str", "The slug of a touchpoint of the journey."),
    },
}


def _doc_field(kind: str, name: str, shape: str, help_text: str) -> serializers.Field:
    optional = name in KINDS[kind].optional
    options: dict[str, Any] = {"help_text": help_text, "required": not optional}
    if optional:
        options["allow_null"] = True
    if shape == "time":
        return serializers.DateTimeField(**options)
    if shape == "type":
        return serializers.ChoiceField(choices=FlowType.values, **options)
    if shape == "event_type":
        return serializers.ChoiceField(choices=JourneyEventType.values, **options)
    if shape == "status":
        return serializers.ChoiceField(choices=DeploymentStatus.values, **options)
    return serializers.CharField(**options)


def _event_serializer(kind: str) -> serializers.Serializer:
    name = "".join(part.title() for part in kind.split("_"))
    fields = {field: _doc_field(kind, field, *doc) for field, doc in _FIELD_DOCS[kind].items()}
    return inline_serializer(f"{name}Event", fields=fields, many=True)


class ImportResultSerializer(serializers.Serializer):
    kind = serializers.CharField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    value_stream_ids = serializers.ListField(
        child=serializers.IntegerField(), help_text="Value streams whose records changed."
    )
    journey_ids = serializers.ListField(
        child=serializers.IntegerField(), help_text="Journeys whose events changed."
    )


_ERRORS = inline_serializer(
    "EventImportErrors",
    fields={
        "errors": serializers.ListField(
            child=serializers.CharField(), help_text="Every problem, as 'item N: reason'."
        )
    },
)


class EventsJSONParser(api_input.JSONParser):
    """A JSON body that passes the file checks (portfolio.text_input), BOM or not.

    The body is read whole: ``RequestLimitsMiddleware`` has refused one over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` by its length before this runs. A NUL
    character escaped in a value is the import's to report, by item and field
    (``streams.ingest``), like every other bad value.
    """

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: dict | None = None
    ) -> Any:
        raw = stream.read()
        try:
            text_check(name="the body", chunks=[raw], fmt=JSON_BODY)
        except InputRefused as exc:
            raise ParseError(str(exc.message).removesuffix(".")) from exc
        try:
            return json_parse(raw.decode("utf-8-sig"), name="the body")
        except InputRefused as exc:
            raise ParseError(exc.message) from exc


class EventImportAPI(OrgScopedAPIMixin, APIView):
    """Upsert one kind of events by key; all or nothing (editors and admins)."""

    kind: ClassVar[str]
    write_role = Role.EDITOR
    parser_classes = [EventsJSONParser]

    def post(self, request: Request, org_slug: str) -> Response:
        try:
            rows = request.data
        except ParseError as exc:
            # A body that is no JSON list at all is reported as the list's problems are.
            return Response({"errors": [str(exc.detail)]}, status=status.HTTP_400_BAD_REQUEST)
        if not isinstance(rows, list):
            fields = ", ".join(KINDS[self.kind].columns)
            errors = [f"the body must be a JSON list of objects with the fields {fields}"]
            return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        try:
            result = events_import(
                organization=self.organization, kind=self.kind, rows=rows, source="json"
            )
        except ImportRejected as exc:
            return Response({"errors": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
        data = {
            "kind": result.kind,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "value_stream_ids": sorted(result.value_stream_ids),
            "journey_ids": sorted(result.journey_ids),
        }
        return Response(ImportResultSerializer(data).data)


def _import_api(kind: str) -> type[EventImportAPI]:
    columns = ", ".join(KINDS[kind].columns)
    documented = extend_schema(
        tags=["events"],
        summary=f"Upsert {kind.replace('_', ' ')} (editors)",
        description=(
            f"A JSON list of objects with the fields {columns} (docs/formats.md, Event CSVs), "
            "upserted by key; importing the same list twice changes nothing. One bad object "
            "rejects the whole list, and every problem is listed as 'item N: reason' "
            "(objects numbered from 1). A body that is not a UTF-8 JSON list (a byte order "
            "mark is fine) is refused with one error naming its line."
        ),
        request=_event_serializer(kind),
        responses={
            200: ImportResultSerializer,
            400: OpenApiResponse(_ERRORS, description="Rejected; nothing was written"),
            403: OpenApiResponse(description="Viewers may not import"),
            404: OpenApiResponse(description="No such organization"),
            413: OpenApiResponse(description="The body is over DATA_UPLOAD_MAX_MEMORY_SIZE"),
            415: OpenApiResponse(description="The body is not application/json"),
        },
    )
    name = "".join(part.title() for part in kind.split("_"))
    view = type(f"{name}ImportAPI", (EventImportAPI,), {"kind": kind})
    view.post = documented(_post_of(view))
    return view


def _post_of(view: type[EventImportAPI]) -> Any:
    # Each view needs its own function object, so each carries its own schema.
    def post(self: EventImportAPI, request: Request, org_slug: str) -> Response:
        return EventImportAPI.post(self, request, org_slug)

    return post


IMPORT_APIS: dict[str, type[EventImportAPI]] = {kind: _import_api(kind) for kind in KINDS}
