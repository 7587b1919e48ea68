"""The metric keys of docs/metrics.md#catalogue: each declared once, with its family,
unit, label, short label, digits and which way is better.

This is the catalogue every other part names metrics by (key results, the ``kpis``
JSON, dashboards, reports): a page chooses which keys it shows, and reads what they are
from here. Each key's definition is the one in docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Better(StrEnum):
    UP = "up"
    DOWN = "down"
    NEITHER = "neither"


class Subject(StrEnum):
    VALUE_STREAM = "value_stream"
    JOURNEY = "journey"


class Family(StrEnum):
    """The part of docs/metrics.md a metric belongs to; it decides what the metric is of."""

    FLOW = "flow"
    DORA = "dora"
    JOURNEY = "journey"

    @property
    def subject(self) -> Subject:
        return Subject.JOURNEY if self == Family.JOURNEY else Subject.VALUE_STREAM


@dataclass(frozen=True)
class MetricKey:
    """What a metric is, as every page, report, form and export presents it.

    ``short_label`` heads a narrow column or a table row; ``label`` says it in full.
    ``digits`` are the decimal places a value is shown with (the stored figures keep
    more: engine.ROUND_DIGITS).
    """

    key: str
    family: Family
    unit: str
    better: Better
    label: str
    short_label: str
    digits: int

    @property
    def subject(self) -> Subject:
        return self.family.subject


# The version of these definitions that reports are stamped with. It changes whenever
# a definition in docs/metrics.md changes (a key added or removed, a formula, a unit), so a
# report read later says which definitions its numbers follow.
DEFINITIONS_VERSION = "2026.1"

FLOW_TYPES = ("feature", "defect", "risk", "debt")

_FLOW = Family.FLOW
_DORA = Family.DORA
_J = Family.JOURNEY

METRICS: dict[str, MetricKey] = {
    m.key: m
    for m in [
        MetricKey("flow_velocity", _FLOW, "items", Better.UP, "Flow velocity", "Velocity", 0),
        *(
            MetricKey(
                f"flow_velocity_{t}",
                _FLOW,
                "items",
                Better.NEITHER,
                f"Flow velocity ({t})",
                f"Velocity ({t})",
                0,
            )
            for t in FLOW_TYPES
        ),
        *(
            MetricKey(
                f"flow_distribution_{t}",
                _FLOW,
                "%",
                Better.NEITHER,
                f"Flow distribution ({t})",
                f"Distribution ({t})",
                0,
            )
            for t in FLOW_TYPES
        ),
        MetricKey(
            "flow_time_median_days",
            _FLOW,
            "days",
            Better.DOWN,
            "Flow time, median",
            "Flow time, median",
            1,
        ),
        MetricKey(
            "flow_time_p85_days",
            _FLOW,
            "days",
            Better.DOWN,
            "Flow time, 85th percentile",
            "Flow time, p85",
            1,
        ),
        MetricKey(
            "flow_time_mean_days",
            _FLOW,
            "days",
            Better.DOWN,
            "Flow time, mean",
            "Flow time, mean",
            1,
        ),
        MetricKey(
            "flow_load",
            _FLOW,
            "items",
            Better.DOWN,
            "Flow load (WIP at period end)",
            "Flow load (WIP)",
            0,
        ),
        MetricKey(
            "flow_load_avg",
            _FLOW,
            "items",
            Better.DOWN,
            "Flow load, daily average",
            "Flow load, average",
            0,
        ),
        MetricKey(
            "flow_efficiency", _FLOW, "%", Better.UP, "Flow efficiency", "Flow efficiency", 0
        ),
        MetricKey(
            "deployment_frequency_per_day",
            _DORA,
            "per day",
            Better.UP,
            "Deployment frequency",
            "Deploys per day",
            2,
        ),
        MetricKey(
            "lead_time_for_changes_median_hours",
            _DORA,
            "hours",
            Better.DOWN,
            "Lead time for changes, median",
            "Change lead time, median",
            1,
        ),
        MetricKey(
            "change_failure_rate",
            _DORA,
            "%",
            Better.DOWN,
            "Change failure rate",
            "Change failure rate",
            0,
        ),
        MetricKey(
            "time_to_restore_median_hours",
            _DORA,
            "hours",
            Better.DOWN,
            "Time to restore, median",
            "Time to restore, median",
            1,
        ),
        # NPS is quoted as a whole number, amounts to the cent.
        MetricKey("nps", _J, "score", Better.UP, "Net Promoter Score", "NPS", 0),
        MetricKey("conversion_rate", _J, "%", Better.UP, "Conversion rate", "Conversion", 0),
        MetricKey(
            "journey_lead_time_median_days",
            _J,
            "days",
            Better.DOWN,
            "Journey lead time, median",
            "Lead time, median",
            1,
        ),
        MetricKey(
            "journey_cycle_time_median_days",
            _J,
            "days",
            Better.DOWN,
            "Journey cycle time, median",
            "Cycle time, median",
            1,
        ),
        MetricKey("fcr", _J, "%", Better.UP, "First-contact resolution", "FCR", 0),
        MetricKey("renewal_rate", _J, "%", Better.UP, "Renewal rate", "Renewal", 0),
        MetricKey("retention_rate", _J, "%", Better.UP, "Retention rate", "Retention", 0),
        MetricKey(
            "cost_per_acquisition",
            _J,
            "amount",
            Better.DOWN,
            "Cost per acquisition",
            "Cost per acquisition",
            2,
        ),
        MetricKey(
            "claim_cost_avg", _J, "amount", Better.DOWN, "Average claim cost", "Claim cost", 2
        ),
    ]
}


def keys_of(family: Family) -> tuple[str, ...]:
    """The keys of one family, in the catalogue's order."""
    return tuple(k for k, m in METRICS.items() if m.family == family)


def keys_for(subject: Subject) -> list[str]:
    return [k for k, m in METRICS.items() if m.subject == subject]


# The key lists of each family, derived here once: docs/metrics.md#flow-metrics,
# #dora-metrics and the journey KPIs.
FLOW_KEYS = keys_of(Family.FLOW)
DORA_KEYS = keys_of(Family.DORA)
JOURNEY_KEYS = keys_of(Family.JOURNEY)
