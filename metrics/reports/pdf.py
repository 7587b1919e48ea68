"""The quarterly report as a PDF: ``templates/metrics/report.html`` printed by WeasyPrint.

A cover, a contents page, a summary, a page per value stream (its flow and DORA
figures beside the previous quarter's, DORA bands, the dashboards' charts drawn from
the frozen series by the same ``metrics.charts`` functions, its objectives), a page
per journey, every objective with its key results, and notes on the figures.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from metrics import charts
from metrics.definitions import DORA_KEYS, FLOW_KEYS, FLOW_TYPES, METRICS, Subject, keys_for
from metrics.reports.data import (
    SUMMARY_JOURNEY_KEYS,
    SUMMARY_STREAM_KEYS,
    progress_percent,
    report_local_time,
    report_time_zone,
)
from metrics.series import CFD_STATES
from metrics.tiles import metric_tile
from portfolio.okrs import Status

UNIT_SUFFIX = {"%": "%", "days": " d", "hours": " h"}


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _dates(values: list[str]) -> list[dt.date]:
    return [dt.date.fromisoformat(v) for v in values]


def _suffix(key: str, display: str) -> str:
    return display if display == "—" else display + UNIT_SUFFIX.get(METRICS[key].unit, "")


def _row(key: str, now: Any, before: Any) -> dict[str, Any]:
    """A table row of one metric: its label, both values as displayed, and its change,
    as the dashboards' tiles show them (metrics.tiles)."""
    tile = metric_tile(key, now, before)
    return {
        **tile,
        "short": METRICS[key].short_label,
        "display": _suffix(key, tile["display"]),
        "previous_display": _suffix(key, tile["previous_display"]),
    }


def _number(value: float | None, unit: str = "") -> str:
    """A key result's baseline, current or target value as people write it: 12, 0.5, 2.25."""
    if value is None:
        return "—"
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    if unit == "%":
        return f"{text}%"
    return f"{text} {unit}".strip()


def _objective(o: dict[str, Any]) -> dict[str, Any]:
    return {
        **o,
        "percent": progress_percent(o["progress"]),
        "status_label": Status(o["status"]).label,
        "krs": [
            {
                **kr,
                "percent": progress_percent(kr["progress"]),
                "status_label": Status(kr["status"]).label,
                "baseline_display": _number(kr["baseline"], kr["unit"]),
                "current_display": _number(kr["current"], kr["unit"]),
                "target_display": _number(kr["target"], kr["unit"]),
                "metric_label": (
                    f"{kr['metric']['subject_name']}: {METRICS[kr['metric']['key']].label}"
                    if kr["metric"]
                    else ""
                ),
            }
            for kr in o["key_results"]
        ],
    }


def _stream(vs: dict[str, Any], objectives: dict[int, dict[str, Any]]) -> dict[str, Any]:
    s = vs["series"]
    weeks, days = _dates(s["weeks"]), _dates(s["days"])
    # The frozen data is JSONB, which keeps no key order: stack the charts' series in
    # the order the dashboards do.
    velocity = {t: s["velocity"][t] for t in FLOW_TYPES}
    states = {state: s["states"][state] for state in CFD_STATES}
    velocity_by_type = {t: vs["metrics"][f"flow_velocity_{t}"] or 0 for t in FLOW_TYPES}
    dora = []
    for key in DORA_KEYS:
        row = _row(key, vs["metrics"][key], vs["previous"][key])
        row["band"] = vs["bands"][key]
        row["previous_band"] = vs["previous_bands"][key]
        dora.append(row)
    flow = []
    for key in FLOW_KEYS:
        row = _row(key, vs["metrics"][key], vs["previous"][key])
        # The per-type rows sit under their total, labelled by the type alone.
        item_type = key.rpartition("_")[2]
        if key.startswith("flow_distribution_") and item_type == FLOW_TYPES[0]:
            flow.append({"heading": "Flow distribution (share of items done)"})
        if item_type in FLOW_TYPES:
            row.update(label=item_type.capitalize(), sub=True)
        flow.append(row)
    return {
        **vs,
        "flow": flow,
        "dora": dora,
        "summary": [_row(k, vs["metrics"][k], vs["previous"][k]) for k in SUMMARY_STREAM_KEYS],
        "charts": {
            "velocity": _data_uri(charts.velocity_by_type_svg(weeks, velocity)),
            "flow_time": _data_uri(
                charts.flow_time_trend_svg(weeks, s["median_days"], s["p85_days"])
            ),
            # As wide as the page's other charts, so its text is as large as theirs.
            "cfd": _data_uri(charts.cumulative_flow_svg(days, states, width=7.0, height=2.5)),
            "distribution": _data_uri(charts.distribution_svg(velocity_by_type)),
        },
        "linked": [objectives[i] for i in vs["objectives"] if i in objectives],
    }


def _journey(j: dict[str, Any], objectives: dict[int, dict[str, Any]]) -> dict[str, Any]:
    weekly = j["weekly_nps"]
    return {
        **j,
        "kpis": [_row(k, j["metrics"][k], j["previous"][k]) for k in keys_for(Subject.JOURNEY)],
        "summary": [_row(k, j["metrics"][k], j["previous"][k]) for k in SUMMARY_JOURNEY_KEYS],
        "nps_chart": _data_uri(charts.nps_trend_svg(_dates(weekly["weeks"]), weekly["nps"])),
        "responses": sum(weekly["responses"]),
        "linked": [objectives[i] for i in j["objectives"] if i in objectives],
    }


def report_context(data: dict[str, Any]) -> dict[str, Any]:
    """What ``metrics/report.html`` shows, from the frozen data alone."""
    objectives = [_objective(o) for o in data["objectives"]]
    by_id = {o["id"]: o for o in objectives}
    statuses = [o["status"] for o in objectives]
    return {
        "data": data,
        "org": data["organization"],
        "quarter": data["quarter"],
        "in_progress": data["in_progress"],
        "date_from": dt.date.fromisoformat(data["period"]["from"]),
        "date_to": dt.date.fromisoformat(data["period"]["to"]),
        "quarter_end": dt.date.fromisoformat(data["quarter_end"]),
        "previous_quarter": data["previous"]["quarter"],
        "previous_from": dt.date.fromisoformat(data["previous"]["from"]),
        "previous_to": dt.date.fromisoformat(data["previous"]["to"]),
        "period_days": (
            dt.date.fromisoformat(data["period"]["to"])
            - dt.date.fromisoformat(data["period"]["from"])
        ).days
        + 1,
        "frozen_at": report_local_time(data, data["frozen_at"]),
        "frozen_by": data["frozen_by"],
        "definitions_version": data["definitions_version"],
        "dora_report_year": data["dora_report_year"],
        "streams": [_stream(vs, by_id) for vs in data["value_streams"]],
        "journeys": [_journey(j, by_id) for j in data["journeys"]],
        "objectives": objectives,
        "status_counts": [
            (Status(s).label, s, statuses.count(s)) for s in Status if statuses.count(s)
        ],
        "elapsed_percent": round(100 * data["okr_elapsed"]),
        "okr_chart": _data_uri(
            charts.okr_progress_svg(
                [(o["title"], o["progress"], o["status"]) for o in objectives],
                elapsed=data["okr_elapsed"],
            )
        )
        if objectives
        else None,
        "summary_stream_labels": [METRICS[k].short_label for k in SUMMARY_STREAM_KEYS],
        "summary_journey_labels": [METRICS[k].short_label for k in SUMMARY_JOURNEY_KEYS],
    }


def report_pdf(data: dict[str, Any]) -> bytes:
    # Imported here: WeasyPrint loads Pango when imported, which only this needs.
    from weasyprint import HTML

    # Django's date filter shows an aware time in the active time zone, and a worker has
    # none active (UTC): make it the organization's, as the pages are (tenancy middleware).
    with timezone.override(report_time_zone(data)):
        html = render_to_string("metrics/report.html", report_context(data))
    return HTML(string=html).write_pdf()
