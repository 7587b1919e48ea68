"""Charts as SVG text, drawn by matplotlib: the dashboard inlines them, the PDF report
embeds the same SVG.

Each chart function takes plain data (lists and dicts, as ``metrics.series`` and the
engine return) and answers an ``<svg>`` element as a string: no XML prolog, no
``<style>`` element and no ``style`` attributes, because the pages' Content
Security Policy (config/settings.py ``SECURE_CSP``) blocks inline styles without
its nonce; SVG presentation attributes carry the same styling and are allowed.
Text stays text (``svg.fonttype: none``): small, selectable and styled by the page.

matplotlib's object-oriented ``Figure`` is used, never ``pyplot``: no global figure
state, so concurrent requests cannot draw into each other's charts.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

import matplotlib

# Agg draws without a display; chosen before anything of matplotlib draws.
matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, DayLocator, date2num
from matplotlib.figure import Figure

from metrics.definitions import METRICS

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)

# The colours of static/css/app.css and dashboards.css, so charts match the page.
INK = "#1d2433"
MUTED = "#667085"
GRID = "#e4e7ec"
TYPE_COLORS = {"feature": "#2f5bd3", "defect": "#d92d20", "risk": "#f79009", "debt": "#7a5af8"}
STATE_COLORS = {"done": "#12b76a", "waiting": "#f79009", "active": "#2f5bd3", "new": "#d0d5dd"}
LINE_COLORS = ("#2f5bd3", "#f79009")

RC = {
    # Titles, units and labels are people's text: "$x^$" is text, never mathtext
    # (which would fail on it, or draw something else). Every chart draws in this
    # context, its text and ticks included (``_to_svg`` draws in it too).
    "text.parse_math": False,
    "svg.fonttype": "none",
    # Stable ids and no date stamp: the same data draws the same bytes.
    "svg.hashsalt": "throughline",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.edgecolor": GRID,
    "axes.labelcolor": MUTED,
    "axes.titlesize": 10,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "legend.frameon": False,
}
# The narrowest range a date axis shows, in days: one week of a weekly series.
MIN_DATE_SPAN_DAYS = 7
FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"

_DECLARATION = re.compile(r"\s*([a-z-]+)\s*:\s*(.+?)\s*$")
_STYLE_ELEMENT = re.compile(r"\*\s*\{([^}]*)\}")


def _declarations(style: str) -> list[tuple[str, str]]:
    pairs = []
    for part in style.split(";"):
        match = _DECLARATION.match(part)
        if match:
            pairs.append((match[1], match[2]))
    return pairs


def _to_svg(fig: Figure, *, chart_id: str, title: str) -> str:
    """The figure as CSP-safe inline SVG (see the module docstring)."""
    buffer = io.StringIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    # matplotlib's own output, never user input: the stdlib parser is safe here.
    root = ET.fromstring(buffer.getvalue().encode())  # noqa: S314
    # The one <style> matplotlib writes sets defaults for every element: make them
    # inherited attributes of the root instead.
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag == f"{{{SVG_NS}}}style":
                for rule in _STYLE_ELEMENT.findall(child.text or ""):
                    for name, value in _declarations(rule):
                        root.set(name, value)
                parent.remove(child)
            elif child.tag == f"{{{SVG_NS}}}metadata":
                parent.remove(child)
    # Several charts share one page: prefix every id so they never collide.
    for el in root.iter():
        style = el.attrib.pop("style", None)
        if style:
            for name, value in _declarations(style):
                el.set(name, FONT_FAMILY if name == "font-family" else value)
        if "id" in el.attrib:
            el.set("id", f"{chart_id}-{el.get('id')}")
        for attr in ("clip-path", "mask", "filter"):
            if attr in el.attrib:
                el.set(attr, el.get(attr).replace("url(#", f"url(#{chart_id}-"))
        href = el.get(f"{{{XLINK_NS}}}href")
        if href and href.startswith("#"):
            el.set(f"{{{XLINK_NS}}}href", f"#{chart_id}-{href[1:]}")
    # The page sizes the chart (CSS width), the viewBox keeps its proportions.
    for attr in ("width", "height"):
        root.attrib.pop(attr, None)
    root.set("role", "img")
    root.set("aria-labelledby", f"{chart_id}-title")
    root.set("class", "chart")
    title_el = ET.Element(f"{{{SVG_NS}}}title", {"id": f"{chart_id}-title"})
    title_el.text = title
    root.insert(0, title_el)
    # ElementTree's prefixes are global and other libraries change them (WeasyPrint's
    # PDF metadata registers its own default namespace): claim ours before writing.
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    return ET.tostring(root, encoding="unicode")


def _figure(width: float = 7.0, height: float = 2.8) -> tuple[Figure, Axes]:
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height), layout="constrained")
        ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    return fig, ax


def _no_data(ax: Axes) -> None:
    ax.text(0.5, 0.5, "No data in this period", transform=ax.transAxes, ha="center", color=MUTED)
    ax.set_xticks([])
    ax.set_yticks([])


def _date_range(ax: Axes, days: Sequence[dt.date]) -> tuple[float, float]:
    """The x range of an autoscaled date axis: the series' dates, those without a
    value included, and whatever is drawn (bars reach past their date); a week at
    least, with a margin.

    matplotlib would take the range of the points drawn alone: one week with a value
    (the only one, or among weeks without any) has no width, and its date locator
    widens a range of no width by two years on each side.
    """
    low, high = date2num(min(days)), date2num(max(days))
    drawn_low, drawn_high = ax.dataLim.intervalx
    if math.isfinite(drawn_low) and math.isfinite(drawn_high):
        low, high = min(low, drawn_low), max(high, drawn_high)
    if high - low < MIN_DATE_SPAN_DAYS:
        widen = (MIN_DATE_SPAN_DAYS - (high - low)) / 2
        low, high = low - widen, high + widen
    margin = (high - low) * ax.margins()[0]
    return low - margin, high + margin


def _date_axis(ax: Axes, days: Sequence[dt.date]) -> None:
    """Date ticks for the x axis; its range too, unless the chart set it."""
    if ax.get_autoscalex_on() and days:
        ax.set_xlim(*_date_range(ax, days))
    low, high = ax.get_xlim()
    # AutoDateLocator finds no interval for a few days' range: tick each day then.
    short = high - low <= 10
    locator = DayLocator() if short else AutoDateLocator(minticks=2, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def velocity_by_type_svg(weeks: Sequence[dt.date], velocity: Mapping[str, Sequence[int]]) -> str:
    """Weekly flow velocity, bars stacked by flow item type (week = its Monday)."""
    with matplotlib.rc_context(RC):
        fig, ax = _figure()
        if not weeks or not any(sum(v) for v in velocity.values()):
            _no_data(ax)
        else:
            bottom = [0] * len(weeks)
            for item_type, counts in velocity.items():
                ax.bar(
                    weeks,
                    counts,
                    width=5,
                    bottom=bottom,
                    label=item_type,
                    color=TYPE_COLORS.get(item_type),
                    align="edge",
                )
                bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
            ax.set_ylabel("items done")
            _date_axis(ax, weeks)
            ax.legend(loc="upper left", ncols=len(velocity), fontsize=8)
            ax.set_ylim(0, max(bottom) * 1.25 or 1)
    return _to_svg(fig, chart_id="velocity", title="Weekly flow velocity by item type")


def flow_time_trend_svg(
    weeks: Sequence[dt.date], median: Sequence[float | None], p85: Sequence[float | None]
) -> str:
    """Weekly flow time, median and 85th percentile in days; weeks without done items
    leave a gap rather than a zero."""
    with matplotlib.rc_context(RC):
        fig, ax = _figure()
        if not any(v is not None for v in median):
            _no_data(ax)
        else:
            for label, values, color in (
                ("median", median, LINE_COLORS[0]),
                ("85th percentile", p85, LINE_COLORS[1]),
            ):
                ys = [float("nan") if v is None else v for v in values]
                ax.plot(weeks, ys, marker="o", markersize=3, label=label, color=color)
            ax.set_ylabel("days")
            # Room above the highest point for the legend, which sits over the first
            # weeks: a stream with data in its first week only has its points there.
            highest = max(v for v in (*median, *p85) if v is not None)
            ax.set_ylim(0, highest * 1.3 or 1)
            _date_axis(ax, weeks)
            ax.legend(loc="upper left", ncols=2, fontsize=8)
    return _to_svg(fig, chart_id="flowtime", title="Weekly flow time, median and 85th percentile")


def cumulative_flow_svg(
    days: Sequence[dt.date],
    states: Mapping[str, Sequence[int]],
    *,
    width: float = 10.5,
    height: float = 3.0,
) -> str:
    """Cumulative flow: items per state category at the end of each day, stacked.

    The size is in inches: the dashboard's is the full page width, wider than its
    other charts so its text keeps their size; a printed page is narrower."""
    with matplotlib.rc_context(RC):
        fig, ax = _figure(width=width, height=height)
        if not days or not any(sum(v) for v in states.values()):
            _no_data(ax)
        else:
            names = list(states)
            ax.stackplot(
                days,
                [states[n] for n in names],
                labels=names,
                colors=[STATE_COLORS.get(n) for n in names],
                linewidth=0,
            )
            ax.set_ylabel("items")
            ax.set_xlim(days[0], days[-1])
            _date_axis(ax, days)
            handles, labels = ax.get_legend_handles_labels()
            # Top of the stack first, as the eye reads the bands.
            ax.legend(handles[::-1], labels[::-1], loc="upper left", fontsize=8, ncols=len(names))
            ax.set_ylim(0, max(map(sum, zip(*states.values(), strict=True))) * 1.2 or 1)
    return _to_svg(fig, chart_id="cfd", title="Cumulative flow by state category")


def distribution_svg(velocity: Mapping[str, int]) -> str:
    """Flow distribution: done items per type, as horizontal bars labelled with percents."""
    total = sum(velocity.values())
    with matplotlib.rc_context(RC):
        fig, ax = _figure(width=4.2, height=2.2)
        if not total:
            _no_data(ax)
        else:
            names = list(velocity)[::-1]
            counts = [velocity[n] for n in names]
            bars = ax.barh(names, counts, color=[TYPE_COLORS.get(n) for n in names])
            ax.bar_label(
                bars,
                labels=[f"{c} ({100 * c / total:.0f}%)" for c in counts],
                padding=3,
                color=INK,
                fontsize=8,
            )
            ax.grid(axis="y", visible=False)
            ax.grid(axis="x", color=GRID, linewidth=0.6)
            ax.set_xlim(0, max(counts) * 1.35)
            ax.set_xlabel("items done")
    return _to_svg(fig, chart_id="distribution", title="Flow distribution by item type")


def flow_load_svg(days: Sequence[dt.date], wip: Sequence[int]) -> str:
    """Flow load over time: items active or waiting at the end of each day."""
    with matplotlib.rc_context(RC):
        fig, ax = _figure()
        if not days or not any(wip):
            _no_data(ax)
        else:
            ax.fill_between(days, wip, step="post", color=LINE_COLORS[0], alpha=0.15, linewidth=0)
            ax.step(days, wip, where="post", color=LINE_COLORS[0], linewidth=1.2)
            ax.set_ylabel("items in progress")
            ax.set_xlim(days[0], days[-1])
            ax.set_ylim(0, max(wip) * 1.2)
            _date_axis(ax, days)
    return _to_svg(fig, chart_id="load", title="Flow load (work in progress) per day")


def nps_trend_svg(weeks: Sequence[dt.date], nps: Sequence[float | None]) -> str:
    """Weekly NPS (week = its Monday) on the scale's whole range, -100 to 100; weeks
    without responses leave a gap rather than a zero (a zero NPS is a real score)."""
    with matplotlib.rc_context(RC):
        fig, ax = _figure()
        if not any(v is not None for v in nps):
            _no_data(ax)
        else:
            ys = [float("nan") if v is None else v for v in nps]
            ax.axhline(0, color=MUTED, linewidth=0.8)
            # Markers: a week between two gaps is still seen.
            ax.plot(weeks, ys, marker="o", markersize=3, color=LINE_COLORS[0])
            ax.set_ylabel(METRICS["nps"].short_label)
            # A little beyond the scale, so a week at -100 or 100 is not cut in half.
            ax.set_ylim(-108, 108)
            ax.set_yticks([-100, -50, 0, 50, 100])
            _date_axis(ax, weeks)
    return _to_svg(fig, chart_id="nps", title="Weekly Net Promoter Score")


def sparkline_svg(
    months: Sequence[dt.date], values: Sequence[float | None], *, chart_id: str, title: str
) -> str:
    """A tile's small trend line: one value a month, no axes. A month without a value
    leaves a gap; the last value is marked, as it is the one nearest the tile's
    number. ``title`` is the chart's accessible name (it should carry the values)."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(2.4, 0.55), layout="constrained")
        ax = fig.add_subplot()
        ax.set_axis_off()
        ys = [float("nan") if v is None else v for v in values]
        known = [(m, v) for m, v in zip(months, values, strict=True) if v is not None]
        if known:
            ax.plot(months, ys, color=LINE_COLORS[0], linewidth=1.4, marker="o", markersize=2)
            ax.plot(*known[-1], marker="o", markersize=4, color=LINE_COLORS[0])
            low, high = min(v for _, v in known), max(v for _, v in known)
            # A flat line sits in the middle rather than on the edge.
            pad = (high - low) * 0.15 or abs(high) * 0.1 or 1
            ax.set_ylim(low - pad, high + pad)
            ax.set_xlim(months[0], months[-1])
        else:
            ax.text(
                0.5,
                0.5,
                "no monthly values",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color=MUTED,
                fontsize=8,
            )
    return _to_svg(fig, chart_id=chart_id, title=title)


def key_result_history_svg(
    points: Sequence[tuple[dt.datetime, float | None]],
    *,
    baseline: float,
    target: float,
    start: dt.date,
    end: dt.date,
    unit: str = "",
    until: dt.datetime | None = None,
    chart_id: str = "krhistory",
    title: str = "Key result history",
) -> str:
    """A key result's values over its quarter (docs/metrics.md#current-value): each
    value holds until the next, drawn as a step line, with the baseline and the target
    as dashed lines; the x range is the quarter, ``start`` to the end of ``end``.

    ``points`` are (naive local time, value), oldest first; a value of None (a metric
    undefined at that reading) leaves a gap. ``until`` (now, within the quarter) carries
    the last value on to that time. Several charts share a page: give each its own
    ``chart_id``."""
    first = dt.datetime.combine(start, dt.time())
    last = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    with matplotlib.rc_context(RC):
        fig, ax = _figure(width=7.0, height=2.4)
        ax.axhline(
            baseline, color=MUTED, linestyle="--", linewidth=1, label=f"baseline {baseline:g}"
        )
        ax.axhline(
            target,
            color=STATE_COLORS["done"],
            linestyle="--",
            linewidth=1.2,
            label=f"target {target:g}",
        )
        known = [v for _, v in points if v is not None]
        if not known:
            ax.text(
                0.5,
                0.5,
                "No values yet",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color=MUTED,
            )
        else:
            xs = [t for t, _ in points]
            ys = [float("nan") if v is None else v for _, v in points]
            if until is not None and until > xs[-1]:
                xs, ys = [*xs, until], [*ys, ys[-1]]
            ax.step(xs, ys, where="post", color=LINE_COLORS[0], linewidth=1.6, label="value")
            ax.plot(
                [t for t, _ in points],
                ys[: len(points)],
                linestyle="none",
                marker="o",
                markersize=3.5,
                color=LINE_COLORS[0],
                # A reading at the quarter's end sits on the edge: draw it whole.
                clip_on=False,
            )
        low, high = min(baseline, target, *known), max(baseline, target, *known)
        pad = (high - low) * 0.12 or abs(high) * 0.1 or 1
        ax.set_ylim(low - pad, high + pad)
        ax.set_xlim(first, last)
        if unit:
            ax.set_ylabel(unit)
        _date_axis(ax, [start, end])
        ax.legend(loc="upper left", bbox_to_anchor=(0, 1.18), ncols=3, fontsize=8)
    return _to_svg(fig, chart_id=chart_id, title=title)


# The colours of portfolio.okrs.Status, as the OKR pages and the report show them.
STATUS_COLORS = {
    "on_track": "#12b76a",
    "at_risk": "#f79009",
    "off_track": "#d92d20",
    "no_data": "#d0d5dd",
}
OKR_LABEL_CHARS = 44


def okr_progress_svg(objectives: Sequence[tuple[str, float | None, str]], *, elapsed: float) -> str:
    """Objectives' progress (docs/metrics.md#objective-progress), one horizontal bar
    each in the colour of its status, against the share of the quarter gone by (a dashed
    line), which is what the status judges it by. ``objectives`` are (title, progress 0..1 or None,
    status), drawn top to bottom in their order."""
    count = len(objectives)
    with matplotlib.rc_context(RC):
        fig, ax = _figure(width=7.0, height=0.75 + 0.34 * max(count, 2))
        if not count:
            _no_data(ax)
        else:
            rows = list(range(count))[::-1]
            labels = [
                t if len(t) <= OKR_LABEL_CHARS else t[: OKR_LABEL_CHARS - 1] + "…"
                for t, _, _ in objectives
            ]
            values = [0.0 if p is None else 100 * p for _, p, _ in objectives]
            ax.barh(rows, [100] * count, height=0.55, color=GRID, linewidth=0)
            bars = ax.barh(
                rows,
                values,
                height=0.55,
                color=[STATUS_COLORS.get(s, MUTED) for _, _, s in objectives],
                linewidth=0,
            )
            ax.bar_label(
                bars,
                labels=["no data" if p is None else f"{100 * p:.0f}%" for _, p, _ in objectives],
                padding=3,
                color=INK,
                fontsize=8,
            )
            ax.axvline(100 * elapsed, color=INK, linestyle="--", linewidth=1)
            ax.annotate(
                f"quarter elapsed {100 * elapsed:.0f}%",
                xy=(100 * elapsed, 1),
                xycoords=("data", "axes fraction"),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                color=INK,
                fontsize=8,
            )
            ax.set_yticks(rows, labels)
            ax.tick_params(axis="y", length=0, labelcolor=INK)
            ax.set_xlim(0, 112)
            ax.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
            ax.grid(axis="y", visible=False)
            ax.grid(axis="x", color=GRID, linewidth=0.6)
            ax.spines["left"].set_visible(False)
    return _to_svg(fig, chart_id="okrprogress", title="Objectives' progress against the quarter")
