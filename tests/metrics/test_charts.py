"""The shared chart builders (metrics.charts) on data the dashboards' tests do not reach:
people's text in charts, and series too short for matplotlib's own date axis."""

from __future__ import annotations

import datetime as dt
import re

from metrics import charts


def texts(svg: str) -> list[str]:
    """The SVG's text, element by element (text stays text: svg.fonttype none)."""
    return re.findall(r"<text\b[^>]*>([^<]*)</text>", svg)


def test_dollar_signs_in_peoples_text_are_drawn_as_typed():
    history = charts.key_result_history_svg(
        [(dt.datetime(2026, 7, 6, 9), 3.0)],
        baseline=0,
        target=10,
        start=dt.date(2026, 7, 1),
        end=dt.date(2026, 9, 30),
        unit="$x^$",
    )
    assert "$x^$" in texts(history)
    progress = charts.okr_progress_svg(
        [("Cut cost by $x^$", 0.5, "on_track"), ("Save $5 and $10", None, "no_data")],
        elapsed=0.4,
    )
    assert {"Cut cost by $x^$", "Save $5 and $10"} <= set(texts(progress))
