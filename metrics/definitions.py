"""The metric keys of docs/metrics.md#catalogue, with their unit and which way is better.

This is the catalogue every other part names metrics by (key results, the
``kpis`` JSON, reports). Each key's definition is the one in docs/metrics.md.
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


@dataclass(frozen=True)
class MetricKey:
    key: str
    subject: Subject
    unit: str
    better: Better
    label: str


# The version of these definitions that reports are stamped with. It changes whenever
# a definition in docs/metrics.md changes (a key added or removed, a formula, a unit), so a
# report read later says which definitions its numbers follow.
DEFINITIONS_VERSION = "2026.1"

FLOW_TYPES = ("feature", "defect", "risk", "debt")

_VS = Subject.VALUE_STREAM
_J = Subject.JOURNEY

METRICS: dict[str, MetricKey] = {
    m.key: m
    for m in [
        MetricKey("flow_velocity", _VS, "items", Better.UP, "Flow velocity"),
        *(
            MetricKey(f"flow_velocity_{t}", _VS, "items", Better.NEITHER, f"Flow velocity ({t})")
            for t in FLOW_TYPES
        ),
        *(
            MetricKey(
                f"flow_distribution_{t}", _VS, "%", Better.NEITHER, f"Flow distribution ({t})"
            )
            for t in FLOW_TYPES
        ),
        MetricKey("flow_time_median_days", _VS, "days", Better.DOWN, "Flow time, median"),
        MetricKey("flow_time_p85_days", _VS, "days", Better.DOWN, "Flow time, 85th percentile"),
        MetricKey("flow_time_mean_days", _VS, "days", Better.DOWN, "Flow time, mean"),
        MetricKey("flow_load", _VS, "items", Better.DOWN, "Flow load (WIP at period end)"),
        MetricKey("flow_load_avg", _VS, "items", Better.DOWN, "Flow load, daily average"),
        MetricKey("flow_efficiency", _VS, "%", Better.UP, "Flow efficiency"),
        MetricKey(
            "deployment_frequency_per_day", _VS, "per day", Better.UP, "Deployment frequency"
        ),
        MetricKey(
            "lead_time_for_changes_median_hours",
            _VS,
            "hours",
            Better.DOWN,
            "Lead time for changes, median",
        ),
        MetricKey("change_failure_rate", _VS, "%", Better.DOWN, "Change failure rate"),
        MetricKey(
            "time_to_restore_median_hours", _VS, "hours", Better.DOWN, "Time to restore, median"
        ),
        MetricKey("nps", _J, "score", Better.UP, "Net Promoter Score"),
        MetricKey("conversion_rate", _J, "%", Better.UP, "Conversion rate"),
        MetricKey(
            "journey_lead_time_median_days", _J, "days", Better.DOWN, "Journey lead time, median"
        ),
        MetricKey(
            "journey_cycle_time_median_days", _J, "days", Better.DOWN, "Journey cycle time, median"
        ),
        MetricKey("fcr", _J, "%", Better.UP, "First-contact resolution"),
        MetricKey("renewal_rate", _J, "%", Better.UP, "Renewal rate"),
        MetricKey("retention_rate", _J, "%", Better.UP, "Retention rate"),
        MetricKey("cost_per_acquisition", _J, "amount", Better.DOWN, "Cost per acquisition"),
        MetricKey("claim_cost_avg", _J, "amount", Better.DOWN, "Average claim cost"),
    ]
}


def keys_for(subject: Subject) -> list[str]:
    return [k for k, m in METRICS.items() if m.subject == subject]
