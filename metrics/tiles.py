"""A metric's tile: its value beside the previous period's and the change between them,
as the value stream and journey dashboards, the streams overview, an objective's page
and the quarterly report's PDF show it.

The change is judged by which way the metric is better (``metrics.definitions``):
green for better, red for worse, grey where neither direction is.
"""

from __future__ import annotations

from typing import Any

from metrics.definitions import METRICS, Better
from metrics.engine import Value

# Digits a tile adds, at most, to tell its value from the previous one.
MAX_EXTRA_DIGITS = 3
# The words of a difference in a unit, singular and plural: a difference of
# percentages is in (percentage) points, never to be read as a relative change.
UNIT_WORDS = {
    "items": ("item", "items"),
    "%": ("point", "points"),
    "days": ("day", "days"),
    "hours": ("hour", "hours"),
    "score": ("point", "points"),
}
# Units a number is quoted without: events carry amounts without a currency.
UNITLESS = frozenset({"amount"})


def _format(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def metric_display(key: str, value: Value) -> str:
    """A metric's value as the pages show it: its unit's digits, "—" for none."""
    if value is None:
        return "—"
    return _format(value, METRICS[key].digits)


def metric_text(key: str, value: Value) -> str:
    """A metric's value with its digits and unit, as a sentence or a cell says it:
    "6.3 days", "1 item", "42%", "0.50 per day"; "—" for none. A score and an amount
    stand alone (an NPS is no count of points; amounts carry no currency)."""
    shown = metric_display(key, value)
    if value is None:
        return shown
    unit = METRICS[key].unit
    if unit == "%":
        return f"{shown}%"
    if unit in UNITLESS or unit == "score":
        return shown
    singular, plural = UNIT_WORDS.get(unit, (unit, unit))
    return f"{shown} {singular if shown == '1' else plural}"


def _digits_apart(value: float, previous: float, digits: int) -> int:
    """The fewest digits from ``digits`` on that show the two values differently."""
    for more in range(digits, digits + MAX_EXTRA_DIGITS + 1):
        if _format(value, more) != _format(previous, more):
            return more
    return digits + MAX_EXTRA_DIGITS


def _difference(unit: str, amount: float, digits: int) -> str:
    """A difference in the metric's unit: "2 items", "40 points", "1.5 days"."""
    text = _format(amount, digits)
    if unit in UNITLESS:
        return text
    singular, plural = UNIT_WORDS.get(unit, (unit, unit))
    return f"{text} {singular if text == '1' else plural}".strip()


def _judge(tile: dict[str, Any], key: str, change: float) -> None:
    tile["arrow"] = "▲" if change > 0 else "▼"
    better = METRICS[key].better
    if better != Better.NEITHER:
        tile["judgement"] = "good" if (change > 0) == (better == Better.UP) else "bad"


def metric_tile(key: str, value: Value, previous: Value) -> dict[str, Any]:
    """A headline number with its change against the previous period.

    The change is relative, in percent, except where a percent means nothing: from a
    previous value of 0 (undefined) it is the difference in the metric's unit, and an
    NPS's is in points (it runs from -100 to 100 through 0: -14 to -28 is not
    "-100%"). Under half a percent (or point) is no change: no arrow, no colour,
    rather than a red "▼ 0%". A change shows both values with the digits it takes
    to tell them apart ("2.26 ▼ 2% vs 2.31", not "2.3 ▼ 2% vs 2.3").

    Without a change, ``note`` says why: no data, no previous figure, or no change.
    """
    metric = METRICS[key]
    tile: dict[str, Any] = {
        "key": key,
        "label": metric.label,
        "unit": metric.unit,
        "value": value,
        "previous": previous,
        "display": metric_display(key, value),
        "previous_display": metric_display(key, previous),
        "change": None,
        "judgement": "neutral",
        "note": "no change",
    }
    if value is None:
        tile["note"] = "no data"
        return tile
    if previous is None:
        tile["note"] = "no previous figure"
        return tile
    delta = value - previous
    digits = metric.digits
    if metric.unit == "score":
        if round(delta) == 0:
            return tile
        change, moved = _difference(metric.unit, abs(delta), 0), delta
    elif previous == 0:
        if value == 0:
            return tile
        # A percent change from 0 is undefined: the difference tells it.
        shown = _digits_apart(value, previous, digits)
        change, moved = _difference(metric.unit, abs(delta), shown), delta
    else:
        relative = 100 * delta / abs(previous)
        if round(relative) == 0:
            return tile
        change, moved = f"{abs(relative):.0f}%", relative
    shown = _digits_apart(value, previous, digits)
    tile.update(
        change=change,
        note=None,
        display=_format(value, shown),
        previous_display=_format(previous, shown),
    )
    _judge(tile, key, moved)
    return tile
