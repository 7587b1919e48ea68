"""DORA performance bands (elite, high, medium, low), by report year.

Thresholds as published in the DORA State of DevOps reports and tabulated in
Apache DevLake's `dora_benchmarks` (plugins/dora, migration 20240223): the
2023 report is the default; an organization may choose the 2021 report. Each
band is stated on the unit of this product's metric keys (docs/metrics.md#dora-metrics):
deployments per day, hours, and percent. "On demand" counts as at least one
deployment a day; a month is 30 days and six months 182.5 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DAY = 24.0  # hours
WEEK = 7 * DAY
MONTH = 30 * DAY
SIX_MONTHS = 182.5 * DAY


class Band(StrEnum):
    ELITE = "elite"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


REPORT_YEARS = (2023, 2021)
DEFAULT_REPORT_YEAR = 2023


@dataclass(frozen=True)
class Thresholds:
    """A metric's band limits: the value at or beyond which each band starts.

    ``higher_is_better`` says which way "beyond" points. A value reaching the
    elite limit is elite, else one reaching the high limit is high, and so on.
    """

    elite: float
    high: float
    medium: float
    higher_is_better: bool
    text: dict[Band, str]


def _t(elite_at: float, high_at: float, medium_at: float, up: bool, **text: str) -> Thresholds:
    return Thresholds(elite_at, high_at, medium_at, up, {Band(k): v for k, v in text.items()})


# For lower-is-better metrics a band needs value < limit ("less than a day"),
# except change failure rate, whose bands include their upper bound (0-5%).
BANDS: dict[int, dict[str, Thresholds]] = {
    2023: {
        "deployment_frequency_per_day": _t(
            1.0,
            1 / 7,
            1 / 30,
            True,
            elite="on demand (daily or more)",
            high="daily to weekly",
            medium="weekly to monthly",
            low="less than monthly",
        ),
        "lead_time_for_changes_median_hours": _t(
            DAY,
            WEEK,
            MONTH,
            False,
            elite="less than a day",
            high="a day to a week",
            medium="a week to a month",
            low="more than a month",
        ),
        "change_failure_rate": _t(
            5.0,
            10.0,
            15.0,
            False,
            elite="0-5%",
            high="5-10%",
            medium="10-15%",
            low="more than 15%",
        ),
        "time_to_restore_median_hours": _t(
            1.0,
            DAY,
            WEEK,
            False,
            elite="less than an hour",
            high="less than a day",
            medium="a day to a week",
            low="more than a week",
        ),
    },
    2021: {
        "deployment_frequency_per_day": _t(
            1.0,
            1 / 30,
            1 / 182.5,
            True,
            elite="on demand (daily or more)",
            high="daily to monthly",
            medium="monthly to every six months",
            low="less than every six months",
        ),
        "lead_time_for_changes_median_hours": _t(
            1.0,
            WEEK,
            SIX_MONTHS,
            False,
            elite="less than an hour",
            high="less than a week",
            medium="a week to six months",
            low="more than six months",
        ),
        "change_failure_rate": _t(
            15.0,
            20.0,
            30.0,
            False,
            elite="0-15%",
            high="16-20%",
            medium="21-30%",
            low="more than 30%",
        ),
        "time_to_restore_median_hours": _t(
            1.0,
            DAY,
            WEEK,
            False,
            elite="less than an hour",
            high="less than a day",
            medium="a day to a week",
            low="more than a week",
        ),
    },
}

# Change failure rate bands are closed above ("0-5%" includes 5%).
_INCLUSIVE = {"change_failure_rate"}

# Deployment frequency is 0, not null, over a period without deployments: its days
# are never empty. That 0 is a measurement (less than monthly) for a stream that
# records its deployments, and no data for one that has never recorded any. The
# other DORA keys are null without data (no changes, deployments or incidents).
NEEDS_DEPLOYMENTS = frozenset({"deployment_frequency_per_day"})
NO_DEPLOYMENTS_TEXT = "no data: no production deployment on record"


def band(
    key: str,
    value: float | None,
    *,
    year: int = DEFAULT_REPORT_YEAR,
    deployments_on_record: bool | None = None,
) -> Band | None:
    """The band of a DORA metric's value in the given report year; None when the
    value is undefined (null), the key has no bands, or, for the keys of
    NEEDS_DEPLOYMENTS, the subject has no production deployment on record up to the
    end of the period (``engine.streams_with_deployments``), which those keys must
    be told."""
    limits = BANDS[year].get(key)
    if limits is None or value is None:
        return None
    if key in NEEDS_DEPLOYMENTS:
        if deployments_on_record is None:
            raise TypeError(f"the band of {key} needs deployments_on_record")
        if not deployments_on_record:
            return None
    for name, limit in (
        (Band.ELITE, limits.elite),
        (Band.HIGH, limits.high),
        (Band.MEDIUM, limits.medium),
    ):
        if limits.higher_is_better:
            reached = value >= limit
        elif key in _INCLUSIVE:
            reached = value <= limit
        else:
            reached = value < limit
        if reached:
            return name
    return Band.LOW


def band_and_text(
    key: str,
    value: float | None,
    *,
    year: int = DEFAULT_REPORT_YEAR,
    deployments_on_record: bool | None = None,
) -> tuple[Band | None, str]:
    """The band (``band``) and its words in the report year; without a band for a value
    that is not null, the words say why (no data); for a null value, no words (the
    pages say "no data" for every null metric)."""
    found = band(key, value, year=year, deployments_on_record=deployments_on_record)
    if found is not None:
        return found, BANDS[year][key].text[found]
    if value is not None and key in NEEDS_DEPLOYMENTS and key in BANDS[year]:
        return None, NO_DEPLOYMENTS_TEXT
    return None, ""
