"""Reading fields of a delivery's JSON with errors that name the field and what was expected."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Field

from streams.models import FlowType
from streams.webhooks.apply import DeliveryRejected

_MISSING = object()
# How far ahead of the time a delivery is received its times may be (a sender's
# clock a little fast); beyond, a time is refused.
FUTURE_LIMIT = timedelta(days=1)
NUL = "\x00"
REPLACEMENT = "\ufffd"  # where a character that cannot be kept was


def field(
    payload: Any,
    path: str,
    kind: type | tuple[type, ...],
    *,
    required: bool = True,
    max_length: int | None = None,
) -> Any:
    """The value at a dotted ``path`` of the payload, checked to be of ``kind``.

    A missing (or null) optional field answers None; a missing required one, a
    value of the wrong kind, or a string over ``max_length`` (an identity, which
    cutting would change) rejects the delivery naming the path.
    """
    value = _at(payload, path, required=required, expected=_name(kind))
    if value is None:
        return None
    # JSON has no bool/int distinction worth trusting: true is not a number here.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int,))):
        raise DeliveryRejected(
            f"payload field '{path}' is {type(value).__name__}; expected {_name(kind)}"
        )
    if max_length is not None and isinstance(value, str) and len(value) > max_length:
        raise DeliveryRejected(
            f"payload field '{path}' is {len(value)} characters long; expected at most {max_length}"
        )
    return value


def integer_field(payload: Any, path: str, column: Field, *, minimum: int | None = None) -> int:
    """The integer at ``path`` (required), within the range of ``column``, the
    model field it is stored in, and at least ``minimum``.

    A number past the column's range would fail the insert (a 500, "integer out
    of range"); a float, a bool or a string is not an integer. Each rejects the
    delivery naming the path and the range.
    """
    low, high = connection.ops.integer_field_range(column.get_internal_type())
    low = low if minimum is None else max(low, minimum)
    expected = f"an integer from {low} to {high}"
    value = _at(payload, path, required=True, expected=expected)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DeliveryRejected(
            f"payload field '{path}' is {type(value).__name__}; expected {expected}"
        )
    if not low <= value <= high:
        digits = str(value)
        # A number may have thousands of digits: the message is one line.
        shown = digits if len(digits) <= 40 else f"a number of {len(digits.lstrip('-'))} digits"
        raise DeliveryRejected(f"payload field '{path}' is {shown}; expected {expected}")
    return value


def _at(payload: Any, path: str, *, required: bool, expected: str) -> Any:
    """The value at a dotted ``path``; None when it is missing (or null) and not
    ``required``, else rejecting the delivery naming the path."""
    value: Any = payload
    for part in path.split("."):
        value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING or value is None:
            if required:
                raise DeliveryRejected(f"payload field '{path}' is missing; expected {expected}")
            return None
    return value


def text_fit(value: str, path: str, limit: int, adjusted: list[str]) -> str:
    """``value`` cut to ``limit`` characters, a column's length, saying so in
    ``adjusted``: a tool's long title is kept as far as it fits rather than
    refused (every later delivery of the issue would be refused too)."""
    if len(value) <= limit:
        return value
    adjusted.append(f"{path} cut to {limit} characters (it had {len(value)})")
    return value[:limit]


def nul_replace(payload: Any) -> tuple[Any, list[str]]:
    """The payload with each NUL character of its strings (keys too) replaced by
    U+FFFD, and where they were (``issue.title``), in the payload's order.

    PostgreSQL text cannot hold NUL. A file someone uploads is refused for one
    (they can fix it); a tool's issue titled with one would be refused on every
    delivery, so a delivery keeps its text, cleaned. Walked with a stack, not
    recursion: a payload may nest as deeply as the JSON parser goes.
    """
    found: list[str] = []
    root = [payload]
    stack: list[tuple[Any, Any, str]] = [(root, 0, "")]
    while stack:
        parent, key, path = stack.pop()
        value = parent[key]
        if isinstance(value, str):
            if NUL in value:
                parent[key] = value.replace(NUL, REPLACEMENT)
                found.append(path or "the body")
        elif isinstance(value, dict):
            if any(NUL in name for name in value):
                found.append(f"a key of {path or 'the body'}")
                value = {name.replace(NUL, REPLACEMENT): item for name, item in value.items()}
                parent[key] = value
            stack.extend(
                (value, name, f"{path}.{name}" if path else name) for name in reversed(value)
            )
        elif isinstance(value, list):
            stack.extend((value, i, f"{path}[{i}]") for i in reversed(range(len(value))))
    return root[0], found


def _name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", dict: "an object", list: "a list", bool: "a bool"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def time_field(payload: Any, path: str, *, now: datetime, required: bool = True) -> datetime | None:
    """An ISO 8601 time with a UTC offset (GitHub: ``2019-05-15T15:20:18Z``; Jira:
    ``2026-07-01T09:30:00.000+0000``), at most ``FUTURE_LIMIT`` after ``now``."""
    raw = field(payload, path, str, required=required)
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw)
        at = at.astimezone(UTC) if at.tzinfo is not None else None
    except (ValueError, OverflowError):  # not a time; or in UTC, outside years 1 to 9999
        at = None
    if at is None:
        raise DeliveryRejected(
            f"payload field '{path}' is '{raw[:40]}'; expected an ISO 8601 time with a UTC "
            "offset, e.g. 2026-07-01T09:30:00Z"
        )
    return _not_ahead(at, path, now)


def epoch_ms_field(payload: Any, path: str, *, now: datetime) -> datetime:
    """A time in milliseconds since the epoch (Jira's ``timestamp``), at most
    ``FUTURE_LIMIT`` after ``now``."""
    value = field(payload, path, int)
    try:
        at = datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise DeliveryRejected(
            f"payload field '{path}' is {value}; expected milliseconds since 1970-01-01"
        ) from exc
    return _not_ahead(at, path, now)


def _not_ahead(at: datetime, path: str, now: datetime) -> datetime:
    """Refuse a time from the future. Items keep the version with the latest
    ``updated_at``: one dated 9999 would win over every real delivery after it,
    and a transition or a deployment there would count in no period (or in all)."""
    if at > now + FUTURE_LIMIT:
        raise DeliveryRejected(
            f"payload field '{path}' is {at.isoformat()}, more than a day after the time it "
            f"was received ({now.astimezone(UTC).isoformat(timespec='seconds')}); check the "
            "sender's clock"
        )
    return at


# Words of a label or an issue type, and the flow item type they make
# (docs/metrics.md#flow-items-and-transitions). Checked in this order: a "security bug" is a risk.
FLOW_TYPE_WORDS: tuple[tuple[str, frozenset[str]], ...] = (
    (FlowType.RISK, frozenset({"security", "vulnerability", "risk", "compliance", "cve"})),
    (FlowType.DEFECT, frozenset({"bug", "defect", "incident", "regression"})),
    (FlowType.DEBT, frozenset({"debt", "refactor", "refactoring", "techdebt"})),
)


def flow_type(names: list[str]) -> str:
    """The flow item type of a work item from its labels and issue type: risk,
    defect or debt when a word of one names it, else feature."""
    words = {w for name in names for w in re.split(r"[^a-z0-9]+", name.lower()) if w}
    for flow, vocabulary in FLOW_TYPE_WORDS:
        if words & vocabulary:
            return flow
    return FlowType.FEATURE
