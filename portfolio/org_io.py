"""Backup and restore of one whole organization (docs/backup.md): ``export_org`` / ``import_org``.

The file is one JSON object, its keys in this order (``SECTIONS``):

- ``format`` (``"throughline-org"``) and ``version`` (``1``): a reader refuses any
  other before it writes anything;
- ``exported_at``; ``organization`` (slug, name, time zone, DORA report year,
  created_at); ``members`` (email, role, joined_at);
- ``model``: the model JSON of docs/formats.md (``portfolio.model_io``);
- ``events``: one array per kind of the event CSVs of docs/formats.md, in dependency order,
  each row an object with exactly the CSV's columns (``streams.ingest``'s JSON rows);
- ``okr_history``: per key result, its current value and its check-ins and readings;
  ``manual_kpi_values``; ``quarterly_reports``: the frozen figures, verbatim.

Memory stays flat whatever the organization's size. The export writes the big
arrays row by row from server-side cursors (``iterator(chunk_size=...)``); the
import reads the file with a pull parser (``_JsonReader``) that holds one array
element at a time and hands event rows straight to ``streams.ingest.events_import``,
which streams them into PostgreSQL with ``COPY``. Only the non-array values (the
organization, the model, one quarterly report's figures) are ever whole in memory.

The import is one transaction acting for the new organization: every rule of the
services applies (the model through ``model_import``, events through
``events_import``, manual values through ``manual_value_set``), the first error
rolls everything back, and it ends with the workers' KPI recompute, so snapshots
exist when it commits.

Every tenant table is either carried (``CARRIED``) or named in ``NOT_CARRIED`` with
the reason; tests/portfolio/test_org_io.py fails for a table in neither.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.db.models.functions import Collate
from django.utils import timezone

from journeys.models import Journey, JourneyEvent
from metrics.manual import manual_value_set
from metrics.models import ManualKpiValue, PeriodKind, QuarterlyReport
from metrics.snapshots import recompute_take_dirty
from metrics.tasks import kpis_recompute
from portfolio.model_io import SECTIONS as MODEL_SECTIONS
from portfolio.model_io import ModelImportError, model_export, model_import
from portfolio.models import (
    CheckIn,
    CheckInSource,
    KeyResult,
    Membership,
    Organization,
    Role,
    may_administer,
    quantity_in_range,
    quantity_range,
    quantity_shown,
    quarter_validator,
    slug_validator,
)
from portfolio.services import organization_create, organization_update
from portfolio.tenancy import organization_context, set_transaction_context
from streams.ingest import KINDS as EVENT_KINDS
from streams.ingest import ImportRejected, events_import
from streams.models import Change, Deployment, FlowItem, FlowTransition, Incident, ValueStream

FORMAT = "throughline-org"
VERSION = 1

# The file's top-level keys, in the order they must come (a reader acts on each
# as it arrives, so what a section names must have come before it).
SECTIONS = (
    "format",
    "version",
    "exported_at",
    "organization",
    "members",
    "model",
    "events",
    "okr_history",
    "manual_kpi_values",
    "quarterly_reports",
)
OPTIONAL_SECTIONS = frozenset({"exported_at"})

# Rows fetched per round trip of a server-side cursor.
CHUNK_SIZE = 5000
# Characters the writer gathers before one write to its output.
WRITE_BLOCK = 1 << 20

# Where each event kind's columns (streams.ingest.KINDS, docs/formats.md#event-csvs)
# come from, and the order rows are written in: by key, byte-wise ("C"), so the
# same organization gives the same file in any database.
EVENT_SOURCES: dict[str, tuple[type[models.Model], dict[str, str], tuple[str, ...]]] = {
    "flow_items": (
        FlowItem,
        {
            "key": "key",
            "type": "type",
            "title": "title",
            "value_stream": "value_stream__slug",
            "created_at": "created_at",
        },
        ("key",),
    ),
    "flow_transitions": (
        FlowTransition,
        {"key": "item__key", "at": "at", "state": "state"},
        ("item__key", "at"),
    ),
    "deployments": (
        Deployment,
        {
            "key": "key",
            "value_stream": "value_stream__slug",
            "environment": "environment",
            "deployed_at": "deployed_at",
            "status": "status",
        },
        ("key",),
    ),
    "changes": (
        Change,
        {
            "key": "key",
            "value_stream": "value_stream__slug",
            "committed_at": "committed_at",
            "deployment": "deployment__key",
        },
        ("key",),
    ),
    "incidents": (
        Incident,
        {
            "key": "key",
            "value_stream": "value_stream__slug",
            "opened_at": "opened_at",
            "resolved_at": "resolved_at",
            "deployment": "deployment__key",
        },
        ("key",),
    ),
    "journey_events": (
        JourneyEvent,
        {
            "key": "key",
            "journey": "journey__slug",
            "type": "type",
            "at": "at",
            "customer": "customer",
            "ref": "ref",
            "value": "value",
            "stage": "stage__slug",
            "touchpoint": "touchpoint__slug",
        },
        ("key",),
    ),
}

_MODEL = "model (the model JSON of docs/formats.md, portfolio.model_io)"
# Every tenant table the file carries, and where.
CARRIED: dict[str, str] = {
    "portfolio.Membership": "members",
    **dict.fromkeys(
        (
            "portfolio.Layer",
            "portfolio.Team",
            "portfolio.ProductFamily",
            "portfolio.Product",
            "portfolio.Component",
            "portfolio.Objective",
            "portfolio.ObjectiveValueStream",
            "portfolio.ObjectiveJourney",
            "portfolio.KeyResult",
            "streams.ValueStream",
            "streams.Stage",
            "streams.StageComponent",
            "streams.StatusMapping",
            "journeys.Journey",
            "journeys.JourneyStage",
            "journeys.Touchpoint",
            "journeys.TouchpointComponent",
        ),
        _MODEL,
    ),
    **{model._meta.label: f"events.{kind}" for kind, (model, _c, _o) in EVENT_SOURCES.items()},
    "portfolio.CheckIn": "okr_history",
    "metrics.ManualKpiValue": "manual_kpi_values",
    "metrics.QuarterlyReport": "quarterly_reports",
}

_HISTORY = (
    "change history of the model (who changed what, when): it refers to rows by their "
    "ids in the source database; the restore records its own creation instead"
)
# Every tenant table the file leaves out, and why.
NOT_CARRIED: dict[str, str] = {
    "portfolio.ApiToken": "a credential: keys are shown once and never exported; create new ones",
    "portfolio.Invitation": "a credential (the link's secret) of an invitation; invite again",
    "portfolio.AuditEvent": (
        "the source's security log, append-only and about the source; the restored "
        "organization starts its own"
    ),
    "streams.FlowWipSpan": "derived from the transitions; the import of transitions rebuilds it",
    "streams.FlowWipChange": "derived from the transitions; the import of transitions rebuilds it",
    "streams.EventUpload": (
        "the import page's log and stored CSV files; the events they brought are carried"
    ),
    "streams.WebhookEndpoint": "a credential (the provider's shared secret); rotate a new one",
    "streams.WebhookRoute": (
        "webhook configuration (repository or project -> value stream), being built: not "
        "carried yet; set the routes again after a restore"
    ),
    "streams.WebhookDelivery": "the log of received webhook deliveries, about the source",
    "streams.WebhookItem": (
        "webhook reconciliation state; the flow items and transitions it fed are carried"
    ),
    "streams.WebhookPullRequest": ("webhook reconciliation state; the changes it fed are carried"),
    "streams.WebhookDeployment": (
        "webhook reconciliation state; the deployments it fed are carried"
    ),
    "metrics.KpiSnapshot": "recomputed at the end of the import (recompute_kpis' task)",
    "metrics.RecomputeState": "the workers' bookkeeping; the import's recompute leaves it clean",
    "metrics.ReportExport": (
        "built report files; the frozen figures are carried and rebuild the same files"
    ),
    "metrics.ReportFile": "built report files; the frozen figures are carried and rebuild them",
    **dict.fromkeys(
        (
            "portfolio.HistoricalLayer",
            "portfolio.HistoricalTeam",
            "portfolio.HistoricalProductFamily",
            "portfolio.HistoricalProduct",
            "portfolio.HistoricalComponent",
            "portfolio.HistoricalObjective",
            "portfolio.HistoricalObjectiveValueStream",
            "portfolio.HistoricalObjectiveJourney",
            "portfolio.HistoricalKeyResult",
            "streams.HistoricalValueStream",
            "streams.HistoricalStage",
            "streams.HistoricalStageComponent",
            "streams.HistoricalStatusMapping",
            "journeys.HistoricalJourney",
            "journeys.HistoricalJourneyStage",
            "journeys.HistoricalTouchpoint",
            "journeys.HistoricalTouchpointComponent",
            "metrics.HistoricalManualKpiValue",
        ),
        _HISTORY,
    ),
}


class OrgImportError(Exception):
    """The file was refused and nothing was written; ``errors`` says why, one line each."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(errors[0] if len(errors) == 1 else f"{len(errors)} errors in the file")


# --- Values as the file writes them ----------------------------------------------------


def _time(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``, as docs/formats.md writes times (microseconds kept)."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _time(value)
    if isinstance(value, Decimal):
        # numeric(18, 4) reads back as 10.0000: written as a person writes it.
        return format(value.normalize(), "f")
    return value


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _c(path: str) -> Collate:
    return Collate(path, "C")


# --- Export ------------------------------------------------------------------------------


@dataclass
class ExportSummary:
    counts: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [f"{name}: {count:,}" for name, count in self.counts.items()]


class _Writer:
    """Gathers small writes into large blocks for the output stream."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._parts: list[str] = []
        self._size = 0

    def write(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= WRITE_BLOCK:
            self.flush()

    def flush(self) -> None:
        if self._parts:
            self._out.write("".join(self._parts))
            self._parts, self._size = [], 0

    def array(self, rows: Iterator[Any], indent: str) -> int:
        """Write ``rows`` as a JSON array, one element per line; answers how many."""
        count = 0
        for row in rows:
            self.write(("[\n" if count == 0 else ",\n") + indent + "  " + _dump(row))
            count += 1
        self.write(f"\n{indent}]" if count else "[]")
        return count


def _organization_row(organization: Organization) -> dict[str, Any]:
    return {
        "slug": organization.slug,
        "name": organization.name,
        "time_zone": organization.time_zone,
        "dora_report_year": organization.dora_report_year,
        "created_at": _time(organization.created_at),
    }


def _members(organization: Organization) -> Iterator[dict[str, Any]]:
    memberships = (
        Membership.objects.filter(organization=organization)
        .order_by(_c("user__email"), "user_id")
        .values_list("user__email", "role", "created_at")
    )
    for email, role, joined in memberships:
        yield {"email": email, "role": role, "joined_at": _time(joined)}


def _event_rows(organization: Organization, kind: str) -> Iterator[dict[str, Any]]:
    model, sources, order = EVENT_SOURCES[kind]
    columns = tuple(sources)
    rows = (
        model._default_manager.filter(organization=organization)
        .order_by(*(_c(o) if o.endswith("key") else o for o in order))
        .values_list(*sources.values())
    )
    for values in rows.iterator(chunk_size=CHUNK_SIZE):
        yield dict(zip(columns, map(_cell, values), strict=True))


def _emails(queryset: models.QuerySet, field_name: str) -> dict[int, str]:
    """User id -> email, for the users a table's rows name in ``field_name``."""
    ids = queryset.exclude(**{f"{field_name}__isnull": True}).values_list(field_name, flat=True)
    User = get_user_model()
    return dict(User.objects.filter(pk__in=ids.distinct()).values_list("pk", "email"))


def _okr_history(organization: Organization) -> Iterator[dict[str, Any]]:
    check_ins = CheckIn.objects.filter(organization=organization)
    authors = _emails(check_ins, "author_id")
    key_results = (
        KeyResult.objects.filter(organization=organization)
        .select_related("objective")
        .order_by(_c("objective__slug"), _c("slug"))
    )
    for kr in key_results:
        rows = check_ins.filter(key_result=kr).order_by("at", "id")
        yield {
            "objective": kr.objective.slug,
            "key_result": kr.slug,
            "current": kr.current_value,
            "current_as_of": _time(kr.current_as_of),
            "check_ins": [
                {
                    "at": _time(c.at),
                    "value": c.value,
                    "confidence": c.confidence,
                    "note": c.note,
                    "author": authors.get(c.author_id),
                    "source": c.source,
                }
                for c in rows.iterator(chunk_size=CHUNK_SIZE)
            ],
        }


def _manual_kpi_values(organization: Organization) -> Iterator[dict[str, Any]]:
    values = ManualKpiValue.objects.filter(organization=organization)
    people = _emails(values, "entered_by_id")
    ordered = values.select_related("value_stream", "journey").order_by(
        _c("value_stream__slug"), _c("journey__slug"), "key", "period_kind", "period_start"
    )
    for m in ordered.iterator(chunk_size=CHUNK_SIZE):
        subject = (
            {"journey": m.journey.slug} if m.journey_id else {"value_stream": m.value_stream.slug}
        )
        yield {
            **subject,
            "key": m.key,
            "period_kind": m.period_kind,
            "period_start": m.period_start.isoformat(),
            "value": m.value,
            "note": m.note,
            "entered_by": people.get(m.entered_by_id),
        }


def _quarterly_reports(organization: Organization) -> Iterator[dict[str, Any]]:
    reports = QuarterlyReport.objects.filter(organization=organization)
    people = _emails(reports, "frozen_by_id")
    # One report's figures at a time: they are the largest rows of the file.
    for report in reports.order_by("quarter").iterator(chunk_size=1):
        yield {
            "quarter": report.quarter,
            "frozen_at": _time(report.frozen_at),
            "frozen_by": people.get(report.frozen_by_id),
            "in_progress": report.in_progress,
            "data": report.data,
        }


def org_export(
    *, organization: Organization, out: TextIO, now: dt.datetime | None = None
) -> ExportSummary:
    """Write the organization's whole data to ``out`` as the backup JSON (module docstring).

    Call it acting for the organization (``organization_context``). A live
    organization is written consistently only from one snapshot: ``export_org`` runs
    it in a REPEATABLE READ transaction, so every section sees the same data.
    """
    summary = ExportSummary()
    w = _Writer(out)
    model = json.dumps(model_export(organization=organization), ensure_ascii=False, indent=2)
    w.write("{\n")
    w.write(f'"format": {_dump(FORMAT)},\n"version": {VERSION},\n')
    w.write(f'"exported_at": {_dump(_time(now or timezone.now()))},\n')
    w.write(f'"organization": {_dump(_organization_row(organization))},\n')
    w.write('"members": ')
    summary.counts["members"] = w.array(_members(organization), "")
    w.write(',\n"model": ' + model + ',\n"events": {\n')
    for i, kind in enumerate(EVENT_SOURCES):
        w.write(("" if i == 0 else ",\n") + f"  {_dump(kind)}: ")
        summary.counts[kind] = w.array(_event_rows(organization, kind), "  ")
    w.write("\n}")
    check_ins = [0]
    for name, rows in (
        ("okr_history", _counting(_okr_history(organization), check_ins)),
        ("manual_kpi_values", _manual_kpi_values(organization)),
        ("quarterly_reports", _quarterly_reports(organization)),
    ):
        w.write(f",\n{_dump(name)}: ")
        summary.counts[name] = w.array(rows, "")
    summary.counts["check_ins"] = check_ins[0]
    w.write("\n}\n")
    w.flush()
    return summary


def _counting(groups: Iterator[dict[str, Any]], check_ins: list[int]) -> Iterator[dict]:
    """The key results' histories, counting their check-ins as they go by."""
    for group in groups:
        check_ins[0] += len(group["check_ins"])
        yield group


# --- Reading the file --------------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
READ_CHUNK = 1 << 16


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _found(char: str) -> str:
    return "the end of the file" if char == "" else repr(char)


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    return "a list" if isinstance(value, list) else "an object"


class _JsonReader:
    """A pull parser over a JSON text stream, for a file too big to hold.

    Arrays and objects are walked element by element (``items``, ``keys``); any
    other value is decoded whole (``value``). The buffer holds the value being
    decoded and one block of the stream, so memory follows the largest single
    value, not the file.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._lines_dropped = 0  # line breaks in the text already dropped from the buffer
        self._decoder = json.JSONDecoder(parse_constant=_no_constant)

    def _line(self, pos: int | None = None) -> int:
        pos = self._pos if pos is None else pos
        return self._lines_dropped + self._buf.count("\n", 0, pos) + 1

    def error(self, path: str, message: str, pos: int | None = None) -> OrgImportError:
        return OrgImportError([f"{path}: {message} (line {self._line(pos)})"])

    def _fill(self, at_least: int = READ_CHUNK) -> bool:
        """Read more of the stream into the buffer; False at its end."""
        if self._eof:
            return False
        if self._pos > READ_CHUNK:
            self._lines_dropped += self._buf.count("\n", 0, self._pos)
            self._buf, self._pos = self._buf[self._pos :], 0
        chunk = self._stream.read(max(at_least, READ_CHUNK))
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        return True

    def peek(self) -> str:
        """The next character that is not white space ("" at the end of the file)."""
        while True:
            self._pos = _WS.match(self._buf, self._pos).end()
            if self._pos < len(self._buf) or not self._fill():
                return self._buf[self._pos : self._pos + 1]

    def _expect(self, char: str, path: str, what: str) -> None:
        found = self.peek()
        if found != char:
            raise self.error(path, f"expected {what}, found {_found(found)}")
        self._pos += 1

    def _incomplete(self, exc: json.JSONDecodeError) -> bool:
        # The value may go on in the next block: the decoder stopped at the end of the
        # buffer (or inside an escape there), or in a string it never saw close.
        return exc.pos >= len(self._buf) - 6 or exc.msg.startswith("Unterminated string")

    def value(self, path: str) -> Any:
        if self.peek() == "":
            raise self.error(path, "the file ends here; expected a value")
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if self._incomplete(exc) and self._fill(len(self._buf)):
                    continue
                raise self.error(path, f"not valid JSON ({exc.msg})", exc.pos) from exc
            except (ValueError, RecursionError) as exc:
                raise self.error(path, f"not valid JSON ({exc})") from exc
            if end == len(self._buf) and self._fill(len(self._buf)):
                continue  # a number may go on in the next block
            self._pos = end
            return value

    def items(self, path: str) -> Iterator[Any]:
        """The elements of the array at ``path``, one at a time."""
        self._expect("[", path, "an array")
        if self.peek() == "]":
            self._pos += 1
            return
        index = 0
        while True:
            yield self.value(f"{path}[{index}]")
            found = self.peek()
            self._pos += 1
            if found == "]":
                return
            if found != ",":
                raise self.error(
                    path, f"expected ',' or ']' after item {index}, found {_found(found)}"
                )
            index += 1

    def keys(self, path: str) -> Iterator[str]:
        """The keys of the object at ``path``; the caller reads each key's value."""
        self._expect("{", path, "an object")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            if self.peek() != '"':
                raise self.error(
                    path, f"expected a key in double quotes, found {_found(self.peek())}"
                )
            key = self.value(path)
            self._expect(":", path, f"':' after the key {key!r}")
            yield key
            found = self.peek()
            self._pos += 1
            if found == "}":
                return
            if found != ",":
                raise self.error(path, f"expected ',' or '}}' after {key!r}, found {_found(found)}")

    def end(self) -> None:
        found = self.peek()
        if found:
            raise self.error("the file", f"unexpected {found!r} after the end of the object")


class _Fields:
    """One object of the file, read field by field; problems go to ``errors`` as
    ``path.field: reason`` and the field reads as None."""

    def __init__(
        self,
        path: str,
        data: object,
        errors: list[str],
        *,
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
    ) -> None:
        self.path, self.errors = path, errors
        self.ok = isinstance(data, dict)
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        if not self.ok:
            names = ", ".join(required + optional)
            errors.append(f"{path}: expected an object with {names}, found {_describe(data)}")
            return
        for name in self.data:
            if name not in required and name not in optional:
                errors.append(
                    f"{path}: unknown field '{name}'; expected {', '.join(required + optional)}"
                )
        for name in required:
            if name not in self.data:
                errors.append(f"{path}: missing field '{name}'")

    def problem(self, name: str, message: str) -> None:
        self.errors.append(f"{self.path}.{name}: {message}" if self.path else f"{name}: {message}")

    def _get(self, name: str, *, null: bool) -> tuple[bool, Any]:
        """(present and not null, value)."""
        if name not in self.data:
            return False, None
        value = self.data[name]
        if value is None and not null:
            self.problem(name, "is null; a value is needed")
        return value is not None, value

    def text(self, name: str, *, null: bool = False, max_length: int | None = None) -> str | None:
        given, value = self._get(name, null=null)
        if not given:
            return None
        if not isinstance(value, str):
            self.problem(name, f"expected a string, found {_describe(value)}")
            return None
        if max_length is not None and len(value) > max_length:
            self.problem(name, f"is {len(value)} characters long; expected at most {max_length}")
            return None
        return value

    def choice(self, name: str, choices: list[str]) -> str | None:
        value = self.text(name)
        if value is not None and value not in choices:
            self.problem(name, f"{_describe(value)} is not one of {', '.join(choices)}")
            return None
        return value

    def number(self, name: str, *, null: bool = False) -> float | None:
        given, value = self._get(name, null=null)
        if not given:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(name, f"expected a number, found {_describe(value)}")
            return None
        # Every number of the file is a quantity of portfolio.models.validate_quantity:
        # a key result's current value, a check-in's, a manual KPI value.
        if not quantity_in_range(value):
            self.problem(name, f"{quantity_shown(value)} is not a number {quantity_range()}")
            return None
        return float(value)

    def integer(self, name: str, *, null: bool = False) -> int | None:
        given, value = self._get(name, null=null)
        if not given:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(name, f"expected a whole number, found {_describe(value)}")
            return None
        return value

    def boolean(self, name: str) -> bool | None:
        given, value = self._get(name, null=False)
        if given and not isinstance(value, bool):
            self.problem(name, f"expected true or false, found {_describe(value)}")
            return None
        return value

    def time(self, name: str, *, null: bool = False) -> dt.datetime | None:
        value = self.text(name, null=null)
        if value is None:
            return None
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            self.problem(
                name,
                f"{_describe(value)} is not an ISO 8601 time with a UTC offset, e.g. "
                "2026-07-01T09:30:00Z",
            )
            return None
        return parsed

    def date(self, name: str) -> dt.date | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.problem(name, f"{_describe(value)} is not a date (YYYY-MM-DD)")
            return None

    def email(self, name: str, *, null: bool = True) -> str | None:
        value = self.text(name, null=null)
        if value is None:
            return None
        try:
            validate_email(value)
        except ValidationError:
            self.problem(name, f"{_describe(value)} is not an email address")
            return None
        return value

    def obj(self, name: str) -> dict[str, Any] | None:
        given, value = self._get(name, null=False)
        if given and not isinstance(value, dict):
            self.problem(name, f"expected an object, found {_describe(value)}")
            return None
        return value


def _messages(exc: ValidationError) -> list[tuple[str | None, str]]:
    """A service's ValidationError as (field or None, message) pairs."""
    if hasattr(exc, "error_dict"):
        return [
            (None if name == "__all__" else name, message)
            for name, errors in exc.error_dict.items()
            for error in errors
            for message in error.messages
        ]
    return [(None, message) for message in exc.messages]


def _model_error(error: str) -> str:
    """A model_io error (``value_streams[2].parent: ...``) as a path of this file."""
    section = re.match(r"[a-z_]+", error)
    if section and section.group() in MODEL_SECTIONS:
        return f"model.{error}"
    return f"model: {error}"


# --- Import ------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    """What ``org_import`` restored."""

    organization: str = ""
    members: int = 0
    users_created: list[str] = field(default_factory=list)
    model: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    snapshots: int = 0

    def lines(self) -> list[str]:
        lines = [f"restored organization {self.organization}", f"members: {self.members}"]
        if self.users_created:
            lines.append(
                f"new users without a password (they set one with 'Forgot password'): "
                f"{', '.join(self.users_created)}"
            )
        lines += [f"model {line}" for line in self.model]
        lines += self.events
        lines += [f"{name}: {count}" for name, count in self.counts.items()]
        lines.append(f"KPI snapshots recomputed: {self.snapshots}")
        return lines


class _Importer:
    """Acts on each section of the file as the reader reaches it (``SECTIONS`` order)."""

    def __init__(self, reader: _JsonReader, slug: str | None) -> None:
        self.r = reader
        self.slug = slug
        self.org: Organization | None = None
        self.org_row: dict[str, Any] = {}
        self.summary = ImportSummary()
        self._users: dict[str, AbstractBaseUser | None] = {}

    def run(self) -> ImportSummary:
        handlers: dict[str, Callable[[str], None]] = {
            name: getattr(self, f"_{name}") for name in SECTIONS
        }
        expected = 0
        for key in self.r.keys("the file"):
            if key not in SECTIONS:
                raise self.r.error(key, f"unknown key; expected the keys {', '.join(SECTIONS)}")
            i = SECTIONS.index(key)
            if i < expected:
                raise self.r.error(
                    key,
                    f"comes after {SECTIONS[expected - 1]}; the keys come once each, in the "
                    f"order {', '.join(SECTIONS)}",
                )
            self._missing(SECTIONS[expected:i], before=key)
            expected = i + 1
            handlers[key](key)
        self._missing(SECTIONS[expected:], before=None)
        self.r.end()
        self._recompute()
        return self.summary

    def _missing(self, skipped: tuple[str, ...], *, before: str | None) -> None:
        missing = [name for name in skipped if name not in OPTIONAL_SECTIONS]
        if missing:
            where = f"before {before}" if before else "at the end of the file"
            raise OrgImportError([f"{missing[0]}: missing (expected {where})"])

    def _check(self, errors: list[str]) -> None:
        if errors:
            raise OrgImportError(errors)

    # --- users

    def _user(self, email: str | None) -> AbstractBaseUser | None:
        """The user of this email in this database, if any (authors, who froze a report)."""
        if not email:
            return None
        if email.lower() not in self._users:
            User = get_user_model()
            self._users[email.lower()] = (
                User.objects.filter(email__iexact=email).order_by("pk").first()
            )
        return self._users[email.lower()]

    def _member_user(self, email: str) -> AbstractBaseUser:
        """A member's user: the one of this email, else a new one who cannot sign in
        until they set a password ("Forgot password", or an admin)."""
        user = self._user(email)
        if user is None:
            User = get_user_model()
            email = User.objects.normalize_email(email)
            user = User(username=email.lower(), email=email)
            user.set_unusable_password()
            if User.objects.filter(username=user.username).exists():
                raise OrgImportError(
                    [f"members: a user named {user.username} exists with another email"]
                )
            user.save()
            self._users[email.lower()] = user
            self.summary.users_created.append(email)
        return user

    # --- sections

    def _format(self, path: str) -> None:
        value = self.r.value(path)
        if value != FORMAT:
            raise OrgImportError(
                [
                    f"format: {_describe(value)} is not a Throughline organization backup; "
                    f"expected '{FORMAT}'"
                ]
            )

    def _version(self, path: str) -> None:
        value = self.r.value(path)
        if isinstance(value, bool) or value != VERSION:
            raise OrgImportError(
                [
                    f"version: {_describe(value)} is not supported; this Throughline reads "
                    f"version {VERSION} of {FORMAT} files"
                ]
            )

    def _exported_at(self, path: str) -> None:
        errors: list[str] = []
        _Fields("", {path: self.r.value(path)}, errors, required=(path,)).time(path, null=True)
        self._check(errors)

    def _organization(self, path: str) -> None:
        errors: list[str] = []
        row = _Fields(
            path,
            self.r.value(path),
            errors,
            required=("slug", "name", "time_zone", "dora_report_year", "created_at"),
        )
        self.org_row = {
            "slug": row.text("slug"),
            "name": row.text("name"),
            "time_zone": row.text("time_zone"),
            "dora_report_year": row.integer("dora_report_year"),
            "created_at": row.time("created_at"),
        }
        self._check(errors)
        slug = self.slug or self.org_row["slug"]
        try:
            slug_validator(slug)
        except ValidationError as exc:
            where = "--org" if self.slug else "organization.slug"
            raise OrgImportError([f"{where}: '{slug}': {' '.join(exc.messages)}"]) from exc
        if Organization.objects.filter(slug=slug).exists():
            raise OrgImportError(
                [
                    f"organization '{slug}' already exists in this database; restore the file "
                    "under another slug (import_org --org NEW_SLUG)"
                ]
            )
        self.org_row["slug"] = slug

    def _members(self, path: str) -> None:
        errors: list[str] = []
        members: list[tuple[str, str, dt.datetime | None]] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(self.r.items(path)):
            row = _Fields(
                f"{path}[{i}]", item, errors, required=("email", "role"), optional=("joined_at",)
            )
            email = row.email("email", null=False)
            role = row.choice("role", Role.values)
            joined = row.time("joined_at", null=True)
            if email is None or role is None:
                continue
            if email.lower() in seen:
                row.problem(
                    "email", f"{email} is already a member at {path}[{seen[email.lower()]}]"
                )
                continue
            seen[email.lower()] = i
            members.append((email, role, joined))
        if not errors and not any(may_administer(role) for _e, role, _j in members):
            errors.append(f"{path}: no member is an admin; an organization needs one")
        self._check(errors)
        users = [self._member_user(email) for email, _r, _j in members]
        admin = next(
            u for u, (_e, role, _j) in zip(users, members, strict=True) if may_administer(role)
        )
        o = self.org_row
        try:
            # Without the default layers: the model brings the organization's own.
            org = organization_create(
                slug=o["slug"],
                name=o["name"],
                admin=admin,
                time_zone=o["time_zone"],
                default_layers=False,
            )
            organization_update(
                organization=org,
                name=org.name,
                time_zone=org.time_zone,
                dora_report_year=o["dora_report_year"],
            )
        except ValidationError as exc:
            raise OrgImportError([f"organization: {m}" for _f, m in _messages(exc)]) from exc
        Organization.objects.filter(pk=org.pk).update(created_at=o["created_at"])
        org.created_at = o["created_at"]
        self.org = org
        # organization_create left the transaction acting for the new organization:
        # everything from here on is written under its row-level security.
        set_transaction_context(organization_id=org.pk)
        for user, (_email, role, joined) in zip(users, members, strict=True):
            values = {"role": role, "created_at": joined or timezone.now()}
            Membership.objects.update_or_create(organization=org, user=user, defaults=values)
        self.summary.organization = org.slug
        self.summary.members = len(members)

    def _model(self, path: str) -> None:
        try:
            summary = model_import(organization=self.org, data=self.r.value(path))
        except ModelImportError as exc:
            raise OrgImportError([_model_error(e) for e in exc.errors]) from exc
        self.summary.model = summary.lines()
        # model_import measured the linked key results, on an organization without
        # events yet, and recorded those readings: the file's history replaces them.
        CheckIn.objects.filter(organization=self.org).delete()
        KeyResult.objects.filter(organization=self.org).update(
            current_value=None, current_as_of=None
        )

    def _events(self, path: str) -> None:
        kinds = list(EVENT_KINDS)
        last = -1
        for kind in self.r.keys(path):
            if kind not in kinds:
                raise self.r.error(f"{path}.{kind}", f"unknown kind; expected {', '.join(kinds)}")
            if kinds.index(kind) <= last:
                raise self.r.error(
                    f"{path}.{kind}",
                    f"comes after {path}.{kinds[last]}; the kinds come once each, in the "
                    f"order {', '.join(kinds)}",
                )
            last = kinds.index(kind)
            rows = self.r.items(f"{path}.{kind}")
            try:
                result = events_import(organization=self.org, kind=kind, rows=rows, source="json")
            except ImportRejected as exc:
                raise OrgImportError([f"{path}.{kind} {m}" for m in exc.messages]) from exc
            self.summary.events.append(f"{path}.{result.summary()}")

    def _okr_history(self, path: str) -> None:
        key_results = {
            (kr.objective.slug, kr.slug): kr
            for kr in KeyResult.objects.filter(organization=self.org).select_related("objective")
        }
        seen: dict[tuple[str, str], int] = {}
        counts = {"key_results": 0, "check_ins": 0}
        for i, item in enumerate(self.r.items(path)):
            errors: list[str] = []
            gpath = f"{path}[{i}]"
            row = _Fields(
                gpath,
                item,
                errors,
                required=("objective", "key_result", "current", "current_as_of", "check_ins"),
            )
            ref = (row.text("objective"), row.text("key_result"))
            current = row.number("current", null=True)
            current_as_of = row.time("current_as_of", null=True)
            kr = key_results.get(ref)
            if None not in ref and kr is None:
                errors.append(f"{gpath}: key result '{ref[0]}/{ref[1]}' is not in the model")
            elif kr is not None and ref in seen:
                errors.append(
                    f"{gpath}: key result '{ref[0]}/{ref[1]}' is already at {path}[{seen[ref]}]"
                )
            seen[ref] = i
            check_ins = row.data.get("check_ins")
            if not isinstance(check_ins, list):
                if "check_ins" in row.data:
                    row.problem("check_ins", f"expected a list, found {_describe(check_ins)}")
                check_ins = []
            objects = [
                self._check_in(f"{gpath}.check_ins[{j}]", c, kr, errors)
                for j, c in enumerate(check_ins)
            ]
            self._check(errors)
            CheckIn.objects.bulk_create(objects)
            KeyResult.objects.filter(pk=kr.pk).update(
                current_value=current, current_as_of=current_as_of
            )
            counts["key_results"] += 1
            counts["check_ins"] += len(objects)
        self.summary.counts.update(counts)

    def _check_in(
        self, path: str, item: object, kr: KeyResult | None, errors: list[str]
    ) -> CheckIn | None:
        before = len(errors)
        row = _Fields(
            path, item, errors, required=("at", "value", "confidence", "note", "author", "source")
        )
        source = row.choice("source", CheckInSource.values)
        check_in = CheckIn(
            organization=self.org,
            key_result=kr,
            at=row.time("at"),
            # Only a metric's reading may be null (its metric was undefined).
            value=row.number("value", null=source == CheckInSource.METRIC),
            confidence=row.integer("confidence", null=True),
            note=row.text("note") or "",
            author=self._user(row.email("author")),
            source=source or CheckInSource.MANUAL,
        )
        if len(errors) > before:
            return check_in  # the model's own checks would only repeat what is said
        try:
            check_in.full_clean(exclude=["organization", "key_result", "author", "at"])
        except ValidationError as exc:
            errors.extend(
                f"{path}{'.' + name if name else ''}: {message}" for name, message in _messages(exc)
            )
        return check_in

    def _manual_kpi_values(self, path: str) -> None:
        streams = {vs.slug: vs for vs in ValueStream.objects.filter(organization=self.org)}
        journeys = {j.slug: j for j in Journey.objects.filter(organization=self.org)}
        count = 0
        for i, item in enumerate(self.r.items(path)):
            errors: list[str] = []
            ipath = f"{path}[{i}]"
            row = _Fields(
                ipath,
                item,
                errors,
                required=("key", "period_kind", "period_start", "value", "note", "entered_by"),
                optional=("value_stream", "journey"),
            )
            stream, journey = row.text("value_stream"), row.text("journey")
            subject = None
            if (stream is None) == (journey is None):
                if not errors:
                    errors.append(f"{ipath}: name either a value_stream or a journey")
            elif stream is not None and (subject := streams.get(stream)) is None:
                row.problem("value_stream", f"'{stream}' is not a value stream of the model")
            elif journey is not None and (subject := journeys.get(journey)) is None:
                row.problem("journey", f"'{journey}' is not a journey of the model")
            values = {
                "key": row.text("key"),
                "period_kind": row.choice("period_kind", PeriodKind.values),
                "period_start": row.date("period_start"),
                "value": row.number("value"),
                "note": row.text("note", max_length=500),
                "user": self._user(row.email("entered_by")),
            }
            self._check(errors)
            try:
                manual_value_set(organization=self.org, subject=subject, **values)
            except ValidationError as exc:
                raise OrgImportError(
                    [f"{ipath}{'.' + n if n else ''}: {m}" for n, m in _messages(exc)]
                ) from exc
            count += 1
        self.summary.counts["manual_kpi_values"] = count

    def _quarterly_reports(self, path: str) -> None:
        seen: dict[str, int] = {}
        for i, item in enumerate(self.r.items(path)):
            errors: list[str] = []
            ipath = f"{path}[{i}]"
            row = _Fields(
                ipath,
                item,
                errors,
                required=("quarter", "frozen_at", "frozen_by", "in_progress", "data"),
            )
            quarter = row.text("quarter")
            if quarter is not None:
                try:
                    quarter_validator(quarter)
                except ValidationError:
                    row.problem("quarter", f"'{quarter}' is not a quarter such as 2026-Q3")
                if quarter in seen:
                    row.problem("quarter", f"{quarter} is already at {path}[{seen[quarter]}]")
                seen[quarter] = i
            frozen_at, in_progress = row.time("frozen_at"), row.boolean("in_progress")
            frozen_by, data = self._user(row.email("frozen_by")), row.obj("data")
            self._check(errors)
            # The figures come back as frozen; only the file name their renderers build
            # (from the organization's slug) follows a restore under a new slug.
            if isinstance(data.get("organization"), dict):
                data = {**data, "organization": {**data["organization"], "slug": self.org.slug}}
            QuarterlyReport.objects.create(
                organization=self.org,
                quarter=quarter,
                data=data,
                frozen_at=frozen_at,
                frozen_by=frozen_by,
                in_progress=in_progress,
            )
        self.summary.counts["quarterly_reports"] = len(seen)

    def _recompute(self) -> None:
        # The events' imports marked the snapshots stale and queued a debounced
        # recompute for the commit. Claim it and recompute now, through the
        # workers' task as recompute_kpis does, so the snapshots exist when the
        # import commits (and the queued recompute finds nothing to do).
        recompute_take_dirty(organization=self.org)
        result = kpis_recompute.apply(args=[self.org.pk]).get()
        self.summary.snapshots = result["snapshots"]


@transaction.atomic
def org_import(*, stream: TextIO, slug: str | None = None) -> ImportSummary:
    """Restore an organization from a backup (``org_export``'s JSON) read from ``stream``,
    under ``slug`` (default: the file's), which must not exist yet.

    One transaction: raises ``OrgImportError`` (every line names where in the file)
    and writes nothing when the file is refused; answers what was restored.
    """
    # Acting for no organization until the new one exists; the caller's context
    # comes back at the end.
    with organization_context(None):
        return _Importer(_JsonReader(stream), slug).run()
