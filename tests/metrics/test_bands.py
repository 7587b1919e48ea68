"""DORA bands by report year, at and around every limit."""

import pytest

from metrics.bands import NO_DEPLOYMENTS_TEXT, Band, band, band_and_text

H = 1.0
DAY = 24 * H


@pytest.mark.parametrize(
    ("key", "value", "year", "expected"),
    [
        # 2023: deployment frequency per day: >=1 elite, >=1/7 high, >=1/30 medium.
        ("deployment_frequency_per_day", 3.0, 2023, Band.ELITE),
        ("deployment_frequency_per_day", 1.0, 2023, Band.ELITE),
        ("deployment_frequency_per_day", 0.5, 2023, Band.HIGH),
        ("deployment_frequency_per_day", 1 / 7, 2023, Band.HIGH),
        ("deployment_frequency_per_day", 0.1, 2023, Band.MEDIUM),
        ("deployment_frequency_per_day", 1 / 31, 2023, Band.LOW),
        # 2021: monthly is still high; every six months is medium.
        ("deployment_frequency_per_day", 1 / 30, 2021, Band.HIGH),
        ("deployment_frequency_per_day", 1 / 100, 2021, Band.MEDIUM),
        ("deployment_frequency_per_day", 1 / 200, 2021, Band.LOW),
        # 2023 lead time: < 1 day elite, < 1 week high, < 1 month medium.
        ("lead_time_for_changes_median_hours", 23.9, 2023, Band.ELITE),
        ("lead_time_for_changes_median_hours", DAY, 2023, Band.HIGH),
        ("lead_time_for_changes_median_hours", 7 * DAY, 2023, Band.MEDIUM),
        ("lead_time_for_changes_median_hours", 30 * DAY, 2023, Band.LOW),
        # 2021 lead time: < 1 hour elite, < 1 week high, < 6 months medium.
        ("lead_time_for_changes_median_hours", 0.5, 2021, Band.ELITE),
        ("lead_time_for_changes_median_hours", 23.9, 2021, Band.HIGH),
        ("lead_time_for_changes_median_hours", 100 * DAY, 2021, Band.MEDIUM),
        ("lead_time_for_changes_median_hours", 200 * DAY, 2021, Band.LOW),
        # Change failure rate bands include their upper bound.
        ("change_failure_rate", 5.0, 2023, Band.ELITE),
        ("change_failure_rate", 5.1, 2023, Band.HIGH),
        ("change_failure_rate", 15.0, 2023, Band.MEDIUM),
        ("change_failure_rate", 15.1, 2023, Band.LOW),
        ("change_failure_rate", 15.0, 2021, Band.ELITE),
        ("change_failure_rate", 20.0, 2021, Band.HIGH),
        ("change_failure_rate", 30.0, 2021, Band.MEDIUM),
        ("change_failure_rate", 31.0, 2021, Band.LOW),
        # Time to restore: < 1 hour, < 1 day, < 1 week (both years).
        ("time_to_restore_median_hours", 0.9, 2023, Band.ELITE),
        ("time_to_restore_median_hours", 1.0, 2023, Band.HIGH),
        ("time_to_restore_median_hours", DAY, 2021, Band.MEDIUM),
        ("time_to_restore_median_hours", 7 * DAY, 2021, Band.LOW),
    ],
)
def test_bands(key, value, year, expected):
    assert band(key, value, year=year, deployments_on_record=True) == expected


def test_null_values_and_keys_without_bands_have_no_band():
    assert band("change_failure_rate", None) is None
    assert band("flow_velocity", 12.0) is None


@pytest.mark.parametrize("year", [2023, 2021])
def test_no_deployment_on_record_gives_deployment_frequency_no_band(year):
    """A stream that has never recorded a deployment has a deployment frequency of 0 and
    no data, not "less than monthly"; one that records deployments but made none is low."""
    key = "deployment_frequency_per_day"
    assert band(key, 0.0, year=year, deployments_on_record=False) is None
    assert band_and_text(key, 0.0, year=year, deployments_on_record=False) == (
        None,
        NO_DEPLOYMENTS_TEXT,
    )
    assert band(key, 0.0, year=year, deployments_on_record=True) == Band.LOW
    # The other keys are null without data: a value is a band whatever the record says.
    assert band("change_failure_rate", 0.0, year=year, deployments_on_record=False) == Band.ELITE
    assert band_and_text("change_failure_rate", None, year=year) == (None, "")


def test_deployment_frequency_must_be_told_whether_deployments_are_on_record():
    with pytest.raises(TypeError, match="needs deployments_on_record"):
        band("deployment_frequency_per_day", 0.0)
