"""Event ingestion: the one service behind ``import_events`` and the bulk event API.

An import is all-or-nothing and set-based (docs/formats.md#event-csvs):

1. the rows are streamed (CSV or a JSON list) into a TEMP staging table with
   ``COPY``, each with the line (or item) number it came from;
2. one query resolves the rows against the organization's records (value
   streams, flow items, deployments, tool-status mappings) into a second
   TEMP table, and one query lists every bad row with its reason; any bad
   row rejects the whole input;
3. one ``INSERT ... ON CONFLICT DO UPDATE`` upserts by key, touching only
   rows whose values differ, so importing the same input twice changes nothing;
4. for flow items, one ``UPDATE`` recomputes the derived facts
   (docs/metrics.md#flow-items-and-transitions) of the items the import touched.

Memory stays bounded by the input's width, not its length: rows are never
held in Python. Every statement names the organization in its joins and
filters, besides the row-level security context its caller has set.

A new kind (journey events) is one more ``_Kind``: its columns, the query
that resolves its rows, its checks and its upsert.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TextIO

import psycopg
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils.translation import ngettext
from psycopg import sql

from journeys.models import JourneyEventType
from metrics.engine import flow_item_facts_refresh_from
from portfolio.models import Organization
from streams.models import DeploymentStatus, FlowType, StateCategory

Source = Literal["csv", "json"]

STAGE = "ingest_stage"  # the rows as read, all text
ROWS = "ingest_rows"  # the rows resolved against the organization's records
TOUCHED_ITEMS = "ingest_touched_items"  # flow items whose derived facts need recomputing

EXAMPLE_TIME = "2026-07-01T09:30:00Z"
WHITESPACE = " \t\r\n\v\f"
NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"  # a decimal number, as journey event values
MAX_VALUE = (
    10**14
)  # journey event values are numeric(18, 4)  # stripped from both ends of every value
# Sorts and hashes of a bulk import run over the whole input: room to do them in
# memory (per sort or hash node of the import's statements, for its transaction).
WORK_MEM = "64MB"
COPY_BLOCK = 1 << 20  # characters per write of the CSV fast path
# ISO 8601 date and time with a UTC offset; PostgreSQL's own parser then
# rejects impossible dates (throughline_timestamptz_or_null, a safe cast made
# by streams' migration 0004 for PostgreSQL 15 and later).
TIME_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)$"
# A CSV line ends in LF, CRLF or a bare CR, as Python's CSV reader (and PostgreSQL's
# COPY) read a file opened with newline="".
LINE_END = re.compile(r"\r\n|\r|\n")
TIME_WITHOUT_OFFSET = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"


class ImportRejected(ValidationError):
    """The whole input was rejected: ``messages`` holds one ``line N: reason`` per problem."""


@dataclass(frozen=True)
class ImportResult:
    kind: str
    created: int
    updated: int
    unchanged: int
    # Value streams (or, for journey events, journeys) whose records changed
    # (metrics to recompute), old and new alike when a record moved.
    value_stream_ids: frozenset[int]
    journey_ids: frozenset[int] = frozenset()

    def summary(self) -> str:
        return (
            f"{self.kind}: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged"
        )


# --- SQL building blocks -------------------------------------------------------------
# Only the kinds' own constants are written into SQL text (as literals); the
# input's values travel through COPY and are only ever read from the staging table.


def _lit(value: str) -> str:
    return sql.Literal(value).as_string()


def _col(name: str) -> str:
    return sql.Identifier(name).as_string()


def _time(name: str, *, safe: bool) -> str:
    """The trimmed text of column ``name`` of ``t`` as timestamptz, NULL when it is not
    a time with an offset. ``safe`` turns impossible dates (2026-02-30) into NULL
    too, at a cost per row; without it they raise, and the import retries safely."""
    col = f"t.{_col(name)}"
    cast = f"throughline_timestamptz_or_null({col})" if safe else f"{col}::timestamptz"
    return f"CASE WHEN {col} ~ {_lit(TIME_WITH_OFFSET)} THEN {cast} END"


def _source(kind: _Kind, *, safe: bool) -> str:
    """The staged rows as ``s``: every value trimmed, every time column also parsed
    (as ``<column>_ts``)."""
    trimmed = ", ".join(
        f"btrim(st.{_col(c)}, {_lit(WHITESPACE)}) AS {_col(c)}" for c in kind.columns
    )
    times = "".join(f", {_time(name, safe=safe)} AS {_col(name + '_ts')}" for name in kind.times)
    # OFFSET 0 keeps the planner from inlining the subquery, which would trim and
    # parse a value again wherever the resolving query names it.
    return f"(SELECT t.*{times} FROM (SELECT st.line, {trimmed} FROM {STAGE} st) t OFFSET 0) s"  # noqa: S608


def _required(name: str) -> str:
    return f"CASE WHEN r.{_col(name)} = '' THEN {_lit(f'{name} is empty')} END"


def _max_length(name: str, limit: int) -> str:
    col = f"r.{_col(name)}"
    return (
        f"CASE WHEN length({col}) > {limit} THEN format("
        f"{_lit(f'{name} is %s characters long; expected at most {limit}')}, length({col})) END"
    )


def _one_of(name: str, values: Iterable[str]) -> str:
    values = list(values)
    col = f"r.{_col(name)}"
    allowed = ", ".join(_lit(v) for v in values)
    message = f"{name} %L is not one of {', '.join(values)}"
    return (
        f"CASE WHEN {col} <> '' AND {col} NOT IN ({allowed})"
        f" THEN format({_lit(message)}, {col}) END"
    )


def _time_check(name: str, *, required: bool = True) -> str:
    col, parsed = f"r.{_col(name)}", f"r.{_col(name + '_ts')}"
    empty = _lit(f"{name} is empty") if required else "NULL"
    no_offset = (
        f"{name} %L has no UTC offset; expected ISO 8601 with Z or +hh:mm, e.g. {EXAMPLE_TIME}"
    )
    unparsable = f"{name} %L is not an ISO 8601 time; expected e.g. {EXAMPLE_TIME}"
    return (
        f"CASE WHEN {col} = '' THEN {empty} WHEN {parsed} IS NOT NULL THEN NULL"
        f" WHEN {col} ~ {_lit(TIME_WITHOUT_OFFSET)} THEN format({_lit(no_offset)}, {col})"
        f" ELSE format({_lit(unparsable)}, {col}) END"
    )


def _iso(expr: str) -> str:
    """The timestamptz ``expr`` as ISO 8601 in UTC, for messages: 2026-07-01T09:30:00Z,
    with its fraction of a second when it has one (2026-07-01T09:30:00.25Z)."""
    utc = f"({expr} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || rtrim(rtrim(to_char({utc}, '.US'), '0'), '.') || 'Z'"
    )


def _known(name: str, id_column: str, what: str) -> str:
    col = f"r.{_col(name)}"
    return (
        f"CASE WHEN {col} <> '' AND r.{id_column} IS NULL"
        f" THEN format({_lit(what + ' %L is unknown')}, {col}) END"
    )


# A record is named once per input: a second row with its key would make the
# result depend on row order. ``first_line`` is min(line) over the key.
_KEY_ONCE = (
    "CASE WHEN r.key <> '' AND r.line > r.first_line"
    " THEN format('key %L is already on line %s; name each record once', r.key, r.first_line) END"
)

_STREAM_JOIN = (
    "LEFT JOIN streams_valuestream v ON v.organization_id = {org} AND v.slug = s.value_stream"
)
_FROM = "FROM {src}"  # the staged rows, as ``_source`` gives them
_DEPLOYMENT_JOIN = (
    "LEFT JOIN streams_deployment d ON d.organization_id = {org} AND d.key = s.deployment"
)
_FIRST_LINE = "min(s.line) OVER (PARTITION BY s.key) AS first_line"


def _keyed_upsert(
    table: str,
    fields: Mapping[str, str],
    *,
    touch_items: bool = False,
    subject: str = "value_stream_id",
) -> str:
    """Upsert ``ROWS`` into ``table`` by (organization, key), updating only rows that differ.

    Answers one row: created, updated, and the ``subject`` (value stream or
    journey) of changed records, before and after, so a record moving between
    subjects touches both.
    """
    columns = ", ".join(fields)
    values = ", ".join(fields.values())
    current = ", ".join(f"x.{c}" for c in fields)
    incoming = ", ".join(f"EXCLUDED.{c}" for c in fields)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in fields)
    # A new flow item starts with the facts of an item without transitions.
    facts_columns, facts_values = "", ""
    if table == "streams_flowitem":
        facts_columns = ", state, started_at, done_at, active_seconds, waiting_seconds"
        facts_values = ", 'new', NULL, NULL, 0, 0"
    touch = (
        f", touch AS (INSERT INTO {TOUCHED_ITEMS} (id) SELECT id FROM up)"  # noqa: S608 - SQL text holds only constants; input travels by COPY
        if touch_items
        else ""
    )
    return f"""
        WITH old AS (
            SELECT x.id, x.{subject} AS subject FROM {table} x JOIN {ROWS} r ON r.key = x.key
            WHERE x.organization_id = {{org}}
        ), up AS (
            INSERT INTO {table} AS x (organization_id, key, {columns}{facts_columns})
            SELECT {{org}}, r.key, {values}{facts_values} FROM {ROWS} r
            ON CONFLICT (organization_id, key) DO UPDATE SET {updates}
            WHERE ({current}) IS DISTINCT FROM ({incoming})
            RETURNING x.id, x.{subject} AS subject
        ), changed AS (
            SELECT up.id, up.subject, old.id IS NULL AS created, old.subject AS old_subject
            FROM up LEFT JOIN old ON old.id = up.id
        ){touch}
        SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created),
               ARRAY(SELECT subject FROM changed
                     UNION SELECT old_subject FROM changed WHERE old_subject IS NOT NULL)
        FROM changed
    """  # noqa: S608 - SQL text holds only constants; input travels by COPY


@dataclass(frozen=True)
class _Kind:
    columns: tuple[str, ...]
    times: tuple[str, ...]  # columns parsed as times, resolved as <column>_ts
    optional: frozenset[str]  # JSON fields that may be left out (read as empty)
    resolve: str  # FROM/JOIN clauses and extra columns over the staging table ``s``
    checks: tuple[str, ...]  # SQL expressions over ``r``: a reason, or NULL when fine
    upsert: str
    has_facts: bool = False  # the kind changes flow items' derived facts
    subject: str = "value_stream"  # whose metrics its records feed: value_stream or journey


_CATEGORIES = ", ".join(_lit(c) for c in StateCategory.values)

KINDS: dict[str, _Kind] = {
    "flow_items": _Kind(
        columns=("key", "type", "title", "value_stream", "created_at"),
        times=("created_at",),
        optional=frozenset({"title"}),
        # A stored item's first transition: its creation may not move past it.
        resolve=f"""
            v.id AS value_stream_id, {_FIRST_LINE}, ft.at AS first_transition_at
            {_FROM} {_STREAM_JOIN}
            LEFT JOIN streams_flowitem x ON x.organization_id = {{org}} AND x.key = s.key
            LEFT JOIN LATERAL (
                SELECT t.at FROM streams_flowtransition t
                WHERE t.organization_id = {{org}} AND t.item_id = x.id ORDER BY t.at LIMIT 1
            ) ft ON true
        """,  # noqa: S608 - SQL text holds only constants; input travels by COPY
        checks=(
            _required("key"),
            _max_length("key", 200),
            _KEY_ONCE,
            _required("type"),
            _one_of("type", FlowType.values),
            _max_length("title", 500),
            _required("value_stream"),
            _known("value_stream", "value_stream_id", "value stream"),
            _time_check("created_at"),
            "CASE WHEN r.created_at_ts > r.first_transition_at"
            " THEN format('created_at %s is after the first transition of flow item %L, at %s;"
            " an item is created before its transitions', r.created_at, r.key, "
            + _iso("r.first_transition_at")
            + ") END",
        ),
        upsert=_keyed_upsert(
            "streams_flowitem",
            {
                "type": "r.type",
                "title": "r.title",
                "value_stream_id": "r.value_stream_id",
                "created_at": "r.created_at_ts",
            },
            touch_items=True,
        ),
        has_facts=True,
    ),
    "flow_transitions": _Kind(
        columns=("key", "at", "state"),
        times=("at",),
        optional=frozenset(),
        # The state is a category, or else a tool status mapped (without case)
        # in the item's value stream.
        resolve=f"""
            i.id AS item_id, i.value_stream_id, v.slug AS item_stream,
            i.created_at AS item_created_at,
            CASE WHEN s.state IN ({_CATEGORIES}) THEN s.state ELSE m.category END AS category,
            t.state AS stored_state,
            min(s.line) OVER (PARTITION BY s.key, s.at_ts) AS first_line
            {_FROM}
            LEFT JOIN streams_flowitem i ON i.organization_id = {{org}} AND i.key = s.key
            LEFT JOIN streams_valuestream v
                ON v.organization_id = {{org}} AND v.id = i.value_stream_id
            LEFT JOIN streams_statusmapping m
                ON m.organization_id = {{org}} AND m.value_stream_id = i.value_stream_id
                AND lower(m.tool_status) = lower(s.state)
            LEFT JOIN streams_flowtransition t
                ON t.organization_id = {{org}} AND t.item_id = i.id AND t.at = s.at_ts
        """,
        checks=(
            _required("key"),
            _known("key", "item_id", "flow item"),
            _time_check("at"),
            _required("state"),
            "CASE WHEN r.state <> '' AND r.item_id IS NOT NULL AND r.category IS NULL"
            " THEN format('state %L is not one of "
            + ", ".join(StateCategory.values)
            + ", nor a tool status mapped in value stream %L', r.state, r.item_stream) END",
            # docs/metrics.md#flow-items-and-transitions: transitions of one item never
            # share an instant.
            "CASE WHEN r.at_ts IS NOT NULL AND r.key <> '' AND r.line > r.first_line"
            " THEN format('flow item %L has another transition at the same instant on line %s;"
            " transitions of one item never share an instant', r.key, r.first_line) END",
            "CASE WHEN r.stored_state IS DISTINCT FROM r.category AND r.stored_state IS NOT NULL"
            " AND r.category IS NOT NULL"
            " THEN format('flow item %L already has a transition to %L at %s;"
            " transitions of one item never share an instant', r.key, r.stored_state, r.at) END",
            # An item's history starts when it is created (at that instant or later).
            "CASE WHEN r.at_ts < r.item_created_at"
            " THEN format('at %s is before flow item %L was created at %s', r.at, r.key, "
            + _iso("r.item_created_at")
            + ") END",
        ),
        # A stored transition at the same instant has the same state (else the
        # row is rejected above), so a transition is only ever created.
        upsert=f"""
            WITH up AS (
                INSERT INTO streams_flowtransition AS x (organization_id, item_id, at, state)
                SELECT {{org}}, r.item_id, r.at_ts, r.category FROM {ROWS} r
                ON CONFLICT (organization_id, item_id, at) DO NOTHING
                RETURNING x.item_id
            ), touch AS (
                INSERT INTO {TOUCHED_ITEMS} (id) SELECT DISTINCT item_id FROM up
            )
            SELECT count(*), 0,
                   ARRAY(SELECT DISTINCT r.value_stream_id FROM {ROWS} r
                         WHERE r.item_id IN (SELECT item_id FROM up))
            FROM up
        """,  # noqa: S608 - SQL text holds only constants; input travels by COPY
        has_facts=True,
    ),
    "deployments": _Kind(
        columns=("key", "value_stream", "environment", "deployed_at", "status"),
        times=("deployed_at",),
        optional=frozenset(),
        resolve=f"v.id AS value_stream_id, {_FIRST_LINE} {_FROM} {_STREAM_JOIN}",
        checks=(
            _required("key"),
            _max_length("key", 200),
            _KEY_ONCE,
            _required("value_stream"),
            _known("value_stream", "value_stream_id", "value stream"),
            _required("environment"),
            _max_length("environment", 100),
            _time_check("deployed_at"),
            _required("status"),
            _one_of("status", DeploymentStatus.values),
        ),
        upsert=_keyed_upsert(
            "streams_deployment",
            {
                "value_stream_id": "r.value_stream_id",
                "environment": "r.environment",
                "deployed_at": "r.deployed_at_ts",
                "status": "r.status",
            },
        ),
    ),
    "changes": _Kind(
        columns=("key", "value_stream", "committed_at", "deployment"),
        times=("committed_at",),
        optional=frozenset(),
        resolve=f"""
            v.id AS value_stream_id, d.id AS deployment_id, {_FIRST_LINE}
            {_FROM} {_STREAM_JOIN} {_DEPLOYMENT_JOIN}
        """,
        checks=(
            _required("key"),
            _max_length("key", 200),
            _KEY_ONCE,
            _required("value_stream"),
            _known("value_stream", "value_stream_id", "value stream"),
            _time_check("committed_at"),
            _required("deployment"),
            _known("deployment", "deployment_id", "deployment"),
        ),
        upsert=_keyed_upsert(
            "streams_change",
            {
                "value_stream_id": "r.value_stream_id",
                "committed_at": "r.committed_at_ts",
                "deployment_id": "r.deployment_id",
            },
        ),
    ),
    "incidents": _Kind(
        columns=("key", "value_stream", "opened_at", "resolved_at", "deployment"),
        times=("opened_at", "resolved_at"),
        optional=frozenset({"resolved_at", "deployment"}),
        resolve=f"""
            v.id AS value_stream_id, d.id AS deployment_id, {_FIRST_LINE}
            {_FROM} {_STREAM_JOIN} {_DEPLOYMENT_JOIN}
        """,
        checks=(
            _required("key"),
            _max_length("key", 200),
            _KEY_ONCE,
            _required("value_stream"),
            _known("value_stream", "value_stream_id", "value stream"),
            _time_check("opened_at"),
            _time_check("resolved_at", required=False),
            "CASE WHEN r.resolved_at_ts < r.opened_at_ts THEN format("
            "'resolved_at %s is before opened_at %s', r.resolved_at, r.opened_at) END",
            _known("deployment", "deployment_id", "deployment"),
        ),
        upsert=_keyed_upsert(
            "streams_incident",
            {
                "value_stream_id": "r.value_stream_id",
                "opened_at": "r.opened_at_ts",
                "resolved_at": "r.resolved_at_ts",
                "deployment_id": "r.deployment_id",
            },
        ),
    ),
    "journey_events": _Kind(
        columns=("key", "journey", "type", "at", "customer", "ref", "value", "stage", "touchpoint"),
        times=("at",),
        optional=frozenset({"customer", "ref", "value", "stage", "touchpoint"}),
        # Stages and touchpoints are named by their slug within the event's journey.
        resolve=f"""
            j.id AS journey_id, st.id AS stage_id, tp.id AS touchpoint_id,
            tp_stage.slug AS touchpoint_stage,
            CASE WHEN s.value ~ {_lit(NUMBER)} THEN s.value::numeric END AS value_num,
            {_FIRST_LINE}
            {_FROM}
            LEFT JOIN journeys_journey j ON j.organization_id = {{org}} AND j.slug = s.journey
            LEFT JOIN journeys_journeystage st
                ON st.organization_id = {{org}} AND st.journey_id = j.id AND st.slug = s.stage
            LEFT JOIN journeys_touchpoint tp
                ON tp.organization_id = {{org}} AND tp.journey_id = j.id AND tp.slug = s.touchpoint
            LEFT JOIN journeys_journeystage tp_stage
                ON tp_stage.organization_id = {{org}} AND tp_stage.id = tp.stage_id
        """,
        checks=(
            _required("key"),
            _max_length("key", 200),
            _KEY_ONCE,
            _required("journey"),
            _known("journey", "journey_id", "journey"),
            _required("type"),
            _one_of("type", JourneyEventType.values),
            _time_check("at"),
            _max_length("customer", 200),
            _max_length("ref", 200),
            "CASE WHEN r.stage <> '' AND r.journey_id IS NOT NULL AND r.stage_id IS NULL"
            " THEN format('stage %L is not a stage of journey %L', r.stage, r.journey) END",
            "CASE WHEN r.touchpoint <> '' AND r.journey_id IS NOT NULL AND r.touchpoint_id IS NULL"
            " THEN format('touchpoint %L is not a touchpoint of journey %L',"
            " r.touchpoint, r.journey) END",
            "CASE WHEN r.stage_id IS NOT NULL AND r.touchpoint_id IS NOT NULL"
            " AND r.touchpoint_stage <> r.stage"
            " THEN format('touchpoint %L is in stage %L, not %L',"
            " r.touchpoint, r.touchpoint_stage, r.stage) END",
            "CASE WHEN r.value <> '' AND r.value_num IS NULL"
            " THEN format('value %L is not a number', r.value) END",
            f"CASE WHEN abs(r.value_num) >= {MAX_VALUE}"
            f" THEN format('value %s is too large; expected less than {MAX_VALUE}', r.value) END",
            "CASE WHEN r.value = '' AND r.type IN ('survey', 'case_resolved',"
            " 'acquisition_cost', 'claim_paid')"
            " THEN format('value is empty; a %s event needs one', r.type) END",
            "CASE WHEN r.type = 'survey' AND r.value_num IS NOT NULL"
            " AND (r.value_num < 0 OR r.value_num > 10 OR r.value_num <> trunc(r.value_num))"
            " THEN format('value %s is outside 0..10; a survey answer is a whole number"
            " from 0 to 10', r.value) END",
            "CASE WHEN r.type = 'case_resolved' AND r.value_num IS NOT NULL"
            " AND (r.value_num < 1 OR r.value_num <> trunc(r.value_num))"
            " THEN format('value %s is not a number of contacts (a whole number, 1 or more)',"
            " r.value) END",
            "CASE WHEN r.type IN ('acquisition_cost', 'claim_paid') AND r.value_num < 0"
            " THEN format('value %s is negative; an amount is 0 or more', r.value) END",
            "CASE WHEN r.type = 'stage_entered' AND r.stage = ''"
            " THEN 'stage is empty; a stage_entered event names the stage entered' END",
            "CASE WHEN r.type = 'stage_entered' AND r.customer = '' AND r.ref = ''"
            " THEN 'customer and ref are empty; a stage_entered event names its customer,"
            " or its ref (an application, a claim)' END",
            "CASE WHEN r.type IN ('renewal_due', 'renewed') AND r.ref = ''"
            " THEN format('ref is empty; a %s event names its contract in ref', r.type) END",
            "CASE WHEN r.type IN ('acquired', 'churned') AND r.customer = ''"
            " THEN format('customer is empty; a %s event names its customer', r.type) END",
        ),
        upsert=_keyed_upsert(
            "journeys_journeyevent",
            {
                "journey_id": "r.journey_id",
                "type": "r.type",
                "at": "r.at_ts",
                "customer": "r.customer",
                "ref": "r.ref",
                "value": "r.value_num",
                "stage_id": "r.stage_id",
                "touchpoint_id": "r.touchpoint_id",
            },
            subject="journey_id",
        ),
        subject="journey",
    ),
}


# --- Reading the input ---------------------------------------------------------------


def _header_order(
    header: list[str] | None, kind: _Kind, errors: list[tuple[int, str]]
) -> list[int] | None:
    """The position in ``header`` of each of ``kind.columns``; None (and an error) when
    the header is missing or not exactly the kind's columns in some order."""
    expected = ",".join(kind.columns)
    if header is None:
        errors.append((1, f"line 1: the file is empty; expected the header {expected}"))
        return None
    header = [name.strip().lstrip("\ufeff") for name in header]
    missing = [c for c in kind.columns if c not in header]
    unknown = [h for h in header if h not in kind.columns]
    if missing or unknown or len(set(header)) != len(header):
        problems = [f"missing {', '.join(missing)}"] if missing else []
        problems += [f"unknown {', '.join(unknown)}"] if unknown else []
        problems = problems or ["a column is named twice"]
        errors.append((1, f"line 1: header {'; '.join(problems)}; expected {expected}"))
        return None
    return [header.index(c) for c in kind.columns]


def events_header_check(*, kind: str, line: str) -> None:
    """Raise ``ImportRejected`` (``line 1: ...``) unless ``line``, the start of a CSV
    file, begins with the header of ``kind``: the upload page refuses such a file at
    once. The first line ends at the first LF, CRLF or bare CR (an old Mac file),
    as the import's CSV reader reads it.

    A header that is not one CSV line by itself (a quoted line break) is left
    to the import, which reads it whole.
    """
    line = LINE_END.split(line, maxsplit=1)[0]
    if line.count('"') % 2:
        return
    errors: list[tuple[int, str]] = []
    try:
        header = next(csv.reader([line]), None)
    except csv.Error as exc:
        raise ImportRejected([f"line 1: not valid CSV ({exc})"]) from exc
    if _header_order(header, KINDS[kind], errors) is None:
        raise ImportRejected([message for _, message in errors])


def _csv_rows(stream: Iterable[str], kind: _Kind, errors: list[tuple[int, str]]) -> Iterator:
    """(line, values in ``kind.columns`` order) per well-formed record; others to ``errors``."""
    reader = csv.reader(stream)
    expected = ",".join(kind.columns)
    try:
        header = next(reader, None)
        order = _header_order(header, kind, errors)
        if order is None:
            return
        last = reader.line_num
        for record in reader:
            # A record may span lines (a quoted newline): it starts after the previous one.
            line, last = last + 1, reader.line_num
            if not record:
                continue
            if len(record) != len(order):
                values = ngettext("%(n)d value", "%(n)d values", len(record)) % {"n": len(record)}
                reason = f"{values}; expected {len(order)} ({expected})"
                errors.append((line, f"line {line}: {reason}"))
                continue
            values = [record[i].strip(WHITESPACE) for i in order]
            if any("\x00" in v for v in values):
                errors.append((line, f"line {line}: contains a NUL character"))
                continue
            yield (line, *values)
    except csv.Error as exc:
        errors.append((reader.line_num, f"line {reader.line_num}: not valid CSV ({exc})"))


def _json_rows(rows: Iterable[Any], kind: _Kind, errors: list[tuple[int, str]]) -> Iterator:
    """(number, values in ``kind.columns`` order) per well-formed object, numbered from 1."""
    fields = ", ".join(kind.columns)
    for number, obj in enumerate(rows, start=1):
        if not isinstance(obj, Mapping):
            errors.append((number, f"item {number}: expected an object with the fields {fields}"))
            continue
        problems = [f"unknown field '{name}'" for name in obj if name not in kind.columns]
        values = []
        for name in kind.columns:
            value = obj.get(name)
            if name not in obj and name not in kind.optional:
                problems.append(f"missing field '{name}'")
            elif value is not None and not isinstance(value, str):
                problems.append(f"{name} must be a string, not {type(value).__name__}")
            elif value is not None and "\x00" in value:
                problems.append(f"{name} contains a NUL character")
            values.append((value or "").strip(WHITESPACE) if isinstance(value, str) else "")
        if problems:
            errors.extend((number, f"item {number}: {problem}") for problem in problems)
            continue
        yield (number, *values)


def _copy_rows(cursor: Any, kind: _Kind, rows: Iterator) -> None:
    """Stage records that Python has read, each with its line (or item) number."""
    staged = sql.SQL("COPY {} (line, {}) FROM STDIN").format(
        sql.Identifier(STAGE), sql.SQL(", ").join(map(sql.Identifier, kind.columns))
    )
    with cursor.copy(staged) as copy:
        for row in rows:
            copy.write_row(row)


def _copy_csv(cursor: Any, kind: _Kind, stream: Any, errors: list[tuple[int, str]]) -> bool:
    """Stage a CSV text stream as PostgreSQL's own CSV parser reads it: the fast path.

    The header is read here (the columns may come in any order); the rest goes to
    ``COPY ... (FORMAT csv)`` in large blocks, and each record is numbered by the
    staging table's identity, from line 2. Answers False, with the stream rewound
    and nothing staged, when the stream cannot be rewound or PostgreSQL refuses a
    record (a wrong number of values, a NUL, a broken quote, a blank line): the
    caller then reads the input with Python's csv module, which names every such line.
    """
    if not (hasattr(stream, "readline") and hasattr(stream, "seekable") and stream.seekable()):
        return False
    start = stream.tell()
    try:
        first = stream.readline()
        header = next(csv.reader([first]), None) if first else None
    except csv.Error:
        stream.seek(start)
        return False
    order = _header_order(header, kind, errors)
    if order is None:
        return True  # the header's error is the whole report, as on the slow path
    in_file_order = sorted(kind.columns, key=lambda c: order[kind.columns.index(c)])
    columns = sql.SQL(", ").join(map(sql.Identifier, in_file_order))
    staged = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, FORCE_NOT_NULL ({}))").format(
        sql.Identifier(STAGE), columns, columns
    )
    try:
        with transaction.atomic(), cursor.copy(staged) as copy:
            while block := stream.read(COPY_BLOCK):
                copy.write(block)
    except psycopg.errors.DataError:
        stream.seek(start)
        return False
    return True


class _LinesShifted(Exception):
    """Rows were rejected, and a record of the fast path spans lines: its line
    numbers are record numbers, so the input is read again by the slow path."""


# --- The service ---------------------------------------------------------------------


@transaction.atomic
def events_import(
    *,
    organization: Organization,
    kind: str,
    rows: TextIO | Iterable[str] | Iterable[Mapping[str, Any]],
    source: Source = "csv",
) -> ImportResult:
    """Upsert one kind of events (docs/formats.md#event-csvs) for the organization.

    ``rows`` is a text stream of CSV (``source="csv"``) or an iterable of
    objects with the same fields (``source="json"``). Raises ``ImportRejected``
    listing every bad row (``line N: ...``, or ``item N: ...`` for JSON, numbered
    from 1) and changes nothing; otherwise returns the counts.
    """
    if kind not in KINDS:
        raise ValidationError(f"kind '{kind}' is not one of {', '.join(KINDS)}")
    spec = KINDS[kind]
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # psycopg's own cursor, for COPY
        cursor.execute("SELECT set_config('work_mem', %s, true)", [WORK_MEM])
        try:
            result = _import(cursor, organization, spec, kind, rows, source, fast=source == "csv")
        except _LinesShifted:
            rows.seek(0)  # type: ignore[union-attr] - only a rewound stream takes the fast path
            result = _import(cursor, organization, spec, kind, rows, source, fast=False)
    if result.created or result.updated:
        # The snapshots are stale: one debounced recompute, queued on commit.
        from metrics.tasks import kpis_recompute_soon

        kpis_recompute_soon(organization=organization)
    return result


def _import(
    cursor: Any,
    organization: Organization,
    spec: _Kind,
    kind: str,
    rows: Any,
    source: Source,
    *,
    fast: bool,
) -> ImportResult:
    org = int(organization.pk)
    label = "line" if source == "csv" else "item"
    errors: list[tuple[int, str]] = []
    _create_temp_tables(cursor, spec)
    fast = fast and _copy_csv(cursor, spec, rows, errors)
    if not fast and not errors:
        read = _csv_rows if source == "csv" else _json_rows
        _copy_rows(cursor, spec, read(rows, spec, errors))
    # Records the reader refused are in ``errors`` already; the checks below add
    # the staged rows' problems, so that one report names every bad line.
    cursor.execute(f"ANALYZE {STAGE}")

    def resolve(*, safe: bool) -> None:
        source_sql = _source(spec, safe=safe)
        cursor.execute(
            f"CREATE TEMP TABLE {ROWS} ON COMMIT DROP AS SELECT s.*, "
            + spec.resolve.replace("{org}", str(org)).replace("{src}", source_sql)
        )

    try:
        # Casting every time at once is fast, but an impossible date (2026-02-30)
        # raises: then each one is cast on its own, which turns it into a bad row.
        with transaction.atomic():
            resolve(safe=False)
    except psycopg.errors.DataError:
        resolve(safe=True)

    checks = ", ".join(spec.checks)
    # Only a row with a reason is unnested into its reasons.
    bad_rows = (
        f"SELECT r.line, c.reason FROM (SELECT * FROM {ROWS} r WHERE num_nonnulls({checks}) > 0) r,"  # noqa: S608 - constants only
        f" unnest(ARRAY[{checks}]) WITH ORDINALITY AS c(reason, n)"
        " WHERE c.reason IS NOT NULL ORDER BY r.line, c.n"
    )
    cursor.execute(bad_rows)
    errors.extend((line, f"{label} {line}: {reason}") for line, reason in cursor)
    if errors:
        if fast and _spans_lines(cursor, spec):
            raise _LinesShifted
        errors.sort(key=lambda error: error[0])
        raise ImportRejected([message for _, message in errors])

    cursor.execute(f"SELECT count(*) FROM {ROWS}")  # noqa: S608
    total = cursor.fetchone()[0]
    cursor.execute(spec.upsert.replace("{org}", str(org)))
    created, updated, stream_ids = cursor.fetchone()
    if spec.has_facts:
        flow_item_facts_refresh_from(organization=organization, table=TOUCHED_ITEMS)
    cursor.execute(f"DROP TABLE {STAGE}, {ROWS}, {TOUCHED_ITEMS}")
    return ImportResult(
        kind=kind,
        created=created,
        updated=updated,
        unchanged=total - created - updated,
        value_stream_ids=frozenset(stream_ids) if spec.subject == "value_stream" else frozenset(),
        journey_ids=frozenset(stream_ids) if spec.subject == "journey" else frozenset(),
    )


def _spans_lines(cursor: Any, spec: _Kind) -> bool:
    """Whether a staged value holds a line break (a quoted one: the record spans lines)."""
    values = " OR ".join(
        f"strpos({_col(c)}, E'\\n') > 0 OR strpos({_col(c)}, E'\\r') > 0" for c in spec.columns
    )
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {STAGE} WHERE {values})")  # noqa: S608
    return bool(cursor.fetchone()[0])


def _create_temp_tables(cursor: Any, spec: _Kind) -> None:
    """Fresh TEMP tables: an earlier import in the same transaction may have left its own.

    The staging table numbers the fast path's records from 2 (line 1 is the header).
    """
    cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGE}, pg_temp.{ROWS}, pg_temp.{TOUCHED_ITEMS}")
    columns = ", ".join(f"{_col(name)} text NOT NULL" for name in spec.columns)
    cursor.execute(
        f"CREATE TEMP TABLE {STAGE} (line integer GENERATED BY DEFAULT AS IDENTITY (START WITH 2),"
        f" {columns}) ON COMMIT DROP"
    )
    cursor.execute(f"CREATE TEMP TABLE {TOUCHED_ITEMS} (id bigint PRIMARY KEY) ON COMMIT DROP")
