"""A metric's tile (metrics.tiles): the value beside the previous period's and the
change between them, as every dashboard and the PDF report show it."""

from __future__ import annotations

import pytest

from metrics.tiles import metric_tile


def test_a_change_from_zero_is_told_as_the_difference_in_the_metrics_unit():
    """A percent change from 0 is undefined: 0 -> 2 items is 2 items up, not "no change"."""
    velocity = metric_tile("flow_velocity", 2, 0)
    assert (velocity["change"], velocity["arrow"], velocity["judgement"]) == (
        "2 items",
        "▲",
        "good",
    )
    assert metric_tile("flow_velocity", 1, 0)["change"] == "1 item"
    # A percentage's difference is in points: 0 % -> 40 % is 40 points, not 40 %.
    failures = metric_tile("change_failure_rate", 40.0, 0.0)
    assert (failures["change"], failures["arrow"], failures["judgement"]) == (
        "40 points",
        "▲",
        "bad",
    )
    assert metric_tile("flow_time_median_days", 1.5, 0.0)["change"] == "1.5 days"
    # Less than the unit's digits show: as many more as it takes.
    assert metric_tile("deployment_frequency_per_day", 0.004, 0.0)["change"] == "0.004 per day"


def test_a_change_is_relative_in_percent_otherwise():
    tile = metric_tile("flow_velocity", 3, 2)
    assert (tile["change"], tile["arrow"], tile["judgement"]) == ("50%", "▲", "good")


@pytest.mark.parametrize(
    ("key", "value", "previous", "note"),
    [
        ("flow_velocity", 2, None, "no previous figure"),
        ("nps", 20.0, None, "no previous figure"),
        ("flow_velocity", 2, 2, "no change"),
        ("flow_time_median_days", 2.001, 2.0, "no change"),  # under half a percent
        ("nps", 10.4, 10.0, "no change"),  # under half a point
        ("flow_velocity", None, 2, "no data"),
        ("flow_velocity", None, None, "no data"),
    ],
)
def test_a_tile_without_a_change_says_why(key, value, previous, note):
    tile = metric_tile(key, value, previous)
    assert tile["change"] is None and tile["judgement"] == "neutral"
    assert tile["note"] == note


@pytest.mark.parametrize(
    ("key", "value", "previous", "shown"),
    [
        # 2.26 and 2.31 days both read 2.3: the change (2%) needs a digit more to be seen.
        ("flow_time_median_days", 2.26, 2.31, ("2.26", "2.31", "2%", "▼")),
        ("flow_velocity", 3, 2, ("3", "2", "50%", "▲")),  # told apart as they are
        # NPS moves 0.6 points ("1 point") between 32.8 and 33.4, both "33".
        ("nps", 33.4, 32.8, ("33.4", "32.8", "1 point", "▲")),
        ("flow_efficiency", 50.2, 49.8, ("50.2", "49.8", "1%", "▲")),
    ],
)
def test_a_change_shows_both_values_with_the_digits_that_tell_them_apart(
    key, value, previous, shown
):
    tile = metric_tile(key, value, previous)
    assert (tile["display"], tile["previous_display"], tile["change"], tile["arrow"]) == shown
