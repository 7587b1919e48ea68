"""The ``metric`` template filter: a metric's value with its declared digits and unit."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from metrics.definitions import METRICS


def render(value, key: str) -> str:
    template = Template("{% load metric_tags %}{{ value|metric:key }}")
    return template.render(Context({"value": value, "key": key}))


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("flow_time_median_days", 6.25, "6.2 days"),
        ("flow_time_median_days", 6.3, "6.3 days"),
        ("flow_velocity", 12, "12 items"),
        ("flow_velocity", 1, "1 item"),
        ("flow_velocity", 1234, "1,234 items"),
        ("flow_efficiency", 41.6, "42%"),
        ("deployment_frequency_per_day", 0.5, "0.50 per day"),
        ("lead_time_for_changes_median_hours", 30.04, "30.0 hours"),
        ("nps", -14.2, "-14"),
        ("cost_per_acquisition", 1234.5, "1,234.50"),
    ],
)
def test_a_value_shows_with_its_metrics_digits_and_unit(key, value, text):
    assert render(value, key) == text


def test_no_value_is_a_dash():
    assert render(None, "flow_time_median_days") == "—"


def test_it_reads_the_digits_the_metric_declares():
    metric = METRICS["deployment_frequency_per_day"]
    assert render(0.123456, metric.key) == f"{0.123456:.{metric.digits}f} per day"


def test_an_undeclared_key_is_an_error_of_the_template_not_a_silent_blank():
    with pytest.raises(KeyError):
        render(1.0, "flow_tme_median_days")


def test_the_filter_in_a_written_template():
    template = Template('{% load metric_tags %}{{ v|metric:"flow_time_median_days" }}')
    assert template.render(Context({"v": 6.3})) == "6.3 days"
