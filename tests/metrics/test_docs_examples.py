"""The worked examples of docs/metrics.md, rebuilt and measured.

Each test builds one example's history as a user would (value streams, journeys
and objectives through their services, events through ``events_import``),
measures it with the engine, and checks the figures twice: against the numbers
hard-coded here, and against the example's **Expected** lines in the page. So
the page, this module and the engine cannot drift apart. Each test names the
section of the page it checks.

The last tests read the page alone: every metric key of ``metrics.definitions``
has a row in its catalogue with the key's unit and direction, each row leads to
a section whose worked example states that key, and every **Expected** line of
the page is one this module checks.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from journeys.models import JourneyStage, Touchpoint
from metrics.bands import band
from metrics.definitions import DEFINITIONS_VERSION, METRICS
from metrics.engine import Period, kpis_for_period
from metrics.journey_delivery import stage_touchpoint_metrics
from metrics.reports.data import progress_percent, quarterly_report_freeze
from portfolio.models import KeyResult, Objective
from portfolio.okrs import (
    check_in_create,
    key_results_measure,
    okrs_for_quarter,
    quarter_elapsed,
)
from portfolio.services import key_result_save, objective_save, organization_update
from portfolio.tenancy import organization_context
from streams.ingest import events_import
from streams.models import ValueStream
from streams.services import value_stream_save
from tests.journeys.helpers import build_journey

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"

# The sections of single metric keys, each with one **Expected** line.
KEY_SECTIONS = (
    "flow_velocity",
    "flow_velocity_<type>",
    "flow_distribution_<type>",
    "flow_time_median_days",
    "flow_time_p85_days",
    "flow_time_mean_days",
    "flow_load",
    "flow_load_avg",
    "flow_efficiency",
    "deployment_frequency_per_day",
    "lead_time_for_changes_median_hours",
    "change_failure_rate",
    "time_to_restore_median_hours",
    "nps",
    "conversion_rate",
    "journey_lead_time_median_days",
    "journey_cycle_time_median_days",
    "fcr",
    "renewal_rate",
    "retention_rate",
    "cost_per_acquisition",
    "claim_cost_avg",
)
OBJECTIVE_EXAMPLE = "Example: an objective halfway through its quarter"
REPORT_EXAMPLE = "Example: a report in progress, frozen, and recomputed"
STAGE_FIGURES = "Per stage and per touchpoint figures"

# Every (section, subject) whose **Expected** line a test below checks; the page
# may state no other (test_every_expected_line_of_the_page_is_checked).
CHECKED = {
    ("Periods", None),
    ("Roll-up", "dental"),
    ("Roll-up", "claims-dev"),
    ("Roll-up", "payments-dev"),
    ("Empty denominators give null", None),
    *((f"`{key}`", None) for key in KEY_SECTIONS),
    ("DORA performance bands", "2023"),
    ("DORA performance bands", "2021"),
    *((STAGE_FIGURES, name) for name in ("form", "call", "submit", "assess", "paid")),
    ("Current value", None),
    *(
        (OBJECTIVE_EXAMPLE, name)
        for name in ("flow-time", "nps", "self-service", "churn", "pay-claims-faster")
    ),
    *(
        (REPORT_EXAMPLE, name)
        for name in ("in progress", "frozen", "after a late import", "recomputed")
    ),
}


# --- Reading the page -------------------------------------------------------------------

HEADING = re.compile(r"^(#{1,6}) (.+?)\s*$")
EXPECTED = re.compile(r"^\*\*Expected(?: for `([^`]+)`)?:\*\* (.+?)\s*$")
# `key` = value, where a value is a number, null, or a word in backticks.
STATEMENT = re.compile(r"`([a-z0-9_]+)` = (null|-?\d+(?:\.\d+)?|`[^`]+`)")


def doc_lines() -> list[str]:
    return DOC.read_text(encoding="utf-8").splitlines()


def headings() -> list[tuple[int, int, str]]:
    """(line index, level, text) of every heading of the page."""
    found = []
    for index, line in enumerate(doc_lines()):
        match = HEADING.match(line)
        if match:
            found.append((index, len(match[1]), match[2]))
    return found


def anchor(text: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def section(heading: str) -> list[str]:
    """The lines under the one heading whose text is ``heading``, up to the next
    heading of the same or a higher level."""
    lines = doc_lines()
    all_headings = headings()
    matches = [(i, level) for i, level, text in all_headings if text == heading]
    assert len(matches) == 1, f"docs/metrics.md has {len(matches)} headings '{heading}'"
    start, level = matches[0]
    end = next((i for i, lv, _ in all_headings if i > start and lv <= level), len(lines))
    return lines[start + 1 : end]


def expected_lines() -> list[tuple[str, str | None, dict[str, str]]]:
    """(section, subject, {key: value as written}) of every **Expected** line of the page."""
    found = []
    current = None
    for line in doc_lines():
        heading = HEADING.match(line)
        if heading:
            current = heading[2]
            continue
        match = EXPECTED.match(line)
        if match:
            statements = match[2].split(", ")
            parsed = [STATEMENT.fullmatch(s) for s in statements]
            assert all(parsed), f"not in the form `key` = value: {line!r}"
            found.append((current, match[1], {m[1]: m[2] for m in parsed if m}))
    return found


def stated(heading: str, subject: str | None = None) -> dict[str, str]:
    """What the section's **Expected** line(s) for ``subject`` state, key by key."""
    section(heading)  # the heading exists, once
    values: dict[str, str] = {}
    for where, who, statements in expected_lines():
        if (where, who) == (heading, subject):
            values |= statements
    return values


def as_written(value: Any) -> str:
    """A measured value as the page writes it: numbers as the kpis JSON prints them
    (an integral float without its '.0'), null, and words in backticks."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        return f"`{value}`"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def expect(heading: str, measured: dict[str, Any], subject: str | None = None, **numbers: str):
    """The engine measured ``numbers`` (hard-coded by the caller), and the page's
    **Expected** line of that section and subject states exactly them."""
    assert (heading, subject) in CHECKED
    assert {key: as_written(measured[key]) for key in numbers} == numbers
    assert stated(heading, subject) == numbers


# --- Building histories -------------------------------------------------------------------


@pytest.fixture
def org(tenant_a):
    with organization_context(tenant_a.org.pk):
        yield tenant_a.org


def t(text: str) -> str:
    """'07-01 00:00' (in 2026) or '2026-06-30 13:59', as the UTC time an import takes."""
    if len(text) == len("07-01 00:00"):
        text = f"2026-{text}"
    return text.replace(" ", "T") + ":00Z"


def stream(org, slug: str, parent: ValueStream | None = None, kind: str = "team") -> ValueStream:
    return value_stream_save(
        organization=org,
        value_stream=ValueStream(slug=slug, name=slug.title(), kind=kind, parent=parent),
    )


def load(org, kind: str, rows: list[dict[str, str]]) -> None:
    events_import(organization=org, kind=kind, rows=rows, source="json")


History = dict[str, tuple[str, list[tuple[str, str]]]]


def flow_items(org, value_stream: str, items: History) -> None:
    """Items ``{key: (type, [(at, state), ...])}`` of the value stream, created at
    their first transition."""
    load(
        org,
        "flow_items",
        [
            {"key": key, "type": type_, "value_stream": value_stream, "created_at": t(hist[0][0])}
            for key, (type_, hist) in items.items()
        ],
    )
    load(
        org,
        "flow_transitions",
        [
            {"key": key, "at": t(at), "state": state}
            for key, (_, hist) in items.items()
            for at, state in hist
        ],
    )


def kpis(org, date_from: str, date_to: str) -> dict[str, Any]:
    """The kpis JSON for the inclusive dates, as ``manage.py kpis`` prints it."""
    return kpis_for_period(
        organization=org,
        date_from=dt.date.fromisoformat(date_from),
        date_to=dt.date.fromisoformat(date_to),
    )


def journey_events(org, rows: list[dict[str, str]]) -> None:
    """Events of the journey ``claim``, keyed in order; ``at`` as for ``t``."""
    load(
        org,
        "journey_events",
        [
            {"key": f"E{n}", "journey": "claim", **row, "at": t(row["at"])}
            for n, row in enumerate(rows, start=1)
        ],
    )


def claim_kpis(org, rows: list[dict[str, str]]) -> dict[str, Any]:
    """The journey examples' set-up: the claim journey, its events, measured for July."""
    build_journey(org)
    journey_events(org, rows)
    return kpis(org, "2026-07-01", "2026-07-31")["journeys"]["claim"]


# --- Conventions --------------------------------------------------------------------------


def test_periods_are_local_dates_in_the_organization_time_zone(org):
    """docs/metrics.md, "Periods"."""
    organization_update(
        organization=org, name=org.name, time_zone="Australia/Sydney", dora_report_year=2023
    )
    stream(org, "claims-dev")
    flow_items(
        org,
        "claims-dev",
        {
            key: ("feature", [("06-20 00:00", "active"), (done, "done")])
            for key, done in (
                ("E1", "2026-06-30 13:59"),
                ("E2", "2026-06-30 14:00"),
                ("E3", "2026-07-31 13:59"),
                ("E4", "2026-07-31 14:00"),
            )
        },
    )
    m = kpis(org, "2026-07-01", "2026-07-31")["value_streams"]["claims-dev"]
    # E2 (07-01 00:00 Sydney) and E3 (07-31 23:59 Sydney).
    expect("Periods", m, flow_velocity="2")


def test_roll_up_covers_every_descendant(org):
    """docs/metrics.md, "Roll-up"."""
    dental = stream(org, "dental", kind="business")
    stream(org, "claims-dev", parent=dental)
    stream(org, "payments-dev", parent=dental)
    done = [("07-01 00:00", "active"), ("07-03 00:00", "done")]
    flow_items(org, "dental", {"V1": ("feature", done)})
    flow_items(org, "claims-dev", {"C1": ("feature", done), "C2": ("defect", done)})
    flow_items(org, "payments-dev", {"P1": ("debt", done)})
    load(
        org,
        "deployments",
        [
            {
                "key": "ok",
                "value_stream": "claims-dev",
                "environment": "production",
                "deployed_at": t("07-02 00:00"),
                "status": "success",
            },
            {
                "key": "broken",
                "value_stream": "payments-dev",
                "environment": "production",
                "deployed_at": t("07-04 00:00"),
                "status": "failure",
            },
        ],
    )
    streams = kpis(org, "2026-07-01", "2026-07-10")["value_streams"]
    # dental: its own V1, claims-dev's C1 and C2, payments-dev's P1; 1 of 2 deployments failed.
    expect("Roll-up", streams["dental"], "dental", flow_velocity="4", change_failure_rate="50")
    expect(
        "Roll-up", streams["claims-dev"], "claims-dev", flow_velocity="2", change_failure_rate="0"
    )
    expect(
        "Roll-up",
        streams["payments-dev"],
        "payments-dev",
        flow_velocity="1",
        change_failure_rate="100",
    )


# --- Flow: example F ------------------------------------------------------------------------

# docs/metrics.md, "Example F: one value stream over ten days" (2026, UTC).
EXAMPLE_F: History = {
    "F1": ("feature", [("07-01 00:00", "active"), ("07-03 00:00", "done")]),
    "F2": (
        "feature",
        [
            ("06-29 00:00", "active"),
            ("07-01 00:00", "waiting"),
            ("07-03 00:00", "active"),
            ("07-05 00:00", "done"),
        ],
    ),
    "D1": ("defect", [("07-04 00:00", "active"), ("07-05 00:00", "done")]),
    "B1": (
        "debt",
        [("07-06 00:00", "active"), ("07-07 00:00", "waiting"), ("07-10 00:00", "done")],
    ),
    "W1": ("risk", [("07-08 00:00", "active"), ("07-09 00:00", "waiting")]),
    "A1": ("feature", [("07-09 12:00", "active"), ("07-11 00:00", "done")]),
    "C1": ("defect", [("07-02 00:00", "active"), ("07-04 00:00", "canceled")]),
}


def example_f(org) -> None:
    stream(org, "claims-dev")
    flow_items(org, "claims-dev", EXAMPLE_F)


def test_flow_metrics_of_example_f(org):
    """docs/metrics.md, "Flow metrics": each key's section works on example F."""
    example_f(org)
    m = kpis(org, "2026-07-01", "2026-07-10")["value_streams"]["claims-dev"]
    # Done in P: F1, F2, D1, B1 (A1 is done at P.end), flow times 2, 6, 1, 4 days.
    expect("`flow_velocity`", m, flow_velocity="4")
    expect(
        "`flow_velocity_<type>`",
        m,
        flow_velocity_feature="2",
        flow_velocity_defect="1",
        flow_velocity_risk="0",
        flow_velocity_debt="1",
    )
    expect(
        "`flow_distribution_<type>`",
        m,
        flow_distribution_feature="50",
        flow_distribution_defect="25",
        flow_distribution_risk="0",
        flow_distribution_debt="25",
    )
    # Sorted 1, 2, 4, 6: median (2 + 4) / 2; p85 at position 2.55: 4 + 0.55 * 2; mean 13 / 4.
    expect("`flow_time_median_days`", m, flow_time_median_days="3")
    expect("`flow_time_p85_days`", m, flow_time_p85_days="5.1")
    expect("`flow_time_mean_days`", m, flow_time_mean_days="3.25")
    # WIP at 07-11 00:00: W1 (waiting) and A1 (its done is at, not before, P.end).
    expect("`flow_load`", m, flow_load="2")
    # WIP at the ten day ends: 2, 3, 2, 2, 0, 1, 1, 2, 3, 2 = 18, over 10 days.
    expect("`flow_load_avg`", m, flow_load_avg="1.8")
    # Active 2 + 4 + 1 + 1 = 8 days of flow 2 + 6 + 1 + 4 = 13: 61.538461... %.
    expect("`flow_efficiency`", m, flow_efficiency="61.5385")


def test_empty_denominators_give_null(org):
    """docs/metrics.md, "Empty denominators give null": example F in early June."""
    example_f(org)
    m = kpis(org, "2026-06-01", "2026-06-10")["value_streams"]["claims-dev"]
    expect(
        "Empty denominators give null",
        m,
        flow_velocity="0",
        flow_distribution_feature="null",
        flow_time_median_days="null",
        flow_efficiency="null",
        flow_load="0",
        flow_load_avg="0",
        deployment_frequency_per_day="0",
        change_failure_rate="null",
    )


# --- DORA: example D ---------------------------------------------------------------------


def deployment(key: str, at: str, status: str = "success", env: str = "production") -> dict:
    return {
        "key": key,
        "value_stream": "claims-dev",
        "environment": env,
        "deployed_at": t(at),
        "status": status,
    }


def test_dora_metrics_of_example_d(org):
    """docs/metrics.md, "Example D: deployments, changes and incidents over ten days"."""
    stream(org, "claims-dev")
    load(
        org,
        "deployments",
        [
            deployment("d6", "07-01 00:00"),
            deployment("d1", "07-02 00:00"),
            deployment("d2", "07-05 00:00"),
            deployment("d3", "07-06 00:00", status="failure"),
            deployment("d4", "07-07 00:00", env="staging"),
            deployment("d5", "07-11 00:00"),
        ],
    )
    load(
        org,
        "changes",
        [
            {"key": key, "value_stream": "claims-dev", "committed_at": t(at), "deployment": d}
            for key, at, d in (
                ("c5", "06-30 00:00", "d6"),
                ("c1", "07-01 00:00", "d1"),
                ("c2", "07-01 12:00", "d1"),
                ("c3", "07-04 18:00", "d2"),
                ("c4", "07-05 00:00", "d3"),
                ("c6", "07-06 00:00", "d4"),
                ("c7", "07-10 00:00", "d5"),
            )
        ],
    )
    load(
        org,
        "incidents",
        [
            {
                "key": key,
                "value_stream": "claims-dev",
                "opened_at": t(opened),
                "resolved_at": t(resolved) if resolved else "",
                "deployment": cause,
            }
            for key, opened, resolved, cause in (
                ("i1", "07-05 01:00", "07-05 03:00", "d2"),
                ("i2", "07-08 00:00", "07-09 06:00", ""),
                ("i3", "07-09 00:00", None, ""),
                ("i4", "07-10 20:00", "07-11 02:00", ""),
            )
        ],
    )
    m = kpis(org, "2026-07-01", "2026-07-10")["value_streams"]["claims-dev"]
    # d6, d1, d2 succeeded in P: 3 over 10 days.
    expect("`deployment_frequency_per_day`", m, deployment_frequency_per_day="0.3")
    # c5 24 h, c1 24 h, c2 12 h, c3 6 h: median (12 + 24) / 2.
    expect("`lead_time_for_changes_median_hours`", m, lead_time_for_changes_median_hours="18")
    # d3 failed and d2 caused i1, of d6, d1, d2, d3.
    expect("`change_failure_rate`", m, change_failure_rate="50")
    # i1 2 h and i2 30 h.
    expect("`time_to_restore_median_hours`", m, time_to_restore_median_hours="16")


def test_dora_bands_of_example_d():
    """docs/metrics.md, "DORA performance bands": example D's figures in both report years."""
    figures = {
        "deployment_frequency_per_day": 0.3,
        "lead_time_for_changes_median_hours": 18.0,
        "change_failure_rate": 50.0,
        "time_to_restore_median_hours": 16.0,
    }

    def bands(year: int) -> dict[str, Any]:
        return {
            key: band(key, value, year=year, deployments_on_record=True)
            for key, value in figures.items()
        }

    # 2023: 0.3 >= 1/7; 18 < 24; 50 > 15; 1 <= 16 < 24.
    expect(
        "DORA performance bands",
        bands(2023),
        "2023",
        deployment_frequency_per_day="`high`",
        lead_time_for_changes_median_hours="`elite`",
        change_failure_rate="`low`",
        time_to_restore_median_hours="`high`",
    )
    # 2021: 0.3 >= 1/30; 1 <= 18 < 168; 50 > 30; 1 <= 16 < 24.
    expect(
        "DORA performance bands",
        bands(2021),
        "2021",
        deployment_frequency_per_day="`high`",
        lead_time_for_changes_median_hours="`high`",
        change_failure_rate="`low`",
        time_to_restore_median_hours="`high`",
    )


# --- Journey KPIs ------------------------------------------------------------------------


def survey(at: str, value: str, **where: str) -> dict[str, str]:
    return {"type": "survey", "at": at, "customer": "c", "value": value, **where}


# docs/metrics.md, "`nps`": the surveys; "Per stage and per touchpoint figures" adds
# the touchpoints asked about.
NPS_SURVEYS = [
    survey("06-30 23:59", "0"),
    survey("07-01 00:00", "10", touchpoint="form"),
    survey("07-04 10:00", "10", touchpoint="form"),
    survey("07-09 10:00", "9", touchpoint="call"),
    survey("07-15 10:00", "7", touchpoint="call"),
    survey("07-31 23:59", "5"),
    survey("08-01 00:00", "0"),
]


def entered(at: str, stage: str, customer: str, ref: str = "") -> dict[str, str]:
    return {"type": "stage_entered", "at": at, "stage": stage, "customer": customer, "ref": ref}


# docs/metrics.md, "`conversion_rate`": the stage_entered events of five instances.
CONVERSIONS = [
    entered("07-02 00:00", "submit", "c-1", "A"),
    entered("07-05 00:00", "assess", "c-1", "A"),
    entered("07-09 00:00", "paid", "c-1", "A"),
    entered("07-10 00:00", "submit", "c-1", "B"),
    entered("06-20 00:00", "submit", "c-2", "C"),
    entered("07-02 00:00", "submit", "c-2", "C"),
    entered("07-01 00:00", "assess", "c-2", "C"),
    entered("07-06 00:00", "paid", "c-2", "C"),
    entered("07-25 00:00", "submit", "c-3", "D"),
    entered("08-02 00:00", "paid", "c-3", "D"),
    entered("07-03 00:00", "submit", "c-9"),
    entered("07-04 00:00", "assess", "c-9"),
    entered("07-05 00:00", "paid", "c-9"),
]


def test_nps(org):
    """docs/metrics.md, "`nps`"."""
    m = claim_kpis(org, NPS_SURVEYS)
    # In P: 10, 10, 9 (promoters), 7, 5 (a detractor): 100 * (3 - 1) / 5.
    expect("`nps`", m, nps="40")


def test_conversion_lead_and_cycle_time(org):
    """docs/metrics.md, "`conversion_rate`", "`journey_lead_time_median_days`" and
    "`journey_cycle_time_median_days`"."""
    m = claim_kpis(org, CONVERSIONS)
    # Cohort A, B, D, c-9; converted before P.end: A, c-9.
    expect("`conversion_rate`", m, conversion_rate="50")
    # First paid in P: A 7 d, C 16 d (from 06-20), c-9 2 d after their first submit.
    expect("`journey_lead_time_median_days`", m, journey_lead_time_median_days="7")
    # From their first assess: A 4 d, C 5 d, c-9 1 d.
    expect("`journey_cycle_time_median_days`", m, journey_cycle_time_median_days="4")


def test_fcr(org):
    """docs/metrics.md, "`fcr`"."""
    m = claim_kpis(
        org,
        [
            {"type": "case_resolved", "at": at, "customer": "c", "value": contacts}
            for at, contacts in (
                ("06-30 10:00", "1"),
                ("07-01 10:00", "1"),
                ("07-08 10:00", "1"),
                ("07-12 10:00", "2"),
                ("07-20 10:00", "1"),
                ("07-28 10:00", "3"),
            )
        ],
    )
    # In P: 1, 1, 2, 1, 3 contacts: 3 of 5 at the first.
    expect("`fcr`", m, fcr="60")


def test_renewal_rate(org):
    """docs/metrics.md, "`renewal_rate`"."""
    m = claim_kpis(
        org,
        [
            {"type": kind, "at": f"{day} 00:00", "customer": "c", "ref": ref}
            for kind, day, ref in (
                ("renewal_due", "07-10", "POL-1"),
                ("renewed", "07-01", "POL-1"),
                ("renewal_due", "07-15", "POL-2"),
                ("renewed", "07-20", "POL-2"),
                ("renewal_due", "07-25", "POL-3"),
                ("renewed", "08-03", "POL-3"),
                ("renewal_due", "06-28", "POL-4"),
                ("renewed", "07-02", "POL-4"),
                ("renewal_due", "07-30", "POL-5"),
                ("renewal_due", "07-05", "POL-6"),
                ("renewal_due", "07-20", "POL-6"),
                ("renewed", "07-06", "POL-6"),
            )
        ],
    )
    # Due in P: POL-1, 2, 3, 5, 6; renewed before P.end: POL-1, 2, 6.
    expect("`renewal_rate`", m, renewal_rate="60")


def test_retention_rate(org):
    """docs/metrics.md, "`retention_rate`"."""
    m = claim_kpis(
        org,
        [
            {"type": kind, "at": at, "customer": customer}
            for kind, at, customer in (
                ("acquired", "01-10 00:00", "c-1"),
                ("acquired", "02-01 00:00", "c-2"),
                ("churned", "07-15 00:00", "c-2"),
                ("acquired", "03-01 00:00", "c-3"),
                ("churned", "06-01 00:00", "c-3"),
                ("acquired", "07-05 00:00", "c-4"),
                ("acquired", "05-01 00:00", "c-5"),
                ("churned", "08-01 00:00", "c-5"),
            )
        ],
    )
    # Cohort at 07-01: c-1, c-2, c-5; still active at 08-01 00:00: c-1, c-5.
    expect("`retention_rate`", m, retention_rate="66.6667")


def test_cost_per_acquisition(org):
    """docs/metrics.md, "`cost_per_acquisition`"."""
    m = claim_kpis(
        org,
        [
            {"type": "acquisition_cost", "at": "07-01 00:00", "value": "1200"},
            {"type": "acquisition_cost", "at": "07-15 00:00", "value": "600"},
            {"type": "acquisition_cost", "at": "08-01 00:00", "value": "900"},
            {"type": "acquired", "at": "07-03 00:00", "customer": "a"},
            {"type": "acquired", "at": "07-10 00:00", "customer": "b"},
            {"type": "acquired", "at": "07-28 00:00", "customer": "c"},
            {"type": "acquired", "at": "06-29 00:00", "customer": "d"},
        ],
    )
    # (1200 + 600) / 3 acquired in P.
    expect("`cost_per_acquisition`", m, cost_per_acquisition="600")


def test_claim_cost_avg(org):
    """docs/metrics.md, "`claim_cost_avg`"."""
    m = claim_kpis(
        org,
        [
            {"type": "claim_paid", "at": at, "customer": "c", "ref": ref, "value": amount}
            for at, ref, amount in (
                ("07-10 00:00", "CL-1", "1000"),
                ("07-20 00:00", "CL-2", "2500"),
                ("07-31 23:59", "CL-3", "400"),
                ("08-01 00:00", "CL-4", "9999"),
            )
        ],
    )
    # (1000 + 2500 + 400) / 3.
    expect("`claim_cost_avg`", m, claim_cost_avg="1300")


def test_per_stage_and_per_touchpoint_figures(org):
    """docs/metrics.md, "Per stage and per touchpoint figures": the surveys of "`nps`"
    and the stage_entered events of "`conversion_rate`" together."""
    journey = build_journey(org)
    journey_events(org, NPS_SURVEYS + CONVERSIONS)
    period = Period(dt.date(2026, 7, 1), dt.date(2026, 7, 31))
    figures = stage_touchpoint_metrics(organization=org, journey_ids=[journey.pk], period=period)
    stages = {s.slug: figures.stages[s.pk] for s in JourneyStage.objects.filter(journey=journey)}
    points = {p.slug: figures.touchpoints[p.pk] for p in Touchpoint.objects.filter(journey=journey)}
    heading = STAGE_FIGURES
    # form: 10, 10; call: 9 (promoter), 7 (passive).
    expect(heading, points["form"], "form", responses="2", nps="100")
    expect(heading, points["call"], "call", responses="2", nps="50")
    # submit: A, c-9 of A, B, D, c-9 moved on; stays A 3 d, c-9 1 d, C 11 d.
    expect(
        heading,
        stages["submit"],
        "submit",
        responses="2",
        nps="100",
        stage_conversion="50",
        time_in_stage_median_days="3",
    )
    # assess: A, C, c-9 all paid in P; stays 4, 5, 1 days.
    expect(
        heading,
        stages["assess"],
        "assess",
        responses="2",
        nps="50",
        stage_conversion="100",
        time_in_stage_median_days="4",
    )
    expect(
        heading,
        stages["paid"],
        "paid",
        responses="0",
        nps="null",
        stage_conversion="null",
        time_in_stage_median_days="null",
    )


# --- OKRs ----------------------------------------------------------------------------------


def test_a_linked_key_result_follows_its_metric_for_the_quarter_to_date(org):
    """docs/metrics.md, "Current value"."""
    claims = stream(org, "claims-dev")
    flow_items(
        org,
        "claims-dev",
        {
            key: ("feature", [("07-01 00:00", "active"), (done, "done")])
            for key, done in (("K1", "07-02 00:00"), ("K2", "07-10 00:00"), ("K3", "07-20 00:00"))
        },
    )
    objective = objective_save(
        organization=org,
        objective=Objective(slug="deliver", title="Deliver", quarter="2026-Q3"),
    )
    key_result = key_result_save(
        organization=org,
        key_result=KeyResult(
            objective=objective,
            slug="delivered",
            title="Items delivered",
            baseline=0,
            target=10,
            metric_value_stream=claims,
            metric_key="flow_velocity",
        ),
        refresh=False,
    )
    key_results_measure(
        organization=org,
        key_result_ids=[key_result.pk],
        now=dt.datetime(2026, 7, 15, 12, tzinfo=dt.UTC),
    )
    key_result.refresh_from_db()
    # 07-01 .. 07-15: K1 and K2.
    expect("Current value", {"flow_velocity": key_result.current_value}, flow_velocity="2")


def test_an_objective_halfway_through_its_quarter(org):
    """docs/metrics.md, "Example: an objective halfway through its quarter"."""
    objective = objective_save(
        organization=org,
        objective=Objective(slug="pay-claims-faster", title="Pay claims faster", quarter="2026-Q3"),
    )
    for slug, baseline, target, current, weight in (
        ("flow-time", 12, 5, 8, 2),
        ("nps", 20, 40, 45, 1),
        ("self-service", 30, 60, 39, 1),
        ("churn", 8, 6, None, 1),
    ):
        key_result = key_result_save(
            organization=org,
            key_result=KeyResult(
                objective=objective,
                slug=slug,
                title=slug,
                baseline=baseline,
                target=target,
                weight=weight,
            ),
        )
        if current is not None:
            check_in_create(organization=org, key_result=key_result, value=current)
    now = dt.datetime(2026, 8, 16, tzinfo=dt.UTC)
    assert quarter_elapsed(org, "2026-Q3", now) == 0.5  # 46 of 92 days
    [found] = okrs_for_quarter(organization=org, quarter="2026-Q3", now=now)
    heading = OBJECTIVE_EXAMPLE

    def shown(progress: float | None, status: str) -> dict[str, Any]:
        return {"progress": progress_percent(progress), "status": status}

    by_slug = {kr.slug: shown(kr.progress, kr.status) for kr in found.key_results}
    # 4/7; 1.25 clamped to 1; 9/30 = 0.3, 0.2 behind 0.5; no check-in.
    expect(heading, by_slug["flow-time"], "flow-time", progress="57.1429", status="`on_track`")
    expect(heading, by_slug["nps"], "nps", progress="100", status="`on_track`")
    expect(heading, by_slug["self-service"], "self-service", progress="30", status="`at_risk`")
    expect(heading, by_slug["churn"], "churn", progress="null", status="`no_data`")
    # (2 * 4/7 + 1 + 0.3) / 4 = 171/280; churn has no progress and is left out.
    expect(
        heading,
        shown(found.progress, found.status),
        "pay-claims-faster",
        progress="61.0714",
        status="`on_track`",
    )


# --- The quarterly report -----------------------------------------------------------------


def test_a_report_in_progress_frozen_and_recomputed(org):
    """docs/metrics.md, "Example: a report in progress, frozen, and recomputed"."""
    stream(org, "claims-dev")
    flow_items(
        org,
        "claims-dev",
        {
            "R1": ("feature", [("07-01 00:00", "active"), ("07-10 00:00", "done")]),
            "R2": ("feature", [("08-01 00:00", "active"), ("08-20 00:00", "done")]),
        },
    )
    heading = REPORT_EXAMPLE

    def export(day: dt.datetime, recompute: bool = False) -> tuple[dict[str, Any], dt.datetime]:
        report = quarterly_report_freeze(
            organization=org, quarter="2026-Q3", now=day, recompute=recompute
        )
        data = report.data
        figures = {
            "flow_velocity": data["value_streams"][0]["metrics"]["flow_velocity"],
            "in_progress": data["in_progress"],
            "to": data["period"]["to"],
            "previous_to": data["previous"]["to"],
        }
        return figures, report.frozen_at

    # 1. 2026-08-15: to date, against the first 46 days of Q2; R1 only.
    figures, _ = export(dt.datetime(2026, 8, 15, 12, tzinfo=dt.UTC))
    expect(
        heading,
        figures,
        "in progress",
        flow_velocity="1",
        in_progress="`true`",
        to="`2026-08-15`",
        previous_to="`2026-05-16`",
    )
    # 2. After the quarter's end: the whole quarter, frozen; R1 and R2.
    figures, frozen_at = export(dt.datetime(2026, 10, 2, 9, tzinfo=dt.UTC))
    expect(
        heading,
        figures,
        "frozen",
        flow_velocity="2",
        in_progress="`false`",
        to="`2026-09-30`",
        previous_to="`2026-06-30`",
    )
    # 3. A late item done in Q3 changes nothing frozen.
    flow_items(
        org, "claims-dev", {"R3": ("defect", [("09-20 00:00", "active"), ("09-25 00:00", "done")])}
    )
    figures, again_at = export(dt.datetime(2026, 10, 5, 9, tzinfo=dt.UTC))
    assert again_at == frozen_at
    expect(heading, figures, "after a late import", flow_velocity="2")
    # 4. An admin's recompute: R1, R2, R3.
    figures, _ = export(dt.datetime(2026, 10, 6, 9, tzinfo=dt.UTC), recompute=True)
    expect(heading, figures, "recomputed", flow_velocity="3")


# --- The page itself ----------------------------------------------------------------------


def catalogue_rows() -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section("Catalogue")
        if line.startswith("| `")
    ]


def test_every_metric_key_has_a_catalogue_row_with_its_unit_and_direction():
    rows = catalogue_rows()
    keys = [row[0].strip("`") for row in rows]
    assert len(keys) == len(set(keys)), "a key has two rows in the catalogue"
    missing = sorted(set(METRICS) - set(keys))
    assert not missing, f"docs/metrics.md's catalogue has no row for {missing}"
    unknown = sorted(set(keys) - set(METRICS))
    assert not unknown, f"docs/metrics.md's catalogue names keys the product lacks: {unknown}"
    for key, subject, unit, better, _ in rows:
        metric = METRICS[key.strip("`")]
        assert (subject, unit, better) == (
            metric.subject.value.replace("_", " "),
            metric.unit,
            metric.better.value,
        ), key


def test_each_key_leads_to_a_section_whose_example_states_it():
    by_anchor = {anchor(text): text for _, _, text in headings()}
    stated_keys: dict[str, set[str]] = {}
    for where, _, statements in expected_lines():
        stated_keys.setdefault(where, set()).update(statements)
    for row in catalogue_rows():
        key = row[0].strip("`")
        link = re.fullmatch(r"\[[^\]]+\]\(#([^)]+)\)", row[4])
        assert link, f"{key}: the section cell is not a link to a heading: {row[4]}"
        heading = by_anchor.get(link[1])
        assert heading is not None, f"{key}: no heading has the anchor #{link[1]}"
        assert key in stated_keys.get(heading, set()), f"{key}: '{heading}' has no example of it"


def test_every_link_within_the_page_leads_to_a_heading():
    anchors = {anchor(text) for _, _, text in headings()}
    links = set(re.findall(r"\]\(#([^)]+)\)", DOC.read_text(encoding="utf-8")))
    assert links <= anchors, sorted(links - anchors)


def test_every_expected_line_of_the_page_is_checked():
    found = [(where, who) for where, who, _ in expected_lines()]
    assert len(found) == len(set(found)), "two Expected lines for one section and subject"
    assert set(found) == CHECKED


def test_the_page_states_the_definitions_version_and_stands_alone():
    text = DOC.read_text(encoding="utf-8")
    assert f"`{DEFINITIONS_VERSION}`" in text
    # The page is the definition: it points at no document outside the repository.
    assert "DOMAIN.md" not in text
    assert "../shared" not in text and "shared/design" not in text
