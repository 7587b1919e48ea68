"""The quarterly report (docs/metrics.md#the-quarterly-report): its figures, frozen, and the
CSV, XLSX and PDF drawn from them, through ``manage.py export_report`` as a user runs it.

The history and its worked-out figures are in tests/metrics/report_history.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from io import BytesIO, StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.template.loader import render_to_string
from openpyxl import load_workbook
from pypdf import PdfReader

from metrics import charts
from metrics.definitions import DEFINITIONS_VERSION, FLOW_TYPES, Subject, keys_for
from metrics.models import QuarterlyReport
from metrics.reports.csv import COLUMNS
from metrics.reports.data import SUMMARY_STREAM_KEYS, quarterly_report_freeze, report_period
from metrics.reports.escape import escape_formula
from metrics.reports.pdf import report_context, report_pdf
from metrics.series import CFD_STATES
from portfolio.models import KeyResult, Objective, Organization
from portfolio.okrs import check_in_create
from portfolio.services import key_result_save, objective_save
from portfolio.tenancy import organization_context
from streams.models import ValueStream
from streams.services import value_stream_save
from tests.metrics.report_history import Q2, Q3, add_late_item, build_history

pytestmark = pytest.mark.django_db

VS_KEYS = keys_for(Subject.VALUE_STREAM)
JOURNEY_KEYS = keys_for(Subject.JOURNEY)


@pytest.fixture
def history(tenant_a):
    return build_history(tenant_a.org)


def export(tmp_path: Path, fmt: str, *extra: str, quarter: str = "2026-Q3") -> Path:
    path = tmp_path / f"report-{len(list(tmp_path.iterdir()))}.{fmt}"
    args = ["--org", "org-a", "--quarter", quarter, "--format", fmt, "-o", str(path), *extra]
    call_command("export_report", *args, stdout=StringIO())
    return path


def kpis(dates: tuple[str, str]) -> dict:
    out = StringIO()
    call_command("kpis", "--org", "org-a", "--from", dates[0], "--to", dates[1], stdout=out)
    return json.loads(out.getvalue())


def number(text: str) -> int | float | None:
    return None if text == "" else json.loads(text)


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == COLUMNS
        return list(reader)


# --- CSV ----------------------------------------------------------------------------------


def test_the_csv_equals_the_kpis_of_the_quarter_and_the_previous_one(tmp_path, history):
    rows = csv_rows(export(tmp_path, "csv"))
    now, before = kpis(Q3), kpis(Q2)
    found = {(r["subject_type"], r["subject"], r["metric"]): r for r in rows}
    assert len(found) == len(rows), "one row per subject and metric"
    for subject_type, group, keys in (
        ("value_stream", "value_streams", VS_KEYS),
        ("journey", "journeys", JOURNEY_KEYS),
    ):
        for slug, values in now[group].items():
            for key in keys:
                row = found[(subject_type, slug, key)]
                value, previous = number(row["value"]), number(row["previous_value"])
                assert value == values[key], (slug, key)
                assert previous == before[group][slug][key], (slug, key)
                if value is None or previous is None:
                    assert row["delta"] == ""
                else:
                    assert number(row["delta"]) == pytest.approx(value - previous, abs=1e-4)
    # Worked out in report_history: claims did 2 items in Q3 and 1 in Q2.
    velocity = found[("value_stream", "claims", "flow_velocity")]
    assert (velocity["section"], velocity["unit"], velocity["value"]) == ("flow", "items", "2")
    assert (velocity["previous_value"], velocity["delta"]) == ("1", "1")
    cfr = found[("value_stream", "claims", "change_failure_rate")]
    assert (cfr["section"], cfr["unit"], cfr["value"], cfr["previous_value"]) == (
        "dora",
        "%",
        "50.0",
        "0.0",
    )
    nps = found[("journey", "claim", "nps")]
    assert (nps["value"], nps["previous_value"], nps["delta"]) == ("33.3333", "100.0", "-66.6667")


def test_the_csv_has_the_okrs_with_progress_in_percent(tmp_path, history):
    rows = csv_rows(export(tmp_path, "csv"))
    okr = [
        (r["subject_type"], r["subject"], r["metric"], r["unit"], r["value"])
        for r in rows
        if r["section"] == "okr"
    ]
    assert okr == [
        # 7/12 = 58.3333 %; parents before the objectives aligned to them.
        ("objective", "faster", "progress", "%", "58.3333"),
        ("key_result", "faster/flow-time", "progress", "%", "66.6667"),
        ("key_result", "faster/flow-time", "current", "days", "2.0"),
        ("key_result", "faster/flow-time", "target", "days", "1.0"),
        ("key_result", "faster/trained", "progress", "%", "50.0"),
        ("key_result", "faster/trained", "current", "people", "5.0"),
        ("key_result", "faster/trained", "target", "people", "10.0"),
        # No key results: no progress (null), not 0.
        ("objective", "safely", "progress", "%", ""),
    ]
    assert all(r["previous_value"] == r["delta"] == "" for r in rows if r["section"] == "okr")


def test_key_results_at_the_ends_of_the_range_export_in_every_format(tmp_path, tenant_a, history):
    """Numbers up to 10^15 either way, and a target a hair from its baseline, give
    progress (clamped) in every format; PostgreSQL's overflow used to stop the report."""
    org = tenant_a.org
    with organization_context(org.pk):
        for slug, baseline, target, current in (
            ("wide", -1e15, 1e15, 1e15),
            ("hair", 0, 1e-308, 1e15),
        ):
            kr = key_result_save(
                organization=org,
                key_result=KeyResult(
                    objective=history["safely"],
                    slug=slug,
                    title=slug.title(),
                    baseline=baseline,
                    target=target,
                    weight=1e15,
                ),
            )
            check_in_create(organization=org, key_result=kr, value=current)
    rows = csv_rows(export(tmp_path, "csv"))
    progress = {r["subject"]: r["value"] for r in rows if r["metric"] == "progress"}
    assert (progress["safely"], progress["safely/wide"], progress["safely/hair"]) == (
        "100.0",
        "100.0",
        "100.0",
    )
    assert load_workbook(export(tmp_path, "xlsx", "--recompute"))
    assert "Ship safely" in pdf_text(export(tmp_path, "pdf", "--recompute"))


# --- Freezing -----------------------------------------------------------------------------


def test_an_exported_quarter_is_frozen_until_an_admin_recomputes_it(tmp_path, tenant_a, history):
    first = export(tmp_path, "csv").read_bytes()
    add_late_item(tenant_a.org, history["claims"])
    # The kpis see the late item at once; the frozen report does not.
    assert kpis(Q3)["value_streams"]["claims"]["flow_velocity"] == 3
    assert export(tmp_path, "csv").read_bytes() == first
    recomputed = csv_rows(export(tmp_path, "csv", "--recompute"))
    velocity = next(
        r for r in recomputed if (r["subject"], r["metric"]) == ("claims", "flow_velocity")
    )
    assert velocity["value"] == "3"
    # The recomputed figures are the frozen ones from now on.
    assert csv_rows(export(tmp_path, "csv")) == recomputed


def test_the_report_states_when_its_figures_were_frozen(tmp_path, tenant_a, history):
    export(tmp_path, "csv")
    with organization_context(tenant_a.org.pk):
        report = QuarterlyReport.objects.get(organization=tenant_a.org, quarter="2026-Q3")
    assert not report.in_progress
    assert report.data["frozen_at"] == report.frozen_at.isoformat()
    text = pdf_text(export(tmp_path, "pdf"))
    assert f"frozen {report.frozen_at:%-d %B %Y, %H:%M} (UTC)" in text
    summary = load_workbook(export(tmp_path, "xlsx"))["Summary"]
    stamp = {row[0].value: row[1].value for row in summary.iter_rows(min_row=3, max_row=14)}
    # Excel keeps times to the millisecond.
    frozen = report.frozen_at.replace(tzinfo=None)
    assert abs(stamp["Frozen at (UTC)"] - frozen) < dt.timedelta(milliseconds=1)


@pytest.mark.parametrize(
    ("zone", "local"),
    [
        # 18:13 UTC on 7 December is 05:13 the next day in Sydney (UTC+11 in summer)
        # and 19:13 in Stockholm (UTC+1 in winter).
        ("Australia/Sydney", ("8 December 2026", "05:13")),
        ("Europe/Stockholm", ("7 December 2026", "19:13")),
    ],
)
def test_the_pdf_prints_every_time_in_the_organizations_time_zone(tenant_a, history, zone, local):
    org = tenant_a.org
    with organization_context(org.pk):
        Organization.objects.filter(pk=org.pk).update(time_zone=zone)
        org.refresh_from_db()
        frozen_at = dt.datetime(2026, 12, 7, 18, 13, tzinfo=dt.UTC)
        report = quarterly_report_freeze(organization=org, quarter="2026-Q3", now=frozen_at)
    # Rendered as the worker renders it: no request, so no time zone activated.
    reader = PdfReader(BytesIO(report_pdf(report.data)))
    text = "\n".join(page.extract_text() for page in reader.pages)
    day, time = local
    assert f"frozen {day}, {time} ({zone})" in text  # the cover
    assert f"figures frozen {day}, {time}" in reader.pages[2].extract_text()  # a footer
    assert f"computed on {day} at {time} ({zone})" in text  # "About these figures"
    assert "18:13" not in text
    assert time in reader.metadata["/Subject"]


def test_a_quarter_in_progress_is_reported_to_date_and_not_frozen(tenant_a, history):
    org = tenant_a.org
    mid_q3 = dt.datetime(2026, 8, 15, 12, tzinfo=dt.UTC)
    period = report_period(organization=org, quarter="2026-Q3", now=mid_q3)
    # 07-01 .. 08-15 is 46 days; against the first 46 days of Q2, 04-01 .. 05-16.
    assert period.in_progress
    assert (period.date_from, period.date_to) == (dt.date(2026, 7, 1), dt.date(2026, 8, 15))
    assert (period.previous_from, period.previous_to) == (dt.date(2026, 4, 1), dt.date(2026, 5, 16))
    with organization_context(org.pk):
        first = quarterly_report_freeze(organization=org, quarter="2026-Q3", now=mid_q3)
        assert first.in_progress and first.data["period"] == {
            "from": "2026-07-01",
            "to": "2026-08-15",
        }
        later = mid_q3 + dt.timedelta(days=10)
        again = quarterly_report_freeze(organization=org, quarter="2026-Q3", now=later)
        # Computed again (to the new today), as every export of a quarter in progress is.
        assert again.pk == first.pk and again.frozen_at == later
        assert again.data["period"]["to"] == "2026-08-25"


@pytest.mark.parametrize(
    ("quarter", "message"),
    [
        ("2026-Q5", "'2026-Q5' is not a quarter such as 2026-Q3."),
        ("2026Q3", "'2026Q3' is not a quarter such as 2026-Q3."),
        ("2999-Q1", "2999-Q1 has not started yet (it starts on 2999-01-01)"),
    ],
)
def test_the_command_refuses_a_bad_or_future_quarter_and_writes_nothing(
    tmp_path, history, quarter, message
):
    with pytest.raises(CommandError, match=f"^--quarter: {re.escape(message)}"):
        export(tmp_path, "csv", quarter=quarter)
    assert list(tmp_path.iterdir()) == []
    assert not QuarterlyReport.objects.filter(quarter=quarter).exists()


def test_the_command_refuses_an_unknown_format_and_a_missing_folder(tmp_path, history):
    with pytest.raises(CommandError, match="argument --format: invalid choice: 'docx'"):
        call_command(
            "export_report",
            "--org",
            "org-a",
            "--quarter",
            "2026-Q3",
            "--format",
            "docx",
            "-o",
            str(tmp_path / "r.docx"),
        )
    with pytest.raises(CommandError, match=r"^-o: the folder .*/nowhere does not exist$"):
        call_command(
            "export_report",
            "--org",
            "org-a",
            "--quarter",
            "2026-Q3",
            "--format",
            "csv",
            "-o",
            str(tmp_path / "nowhere" / "r.csv"),
        )
    with pytest.raises(CommandError, match="no organization has the slug 'nope'"):
        call_command(
            "export_report",
            "--org",
            "nope",
            "--quarter",
            "2026-Q3",
            "--format",
            "csv",
            "-o",
            str(tmp_path / "r.csv"),
        )
    assert list(tmp_path.iterdir()) == []


# --- XLSX ---------------------------------------------------------------------------------

CHANGE = "Change (2026-Q3 minus 2026-Q2)"
SHEETS = ["Summary", "Flow", "DORA", "Journeys", "OKRs", "Weekly series", "Weekly NPS"]


def rows_of(sheet) -> list[dict]:
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, (c for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]


def test_the_workbook_has_a_sheet_per_section_with_numbers_as_numbers(tmp_path, history):
    book = load_workbook(export(tmp_path, "xlsx"))
    assert book.sheetnames == SHEETS
    now, before = kpis(Q3), kpis(Q2)
    flow = rows_of(book["Flow"])
    assert book["Flow"].freeze_panes == "B2"
    assert book["Flow"].auto_filter.ref.startswith("A1:")
    assert len(flow) == 2 * len([k for k in VS_KEYS if k.startswith("flow_")])
    for row in flow:
        slug, key = row["Slug"].value, row["Key"].value
        assert row["2026-Q3"].value == now["value_streams"][slug][key]
        assert row["2026-Q2"].value == before["value_streams"][slug][key]
        for cell in (row["2026-Q3"], row["2026-Q2"], row[CHANGE]):
            assert cell.value is None or cell.data_type == "n"
    efficiency = next(
        r for r in flow if (r["Slug"].value, r["Key"].value) == ("claims", "flow_efficiency")
    )
    assert efficiency["2026-Q3"].number_format == '0.0" %"'
    dora = rows_of(book["DORA"])
    cfr = next(
        r for r in dora if (r["Slug"].value, r["Key"].value) == ("claims", "change_failure_rate")
    )
    # 50 % of deployments failed: low in the 2023 report; 0 % in Q2: elite.
    assert (cfr["2026-Q3"].value, cfr["Band (2026-Q3)"].value, cfr["Band (2026-Q2)"].value) == (
        50.0,
        "low",
        "elite",
    )
    journeys = rows_of(book["Journeys"])
    nps = next(r for r in journeys if r["Key"].value == "nps")
    assert (nps["2026-Q3"].value, nps["2026-Q2"].value, nps[CHANGE].value) == (
        33.3333,
        100.0,
        -66.6667,
    )
    assert nps[CHANGE].data_type == "n"
    okrs = rows_of(book["OKRs"])
    assert [(r["Slug"].value, r["Progress"].value) for r in okrs] == [
        ("faster", 58.3333),
        ("faster/flow-time", 66.6667),
        ("faster/trained", 50.0),
        ("safely", None),
    ]
    weekly = rows_of(book["Weekly series"])
    # Q3's weeks start on Monday 2026-06-29; claims' A (a feature, done on Saturday 07-04)
    # and B (a defect, done 07-02) were both done in that first one.
    first = next(r for r in weekly if r["Slug"].value == "claims")
    assert first["Week (Monday)"].value == dt.datetime(2026, 6, 29)
    assert (first["Feature"].value, first["Defect"].value, first["Items done"].value) == (1, 1, 2)
    assert sum(r["Items done"].value for r in weekly if r["Slug"].value == "claims") == 2
    nps_weeks = rows_of(book["Weekly NPS"])
    assert sum(r["Responses"].value for r in nps_weeks) == 3


def test_the_workbook_summary_is_stamped(tmp_path, history):
    summary = load_workbook(export(tmp_path, "xlsx"))["Summary"]
    stamp = {row[0].value: row[1].value for row in summary.iter_rows(min_row=3, max_row=14)}
    assert stamp["Organization"] == "Org ORG-A (org-a)"
    assert stamp["Quarter"] == "2026-Q3"
    assert stamp["Definitions version"] == DEFINITIONS_VERSION
    assert stamp["DORA report year"] == 2023
    assert stamp["Compared with"] == "2026-Q2"


def test_a_stream_without_deployments_has_no_deployment_frequency_band(tmp_path, tenant_a, history):
    """Billing has never deployed: its deployment frequency is 0 (the quarter's days are
    never empty) but it has no band, in the figures, the workbook and the PDF; Claims'
    single deployment of the quarter is a low band."""
    org = tenant_a.org
    with organization_context(org.pk):
        value_stream_save(
            organization=org, value_stream=ValueStream(slug="billing", name="Billing")
        )
    key = "deployment_frequency_per_day"
    with organization_context(org.pk):
        data = quarterly_report_freeze(organization=org, quarter="2026-Q3").data
    streams = {vs["slug"]: vs for vs in data["value_streams"]}
    billing = streams["billing"]
    assert billing["metrics"][key] == 0
    for bands in (billing["bands"], billing["previous_bands"]):
        assert bands[key]["band"] is None
        assert bands[key]["text"] == "no data: no production deployment on record"
    assert streams["claims"]["bands"][key]["band"] == "low"

    dora = rows_of(load_workbook(export(tmp_path, "xlsx"))["DORA"])
    row = next(r for r in dora if (r["Slug"].value, r["Key"].value) == ("billing", key))
    assert (row["Band (2026-Q3)"].value, row["Band (2026-Q2)"].value) == (None, None)
    assert row["Meaning"].value == "no data: no production deployment on record"

    pages = [page.extract_text() for page in PdfReader(export(tmp_path, "pdf")).pages]
    dora = {p.split("\n")[1]: p.split("DORA bands", 1)[1] for p in pages if "VALUE STREAM" in p}
    assert "Low" not in dora["Billing"] and "less than monthly" not in dora["Billing"]
    assert "No data: no production deployment on record" in " ".join(dora["Billing"].split())
    assert "Low less than monthly" in " ".join(dora["Claims"].split())


# --- PDF ----------------------------------------------------------------------------------


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_the_pdf_names_every_value_stream_journey_and_objective(tmp_path, history):
    path = export(tmp_path, "pdf")
    reader = PdfReader(path)
    text = pdf_text(path)
    for name in (
        "Dental",
        "Claims",
        "Claim",
        "Pay claims faster",
        "Ship safely",
        "Assessors trained",
    ):
        assert name in text
    assert f"version {DEFINITIONS_VERSION}" in text
    assert "2023 State of DevOps report" in text
    assert "Contents" in text and "About these figures" in text
    # A cover, contents, summary, two pages per value stream, the journey, the OKRs, notes.
    assert len(reader.pages) >= 8
    assert "Page 3 of" in reader.pages[2].extract_text()


LONG = {"org": "O" * 200, "dental": "D" * 200, "claims": "C" * 200, "objective": "T" * 300}


def overflowing_boxes(html: str) -> list[str]:
    """Every box WeasyPrint lays out past the left or right edge of its page, margin
    boxes (the running header and footer) included; what a box clips (overflow:
    hidden, as the header's ellipsis) is not drawn, so not looked into."""
    from weasyprint import HTML

    found: list[str] = []

    def walk(box, number: int, width: float) -> None:
        if hasattr(box, "border_width"):
            left = box.border_box_x()
            right = left + box.border_width()
            if right > width + 0.5 or left < -0.5:
                text = getattr(box, "text", "") or type(box).__name__
                found.append(f"page {number}: {text[:30]!r} from {left:.0f} to {right:.0f}")
            if box.style["overflow"] != "visible":
                return
        for child in getattr(box, "children", []):
            walk(child, number, width)

    for number, page in enumerate(HTML(string=html).render().pages, start=1):
        walk(page._page_box, number, page.width)
    return found


def test_long_names_without_spaces_stay_inside_the_pdf_pages(tmp_path, tenant_a):
    """Names of the longest length allowed, without a space, for the organization, two
    value streams, the journey and an objective: every box of every page, the running
    header included, stays within the page."""
    org = tenant_a.org
    org.name = LONG["org"]
    with organization_context(org.pk):
        org.save(update_fields=["name"])
    history = build_history(org, dental_name=LONG["dental"], claims_name=LONG["claims"])
    with organization_context(org.pk):
        history["journey"].name = "J" * 200
        history["journey"].save(update_fields=["name"])
        Objective.objects.filter(pk=history["faster"].pk).update(title=LONG["objective"])
        report = quarterly_report_freeze(organization=org, quarter="2026-Q3")
    # The PDF as exported (pdftoppm -png shows it): its text has every name, whole,
    # and the cover still holds on its page.
    pages = [page.extract_text() for page in PdfReader(export(tmp_path, "pdf")).pages]
    text = "".join(pages).replace("\n", "")
    assert LONG["dental"] in text and LONG["claims"] in text
    assert "Metric definitions" in pages[0] and "Contents" in pages[1]
    html = render_to_string("metrics/report.html", report_context(report.data))
    for name in LONG.values():
        assert name in html
    overflowing = overflowing_boxes(html)
    assert overflowing == [], "\n".join(overflowing)


def test_the_pdf_stacks_the_frozen_series_as_the_dashboards_do(tenant_a, history, monkeypatch):
    """The frozen data comes back from JSONB, which keeps no key order."""
    drawn = {}

    def spy(name, draw):
        def spied(*args, **kwargs):
            drawn[name] = list(args[1])
            return draw(*args, **kwargs)

        return spied

    monkeypatch.setattr(
        charts, "velocity_by_type_svg", spy("velocity", charts.velocity_by_type_svg)
    )
    monkeypatch.setattr(charts, "cumulative_flow_svg", spy("cfd", charts.cumulative_flow_svg))
    with organization_context(tenant_a.org.pk):
        quarterly_report_freeze(organization=tenant_a.org, quarter="2026-Q3")
        data = QuarterlyReport.objects.get(organization=tenant_a.org, quarter="2026-Q3").data
    report_context(data)
    assert drawn == {"velocity": list(FLOW_TYPES), "cfd": list(CFD_STATES)}


def test_the_pdf_summary_tells_a_change_from_zero_and_a_missing_previous_figure(tenant_a, history):
    with organization_context(tenant_a.org.pk):
        data = quarterly_report_freeze(organization=tenant_a.org, quarter="2026-Q3").data
    claims = next(vs for vs in data["value_streams"] if vs["slug"] == "claims")
    claims["previous"]["flow_velocity"] = 0  # 0 -> 2 items: up 2, a percent is undefined
    claims["previous"]["flow_time_median_days"] = None  # nothing to compare with
    html = render_to_string("metrics/report.html", report_context(data))
    summary = html[html.index('id="summary"') : html.index('id="vs-')]
    row = re.search(r'<td class="name depth-1">Claims</td>(.*?)</tr>', summary, re.S)[1]
    changes = re.findall(r'<span class="chg[^"]*">(.*?)</span>', row)
    by_key = dict(zip(SUMMARY_STREAM_KEYS, changes, strict=True))
    assert by_key["flow_velocity"] == "▲ 2 items"
    assert by_key["flow_time_median_days"] == "no previous figure"
    # Which kind of change the PDF shows is said where the arrows are explained.
    assert 'Arrows show the change relative to <span class="nowrap">2026-Q2</span>' in summary


def test_the_workbook_says_its_changes_are_differences(tmp_path, history):
    book = load_workbook(export(tmp_path, "xlsx"))
    for sheet in ("Flow", "DORA", "Journeys"):
        assert CHANGE in [c.value for c in book[sheet][1]]
    stamp = {row[0].value: row[1].value for row in book["Summary"].iter_rows(min_row=3, max_row=15)}
    assert stamp["Changes"].startswith("Differences: the quarter's value minus the previous")
    efficiency = next(
        r
        for r in rows_of(book["Flow"])
        if (r["Slug"].value, r["Key"].value) == ("claims", "flow_efficiency")
    )
    # A difference of percentages is in points, never to be read as a relative change.
    assert efficiency[CHANGE].number_format == '+0.0" pts";-0.0" pts";0.0" pts"'


# --- Formula injection --------------------------------------------------------------------

DANGEROUS = ['=HYPERLINK("http://x.example","y")', "+1", "-x", "@x", "\tx", "\rx"]


def test_escape_formula_prefixes_a_single_quote_to_formula_starts_only():
    for text in DANGEROUS:
        assert escape_formula(text) == "'" + text
    for text in ("Claims", "1+1", "a=b", "'quoted", ""):
        assert escape_formula(text) == text


def test_text_that_a_spreadsheet_would_run_is_escaped_in_csv_and_xlsx(tmp_path, tenant_a):
    org = tenant_a.org
    objects = build_history(org, dental_name=DANGEROUS[0], claims_name="-x claims")
    with organization_context(org.pk):
        objective = objective_save(
            organization=org,
            objective=Objective(slug="evil", title="@SUM(A1)", quarter="2026-Q3"),
            value_streams=[objects["claims"]],
        )
        for n, unit in enumerate(DANGEROUS[1:]):
            key_result_save(
                organization=org,
                key_result=KeyResult(
                    objective=objective,
                    slug=f"kr-{n}",
                    title=unit + " title",
                    baseline=0,
                    target=1,
                    unit=unit,
                ),
            )
    rows = csv_rows(export(tmp_path, "csv"))
    units = {
        r["unit"] for r in rows if r["subject"].startswith("evil/") and r["metric"] == "target"
    }
    assert units == {"'" + u for u in DANGEROUS[1:]}
    # Numbers are numbers: a negative delta is written as it is, never escaped.
    nps = next(r for r in rows if (r["subject"], r["metric"]) == ("claim", "nps"))
    assert nps["delta"] == "-66.6667"

    book = load_workbook(export(tmp_path, "xlsx"))
    texts = [
        cell
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str)
    ]
    assert not [c.coordinate for c in texts if c.data_type == "f"], "no cell is a formula"
    # OOXML writes a carriage return as _x000D_, which openpyxl leaves as it is.
    values = {c.value.replace("_x000D_", "\r") for c in texts}
    assert "'" + DANGEROUS[0] in values  # the stream's name
    assert "'-x claims" in values
    assert "'@SUM(A1)" in values
    assert {"'" + u for u in DANGEROUS[1:]} <= values  # the key results' units
    assert {"'" + u + " title" for u in DANGEROUS[1:]} <= values
    assert not [v for v in values if v.startswith(("=", "+", "-", "@", "\t", "\r"))]
    change = next(r for r in rows_of(book["Journeys"]) if r["Key"].value == "nps")[CHANGE]
    assert (change.value, change.data_type) == (-66.6667, "n")


def test_the_csv_is_read_back_by_the_csv_module_unchanged(tmp_path, history):
    """Quoting: a unit with a comma or a quote survives the round trip."""
    org = history["faster"].organization
    with organization_context(org.pk):
        key_result_save(
            organization=org,
            key_result=KeyResult(
                objective=history["faster"],
                slug="odd",
                title="Odd",
                baseline=0,
                target=1,
                unit='a,"b"',
            ),
        )
    path = export(tmp_path, "csv")
    rows = csv_rows(path)
    assert {r["unit"] for r in rows if r["subject"] == "faster/odd"} == {'a,"b"', "%"}
    # UTF-8 without a byte order mark, CRLF line ends (RFC 4180).
    content = path.read_bytes()
    assert content.startswith(b"section,") and content.count(b"\r\n") == len(rows) + 1
