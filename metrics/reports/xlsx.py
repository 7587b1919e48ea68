"""The quarterly report as an Excel workbook (XlsxWriter): a sheet per section.

Sheets: Summary (who, what, when, and the headline figures), Flow, DORA, Journeys,
OKRs, Weekly series (each value stream's weekly flow) and Weekly NPS. Each table has
one frozen header row, an autofilter and column widths fit for its content. Numbers
are numbers with a format for their unit; percentages keep the report's 0..100 scale
with the format ``0.0 %`` (never Excel's ``%``, which would multiply them by 100).
Every text cell is escaped against formula injection (``metrics.reports.escape``) and
written as text, never as a formula.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from metrics.definitions import DORA_KEYS, FLOW_KEYS, FLOW_TYPES, METRICS, Subject, keys_for
from metrics.reports.csv import delta
from metrics.reports.data import SUMMARY_STREAM_KEYS, progress_percent, report_local_time
from metrics.reports.escape import escape_formula
from portfolio.okrs import Status

# Number formats by unit (metrics.definitions), on the report's own scale.
PERCENT = '0.0" %"'
POINTS = '0.0" pts"'  # a difference of two percentages
UNIT_FORMATS = {
    "items": "#,##0",
    "%": PERCENT,
    "days": "0.0",
    "hours": "0.0",
    "per day": "0.00",
    "score": "0",
    "amount": "#,##0.00",
}
# Keys whose values are not whole numbers although their unit usually is.
KEY_FORMATS = {"flow_load_avg": "#,##0.0"}
# The weekly flow time columns: the period's metrics, week by week.
WEEKLY_FLOW_TIME_KEYS = ("flow_time_median_days", "flow_time_p85_days")
OTHER_FORMAT = "#,##0.0#"  # a key result's own unit, whatever it is
DATE = "yyyy-mm-dd"
DATETIME = "yyyy-mm-dd hh:mm"
HEADER_BG = "#16213e"
MAX_WIDTH = 60


def _signed(pattern: str) -> str:
    """A change's format: the sign always shown."""
    return f"+{pattern};-{pattern};{pattern}"


class _Book:
    """The workbook and its formats, made once and shared by every sheet."""

    def __init__(self, workbook: Workbook) -> None:
        self.workbook = workbook
        self._formats: dict[tuple[str, bool], Format] = {}
        self.header = workbook.add_format(
            {"bold": True, "font_color": "#ffffff", "bg_color": HEADER_BG, "valign": "top"}
        )
        self.header_wrap = workbook.add_format(
            {
                "bold": True,
                "font_color": "#ffffff",
                "bg_color": HEADER_BG,
                "valign": "top",
                "text_wrap": True,
            }
        )
        self.title = workbook.add_format({"bold": True, "font_size": 14})
        self.label = workbook.add_format({"bold": True, "font_color": "#667085"})
        self.bold = workbook.add_format({"bold": True})
        self.date = workbook.add_format({"num_format": DATE, "align": "left"})
        self.datetime = workbook.add_format({"num_format": DATETIME, "align": "left"})
        self.indents = [workbook.add_format({"indent": n}) for n in range(6)]
        self.bold_indents = [workbook.add_format({"indent": n, "bold": True}) for n in range(6)]

    def number(self, pattern: str, *, signed: bool = False) -> Format:
        key = (pattern, signed)
        if key not in self._formats:
            self._formats[key] = self.workbook.add_format(
                {"num_format": _signed(pattern) if signed else pattern}
            )
        return self._formats[key]

    def metric(self, key: str, *, signed: bool = False) -> Format:
        pattern = KEY_FORMATS.get(key) or UNIT_FORMATS.get(METRICS[key].unit, OTHER_FORMAT)
        return self.number(pattern, signed=signed)


class _Table:
    """One sheet holding one table: a header row (frozen, filtered) and rows below it,
    starting at ``first_row``; tracks each column's width."""

    def __init__(
        self, book: _Book, name: str, headers: Sequence[str], *, first_row: int = 0
    ) -> None:
        self.book = book
        self.sheet: Worksheet = book.workbook.add_worksheet(name)
        self.headers = list(headers)
        self.first_row = first_row
        self.row = first_row
        self.widths = [len(h) + 2 for h in self.headers]
        for col, text in enumerate(self.headers):
            self.sheet.write_string(self.row, col, text, book.header)
        self.row += 1

    def write(self, col: int, value: Any, fmt: Format | None = None) -> None:
        write(self.sheet, self.row, col, value, fmt)
        self.widths[col] = max(self.widths[col], _width(value))

    def next_row(self) -> None:
        self.row += 1

    def finish(self, *, freeze_columns: int = 1) -> None:
        last = max(self.row - 1, self.first_row)
        self.sheet.autofilter(self.first_row, 0, last, len(self.headers) - 1)
        self.sheet.freeze_panes(self.first_row + 1, freeze_columns)
        for col, width in enumerate(self.widths):
            self.sheet.set_column(col, col, min(width, MAX_WIDTH))


def _width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, dt.datetime):
        return 17
    if isinstance(value, dt.date):
        return 12
    if isinstance(value, float):
        return len(f"{value:,.2f}") + 2
    return len(str(value)) + 2


def write(sheet: Worksheet, row: int, col: int, value: Any, fmt: Format | None = None) -> None:
    """Write one cell by its Python type: a number as a number, text escaped and as
    text (never a formula), a date as a date, None as an empty cell."""
    if value is None:
        sheet.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        raise TypeError(f"a report cell is a number, a date or text, not {value!r}")
    elif isinstance(value, int | float):
        sheet.write_number(row, col, value, fmt)
    elif isinstance(value, dt.datetime | dt.date):
        sheet.write_datetime(row, col, value, fmt)
    else:
        sheet.write_string(row, col, escape_formula(str(value)), fmt)


def _local(data: dict[str, Any], iso: str) -> dt.datetime:
    """An instant of the data as a naive local time of the organization (Excel has no zones)."""
    return report_local_time(data, iso).replace(tzinfo=None)


def _date(iso: str) -> dt.date:
    return dt.date.fromisoformat(iso)


def _quarter_label(data: dict[str, Any]) -> str:
    return f"{data['quarter']} to date" if data["in_progress"] else data["quarter"]


def _summary(book: _Book, data: dict[str, Any]) -> None:
    sheet = book.workbook.add_worksheet("Summary")
    org = data["organization"]
    sheet.write_string(0, 0, escape_formula(f"{org['name']}: quarterly report"), book.title)
    period, previous = data["period"], data["previous"]
    stamped = "Computed" if data["in_progress"] else "Frozen"
    stamp: list[tuple[str, Any, Format | None]] = [
        ("Organization", f"{org['name']} ({org['slug']})", None),
        ("Quarter", _quarter_label(data), None),
        ("From", _date(period["from"]), book.date),
        ("To", _date(period["to"]), book.date),
        ("Compared with", previous["quarter"], None),
        ("Compared from", _date(previous["from"]), book.date),
        ("Compared to", _date(previous["to"]), book.date),
        # A quarter in progress is computed to date, never frozen (as the PDF says).
        (f"{stamped} at ({org['time_zone']})", _local(data, data["frozen_at"]), book.datetime),
        (f"{stamped} by", data["frozen_by"] or "the system", None),
        ("Definitions version", data["definitions_version"], None),
        ("DORA report year", data["dora_report_year"], book.number("0")),
    ]
    stamp.append(
        (
            "Changes",
            "Differences: the quarter's value minus the previous quarter's, in the metric's "
            "unit (percentages in points). The PDF's are relative, in percent.",
            None,
        )
    )
    if data["in_progress"]:
        stamp.append(
            ("Note", "The quarter was still in progress: figures run to the 'To' date.", None)
        )
    for n, (label, value, fmt) in enumerate(stamp, start=2):
        sheet.write_string(n, 0, label, book.label)
        write(sheet, n, 1, value, fmt)

    row = len(stamp) + 3
    headline = SUMMARY_STREAM_KEYS
    sheet.write_string(row, 0, "Value streams", book.bold)
    row += 1
    headers = ["Value stream"]
    for key in headline:
        headers += [_header(key, data["quarter"]), _header(key, previous["quarter"])]
    for col, text in enumerate(headers):
        sheet.write_string(row, col, text, book.header_wrap)
    sheet.set_row(row, 48)
    for vs in data["value_streams"]:
        row += 1
        write(sheet, row, 0, vs["name"], book.indents[min(vs["depth"], 5)])
        for n, key in enumerate(headline):
            write(sheet, row, 1 + 2 * n, vs["metrics"][key], book.metric(key))
            write(sheet, row, 2 + 2 * n, vs["previous"][key], book.metric(key))

    row += 2
    sheet.write_string(row, 0, "Objectives", book.bold)
    row += 1
    for col, text in enumerate(["Objective", "Status", "Progress"]):
        sheet.write_string(row, col, text, book.header)
    for o in data["objectives"]:
        row += 1
        write(sheet, row, 0, o["title"], book.indents[min(o["depth"], 5)])
        write(sheet, row, 1, Status(o["status"]).label)
        write(sheet, row, 2, progress_percent(o["progress"]), book.number(PERCENT))
    names = [vs["name"] for vs in data["value_streams"]] + [o["title"] for o in data["objectives"]]
    sheet.set_column(0, 0, min(max([24, *(len(n) + 4 for n in names)]), MAX_WIDTH))
    sheet.set_column(1, len(headers) - 1, 15)


def _unit_header(key: str) -> str:
    metric = METRICS[key]
    return f"{metric.label} ({metric.unit})"


def _header(key: str, quarter: str) -> str:
    return f"{_unit_header(key)}, {quarter}"


def _change_header(data: dict[str, Any]) -> str:
    """The change column's header, which says it is a difference (the PDF's are
    relative): ``Change (2026-Q3 minus 2026-Q2)``."""
    return f"Change ({data['quarter']} minus {data['previous']['quarter']})"


def _metric_table(
    book: _Book,
    name: str,
    subjects: list[dict[str, Any]],
    keys: list[str],
    data: dict[str, Any],
    *,
    subject_header: str,
    with_bands: bool = False,
) -> None:
    headers = [subject_header, "Slug", "Metric", "Key", "Unit"]
    headers += [data["quarter"], data["previous"]["quarter"], _change_header(data)]
    if with_bands:
        headers += [f"Band ({data['quarter']})", f"Band ({data['previous']['quarter']})", "Meaning"]
    table = _Table(book, name, headers)
    for subject in subjects:
        for key in keys:
            now, before = subject["metrics"][key], subject["previous"][key]
            # A difference of percentages is in points: "+10.0 %" would read as relative.
            difference = (
                book.number(POINTS, signed=True)
                if METRICS[key].unit == "%"
                else book.metric(key, signed=True)
            )
            table.write(0, subject["name"])
            table.write(1, subject["slug"])
            table.write(2, METRICS[key].label)
            table.write(3, key)
            table.write(4, METRICS[key].unit)
            table.write(5, now, book.metric(key))
            table.write(6, before, book.metric(key))
            table.write(7, delta(now, before), difference)
            if with_bands:
                band, previous_band = subject["bands"][key], subject["previous_bands"][key]
                table.write(8, band["band"] if band else None)
                table.write(9, previous_band["band"] if previous_band else None)
                table.write(10, band["text"] if band else None)
            table.next_row()
    table.finish()


def _okrs(book: _Book, data: dict[str, Any]) -> None:
    headers = [
        "Objective",
        "Key result",
        "Slug",
        "Owner",
        "Status",
        "Progress",
        "Baseline",
        "Current",
        "Target",
        "Unit",
        "Weight",
        "Linked metric",
        "Current as of",
    ]
    table = _Table(book, "OKRs", headers)
    for o in data["objectives"]:
        depth = min(o["depth"], 5)
        table.write(0, o["title"], book.bold_indents[depth])
        table.write(2, o["slug"])
        table.write(3, o["owner_email"] or None)
        table.write(4, Status(o["status"]).label)
        table.write(5, progress_percent(o["progress"]), book.number(PERCENT))
        table.next_row()
        for kr in o["key_results"]:
            unit = book.number(UNIT_FORMATS.get(kr["unit"], OTHER_FORMAT))
            table.write(0, o["title"], book.indents[depth])
            table.write(1, kr["title"])
            table.write(2, f"{o['slug']}/{kr['slug']}")
            table.write(4, Status(kr["status"]).label)
            table.write(5, progress_percent(kr["progress"]), book.number(PERCENT))
            table.write(6, kr["baseline"], unit)
            table.write(7, kr["current"], unit)
            table.write(8, kr["target"], unit)
            table.write(9, kr["unit"] or None)
            table.write(10, kr["weight"], book.number("0.0#"))
            metric = kr["metric"]
            if metric:
                table.write(11, f"{metric['subject_name']}: {METRICS[metric['key']].label}")
            if kr["current_as_of"]:
                table.write(12, _local(data, kr["current_as_of"]), book.datetime)
            table.next_row()
    table.finish()


def _weekly_flow(book: _Book, data: dict[str, Any]) -> None:
    headers = ["Value stream", "Slug", "Week (Monday)", *(t.capitalize() for t in FLOW_TYPES)]
    headers += ["Items done", *(_unit_header(k) for k in WEEKLY_FLOW_TIME_KEYS)]
    table = _Table(book, "Weekly series", headers)
    whole, days = book.number("#,##0"), book.number("0.0")
    for vs in data["value_streams"]:
        s = vs["series"]
        for n, week in enumerate(s["weeks"]):
            table.write(0, vs["name"])
            table.write(1, vs["slug"])
            table.write(2, _date(week), book.date)
            counts = [s["velocity"][t][n] for t in FLOW_TYPES]
            for col, count in enumerate(counts, start=3):
                table.write(col, count, whole)
            table.write(7, sum(counts), whole)
            table.write(8, s["median_days"][n], days)
            table.write(9, s["p85_days"][n], days)
            table.next_row()
    table.finish()


def _weekly_nps(book: _Book, data: dict[str, Any]) -> None:
    nps = METRICS["nps"].short_label
    table = _Table(book, "Weekly NPS", ["Journey", "Slug", "Week (Monday)", nps, "Responses"])
    for j in data["journeys"]:
        weekly = j["weekly_nps"]
        for n, week in enumerate(weekly["weeks"]):
            table.write(0, j["name"])
            table.write(1, j["slug"])
            table.write(2, _date(week), book.date)
            table.write(3, weekly["nps"][n], book.number("0.0"))
            table.write(4, weekly["responses"][n], book.number("#,##0"))
            table.next_row()
    table.finish()


def report_xlsx(data: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    # No string is ever turned into a formula, a number or a URL behind our back.
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    org = data["organization"]
    workbook.set_properties(
        {
            "title": f"{org['name']}: quarterly report {data['quarter']}",
            "subject": f"Definitions {data['definitions_version']}, "
            f"DORA report {data['dora_report_year']}",
            "company": org["name"],
            "created": dt.datetime.fromisoformat(data["frozen_at"]),
        }
    )
    book = _Book(workbook)
    _summary(book, data)
    _metric_table(
        book, "Flow", data["value_streams"], FLOW_KEYS, data, subject_header="Value stream"
    )
    _metric_table(
        book,
        "DORA",
        data["value_streams"],
        DORA_KEYS,
        data,
        subject_header="Value stream",
        with_bands=True,
    )
    _metric_table(
        book,
        "Journeys",
        data["journeys"],
        keys_for(Subject.JOURNEY),
        data,
        subject_header="Journey",
    )
    _okrs(book, data)
    _weekly_flow(book, data)
    _weekly_nps(book, data)
    workbook.close()
    return buffer.getvalue()
