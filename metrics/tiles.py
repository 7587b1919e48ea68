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

# Digits shown after the decimal point, by unit: NPS is quoted as a whole number,
# amounts to the cent.
DIGITS = {"items": 0, "%": 0, "days": 1, "hours": 1, "per day": 2, "score": 0, "amount": 2}


def metric_display(key: str, value: Value) -> str:
    """A metric's value as the pages show it: its unit's digits, "—" for none."""
    if value is None:
        return "—"
    digits = DIGITS.get(METRICS[key].unit, 1)
    return f"{value:,.{digits}f}"


def _judge(tile: dict[str, Any], key: str, change: float) -> None:
    tile["arrow"] = "▲" if change > 0 else "▼"
    better = METRICS[key].better
    if better != Better.NEITHER:
        tile["judgement"] = "good" if (change > 0) == (better == Better.UP) else "bad"


def metric_tile(key: str, value: Value, previous: Value) -> dict[str, Any]:
    """A headline number with its change against the previous period."""
    metric = METRICS[key]
    tile: dict[str, Any] = {
        "key": key,
        "label": metric.label,
        "unit": metric.unit,
        "value": value,
        "display": metric_display(key, value),
        "previous_display": metric_display(key, previous),
        "change": None,
        "judgement": "neutral",
    }
    if value is None or previous is None or value == previous:
        return tile
    if metric.unit == "score":
        # NPS runs from -100 to 100 through 0: a percent change of it means nothing
        # (-14 to -28 is not "-100%"), so its change is told in points.
        delta = value - previous
        if round(delta) != 0:
            tile["change"] = f"{abs(delta):.0f} point{'' if round(abs(delta)) == 1 else 's'}"
            _judge(tile, key, delta)
        return tile
    if previous == 0:
        return tile
    change = 100 * (value - previous) / abs(previous)
    if round(change) == 0:
        # Under half a percent reads as "0%": no arrow, no colour, rather than a red ▼ 0%.
        return tile
    tile["change"] = f"{abs(change):.0f}%"
    _judge(tile, key, change)
    return tile
