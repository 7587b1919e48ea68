"""The quarterly report as the CSV of docs/formats.md#the-quarterly-report-csv: one long
table, one row per subject and metric,
``section,subject_type,subject,metric,unit,value,previous_value,delta``.

- sections: ``flow`` and ``dora`` (value streams), ``journey``, ``okr``;
- a key result's subject is ``<objective slug>/<key result slug>``, since its slug is
  unique only within its objective;
- numbers are written as the ``kpis`` JSON writes them; an empty cell is null; OKR
  progress is in percent (0..100) and has no previous value.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from metrics.definitions import METRICS, Subject, keys_for
from metrics.engine import ROUND_DIGITS
from metrics.reports.data import progress_percent
from metrics.reports.escape import escape_formula

COLUMNS = (
    "section",
    "subject_type",
    "subject",
    "metric",
    "unit",
    "value",
    "previous_value",
    "delta",
)


def delta(value: Any, previous: Any) -> Any:
    """value - previous, rounded as the figures are; None when either is null."""
    if value is None or previous is None:
        return None
    return round(value - previous, ROUND_DIGITS)


def report_rows(data: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    """The CSV's rows (without the header) as Python values: None for null."""
    for vs in data["value_streams"]:
        for key in keys_for(Subject.VALUE_STREAM):
            section = METRICS[key].family.value
            now, before = vs["metrics"][key], vs["previous"][key]
            yield (
                section,
                "value_stream",
                vs["slug"],
                key,
                METRICS[key].unit,
                now,
                before,
                delta(now, before),
            )
    for j in data["journeys"]:
        for key in keys_for(Subject.JOURNEY):
            now, before = j["metrics"][key], j["previous"][key]
            yield (
                METRICS[key].family.value,
                "journey",
                j["slug"],
                key,
                METRICS[key].unit,
                now,
                before,
                delta(now, before),
            )
    for o in data["objectives"]:
        yield (
            "okr",
            "objective",
            o["slug"],
            "progress",
            "%",
            progress_percent(o["progress"]),
            None,
            None,
        )
        for kr in o["key_results"]:
            subject = f"{o['slug']}/{kr['slug']}"
            yield (
                "okr",
                "key_result",
                subject,
                "progress",
                "%",
                progress_percent(kr["progress"]),
                None,
                None,
            )
            yield ("okr", "key_result", subject, "current", kr["unit"], kr["current"], None, None)
            yield ("okr", "key_result", subject, "target", kr["unit"], kr["target"], None, None)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        raise TypeError(f"a report cell is a number or text, not {value!r}")
    if isinstance(value, int | float):
        # As the kpis JSON writes it: 232, 2.3034, -0.5 (never escaped).
        return json.dumps(value)
    return escape_formula(str(value))


def report_csv(data: dict[str, Any]) -> bytes:
    """The CSV file, UTF-8 without a byte order mark, CRLF line ends (RFC 4180)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in report_rows(data):
        writer.writerow([_cell(v) for v in row])
    return out.getvalue().encode()
