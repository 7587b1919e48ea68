"""Template filters for the OKR pages: numbers with units, percents, statuses and
metric labels, written the same way on the board, the objective page and the value
stream page."""

from __future__ import annotations

import datetime as dt

from django import template

from metrics.definitions import METRICS
from portfolio.okrs import Status

register = template.Library()

# Units written without a space before them.
TIGHT_UNITS = frozenset({"%"})


def _number(value: float) -> str:
    """At most two decimals, none that say nothing (20, 16.5, 0.25)."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


@register.filter
def okr_value(value: float | None, unit: str = "") -> str:
    """A key result's number with its unit ("16.5 days", "45%"), or a dash for none."""
    if value is None:
        return "—"
    if not unit:
        return _number(value)
    return f"{_number(value)}{'' if unit in TIGHT_UNITS else ' '}{unit}"


@register.filter
def percent(share: float | None) -> str:
    """A share 0..1 as a whole percent ("42%"), or a dash when there is none."""
    return "—" if share is None else f"{round(share * 100)}%"


@register.filter
def svg_percent(share: float | None) -> str:
    """A share 0..1 as an SVG coordinate 0..100, always with a decimal point."""
    return f"{max(0.0, min(1.0, share or 0.0)) * 100:.1f}"


@register.filter
def status_label(status: str) -> str:
    return Status(status).label


@register.filter
def metric_label(key: str) -> str:
    metric = METRICS.get(key)
    return metric.label if metric else key


@register.filter
def as_datetime(iso: str | None) -> dt.datetime | None:
    """An ISO 8601 time (``KeyResultProgress.current_as_of``) as a datetime, for ``date``."""
    return dt.datetime.fromisoformat(iso) if iso else None
