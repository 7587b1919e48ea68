"""The shared chart builders (metrics.charts) on data the dashboards' tests do not reach:
people's text in charts, and series too short for matplotlib's own date axis."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from matplotlib.dates import num2date

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


MONDAY = dt.date(2026, 12, 7)


def drawn_range(monkeypatch, draw) -> tuple[dt.date, dt.date, str]:
    """The x range a chart was drawn with (first and last day shown) and its SVG."""
    figures = []
    to_svg = charts._to_svg

    def spy(fig, **kwargs):
        figures.append(fig)
        return to_svg(fig, **kwargs)

    monkeypatch.setattr(charts, "_to_svg", spy)
    svg = draw()
    low, high = figures[0].axes[0].get_xlim()
    return num2date(low).date(), num2date(high).date(), svg


TEN_WEEKS_BEFORE = MONDAY - dt.timedelta(weeks=10)


@pytest.mark.parametrize(
    ("draw", "first_week"),
    [
        # One week with data, the only week of the period.
        (lambda: charts.flow_time_trend_svg([MONDAY], [2.3], [3.1]), MONDAY),
        (lambda: charts.nps_trend_svg([MONDAY], [20.0]), MONDAY),
        (
            lambda: charts.velocity_by_type_svg([MONDAY], {"feature": [2], "defect": [0]}),
            MONDAY,
        ),
        # One week with data at the end of a period of weeks without any.
        (
            lambda: charts.flow_time_trend_svg(
                [TEN_WEEKS_BEFORE + dt.timedelta(weeks=n) for n in range(11)],
                [None] * 10 + [2.3],
                [None] * 10 + [3.1],
            ),
            TEN_WEEKS_BEFORE,
        ),
    ],
    ids=["flow-time", "nps", "velocity", "flow-time-after-empty-weeks"],
)
def test_a_series_with_one_week_of_data_keeps_its_time_axis_to_its_weeks(
    monkeypatch, draw, first_week
):
    """matplotlib widens a date range of one point by two years each side."""
    low, high, svg = drawn_range(monkeypatch, draw)
    # The weeks drawn, with a little room on either side, and no more.
    assert first_week - dt.timedelta(days=7) <= low < first_week
    assert MONDAY < high <= MONDAY + dt.timedelta(days=14)
    assert not [t for t in texts(svg) if re.search(r"20(1\d|2[0-57-9])", t)], texts(svg)
