"""Template filters for metric values, read from their declaration (metrics.definitions)."""

from __future__ import annotations

from django import template

from metrics.engine import Value
from metrics.tiles import metric_text

register = template.Library()


@register.filter
def metric(value: Value, key: str) -> str:
    """``{{ value|metric:"flow_time_median_days" }}``: "6.3 days", "—" for none.

    An undeclared key raises KeyError rather than printing a blank: a misspelt key in
    a template is a bug to see, not a number to lose."""
    return metric_text(key, value)
