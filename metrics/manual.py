"""Manual KPI values: a value per period for a KPI the organization measures elsewhere.

They are kept apart from the computed snapshots (``metrics.models.ManualKpiValue``
beside ``KpiSnapshot``): a page shows a manual value as manual, never as computed.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from journeys.models import Journey
from metrics.definitions import METRICS, Subject, keys_for
from metrics.engine import DATE_RANGE_MAX, DATE_RANGE_MIN
from metrics.models import ManualKpiValue, PeriodKind
from metrics.snapshots import period_of
from portfolio.models import QUANTITY_MAX, Organization, quantity_range, quantity_shown
from streams.models import ValueStream

PERCENT_RANGE = (0.0, 100.0)
NPS_RANGE = (-100.0, 100.0)


def _subject_type(subject: ValueStream | Journey) -> Subject:
    return Subject.JOURNEY if isinstance(subject, Journey) else Subject.VALUE_STREAM


def _check_value(key: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValidationError({"value": "Enter a number."})
    if key == "nps" or METRICS[key].unit == "%":
        low, high = NPS_RANGE if key == "nps" else PERCENT_RANGE
        bounds = f"from {low:g} to {high:g}"
    else:
        # Durations, counts and amounts: 0 or more, up to the bound every number
        # people give the app keeps (portfolio.models.validate_quantity).
        low, high = 0.0, QUANTITY_MAX
        bounds = quantity_range(low)
    if not low <= value <= high:
        shown = quantity_shown(value) if abs(value) > QUANTITY_MAX else f"{value:g}"
        raise ValidationError({"value": f"{METRICS[key].label} is {bounds}; got {shown}."})


@transaction.atomic
def manual_value_set(
    *,
    organization: Organization,
    subject: ValueStream | Journey,
    key: str,
    period_kind: str,
    period_start: dt.date,
    value: float,
    note: str = "",
    user: Any = None,
) -> ManualKpiValue:
    """Enter (or replace) the manual value of ``key`` for one period of the subject.

    ``period_start`` must be the first day of a week (Monday), month or quarter,
    in the years 1900 to 2999;
    the value must be in the KPI's range (percentages 0..100, NPS -100..100,
    durations, counts and amounts 0 to 10^15)."""
    subject_type = _subject_type(subject)
    what = subject_type.value.replace("_", " ")
    if subject.pk is None or subject.organization_id != organization.pk:
        # Another organization's subject is answered like a missing one.
        raise ValidationError({what.replace(" ", "_"): f"No such {what}."})
    if key not in keys_for(subject_type):
        allowed = ", ".join(keys_for(subject_type))
        raise ValidationError({"key": f"'{key}' is not a {what} KPI; one of {allowed}."})
    if period_kind not in PeriodKind.values:
        raise ValidationError(
            {"period_kind": f"'{period_kind}' is not one of {', '.join(PeriodKind.values)}."}
        )
    if not DATE_RANGE_MIN <= period_start <= DATE_RANGE_MAX:
        # The years every period of the app lies in (metrics.engine): a week or
        # quarter of the year 9999 would end past the last date Python has.
        raise ValidationError(
            {
                "period_start": f"{period_start.isoformat()} is outside the years "
                f"{DATE_RANGE_MIN.year} to {DATE_RANGE_MAX.year}."
            }
        )
    start, end = period_of(period_kind, period_start)
    if start != period_start:
        raise ValidationError(
            {
                "period_start": f"{period_start.isoformat()} is not the first day of a "
                f"{period_kind}; that {period_kind} starts on {start.isoformat()}."
            }
        )
    _check_value(key, float(value))
    subject_field = "journey" if subject_type == Subject.JOURNEY else "value_stream"
    manual, _ = ManualKpiValue.objects.update_or_create(
        organization=organization,
        key=key,
        period_kind=period_kind,
        period_start=start,
        **{subject_field: subject},
        defaults={
            "period_end": end,
            "value": float(value),
            "note": note.strip(),
            "entered_by": user if getattr(user, "pk", None) else None,
        },
    )
    return manual


def manual_value_delete(*, organization: Organization, manual: ManualKpiValue) -> None:
    if manual.organization_id != organization.pk:
        raise ValidationError("No such manual value.")
    manual.delete()


def manual_values(
    *,
    organization: Organization,
    period_kind: str,
    period_start: dt.date,
    journey_ids: list[int] | None = None,
    value_stream_ids: list[int] | None = None,
) -> dict[tuple[str, int], dict[str, ManualKpiValue]]:
    """The manual values of one period, by (``"journey"`` or ``"value_stream"``, id)
    and key, in one query."""
    rows = ManualKpiValue.objects.filter(
        organization=organization, period_kind=period_kind, period_start=period_start
    )
    subjects = Q(journey_id__in=journey_ids or []) | Q(value_stream_id__in=value_stream_ids or [])
    found: dict[tuple[str, int], dict[str, ManualKpiValue]] = {}
    for manual in rows.filter(subjects):
        subject = (
            ("journey", manual.journey_id)
            if manual.journey_id
            else ("value_stream", manual.value_stream_id)
        )
        found.setdefault(subject, {})[manual.key] = manual
    return found
