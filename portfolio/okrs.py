"""OKRs: a key result's progress, an objective's, their status, and the values
they are measured from (docs/metrics.md#okrs-progress-and-status).

The one home of each rule:

- **Current value.** A manual key result's is its latest check-in's value; a
  linked key result's is its metric for the objective's quarter to date
  (``key_results_measure``, which the workers run after every snapshot
  recompute). Both are kept on the key result (``current_value``), and every
  new value is also a ``CheckIn``, so the history is one table.
- **Progress** (``key_result_progress``, in SQL, in exact decimals):
  ``clamp((current - baseline) / (target - baseline), 0, 1)``; it works for a
  metric that must go down (target below baseline) as for one that must go up.
  No current value gives no progress (null). The numbers are those
  ``portfolio.models.validate_quantity`` admits, but any float a row holds
  gives a progress, never an overflow.
- **Objective progress** (``objective_progress``, in SQL): the mean of the
  progress of its key results that have data, weighted by their weights; a key
  result not yet measured has no data and stays out of the mean (counting it as
  0 would show "0% off track" beside its own "no data"). No key results with
  data, or their weights summing to 0, give null: the objective is no data too.
- **Status** (``okr_status``): progress against the elapsed share of the
  quarter, in the organization's time zone. Within 10 points of it (or ahead)
  is *on track*, within 25 points *at risk*, further behind *off track*; a
  target reached is on track whatever the date, and no progress is *no data*.
  Halfway through the quarter, 40% is on track, 30% at risk, 20% off track.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import (
    Case,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Greatest, Least, NullIf, Round
from django.utils import timezone

from portfolio.models import CheckIn, CheckInSource, KeyResult, Objective, Organization

# The years portfolio.models.quarter_validator accepts.
QUARTER_RE = re.compile(r"((?:19|2\d)\d\d)-Q([1-4])")

# Status thresholds: how far (in progress points, 0..1) behind the elapsed share
# of the quarter a key result or objective may be and still be on track / at risk.
ON_TRACK_GAP = 0.10
AT_RISK_GAP = 0.25


class Status(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    NO_DATA = "no_data"

    @property
    def label(self) -> str:
        return {
            "on_track": "On track",
            "at_risk": "At risk",
            "off_track": "Off track",
            "no_data": "No data",
        }[self.value]


# --- Quarters -----------------------------------------------------------------------


def quarter_dates(quarter: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a quarter such as ``2026-Q3``."""
    match = QUARTER_RE.fullmatch(quarter or "")
    if match is None:
        raise ValidationError({"quarter": f"'{quarter}' is not a quarter such as 2026-Q3."})
    year, q = int(match[1]), int(match[2])
    start = dt.date(year, 3 * q - 2, 1)
    next_start = dt.date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
    return start, next_start - dt.timedelta(days=1)


def quarter_of(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_shift(quarter: str, quarters: int) -> str:
    """The quarter ``quarters`` after (or, negative, before) ``quarter``."""
    start, _ = quarter_dates(quarter)
    index = start.year * 4 + (start.month - 1) // 3 + quarters
    return f"{index // 4}-Q{index % 4 + 1}"


def local_today(organization: Organization, now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).astimezone(ZoneInfo(organization.time_zone)).date()


def quarter_elapsed(
    organization: Organization, quarter: str, now: dt.datetime | None = None
) -> float:
    """The share of the quarter gone by at ``now``, 0..1, in the organization's zone."""
    tz = ZoneInfo(organization.time_zone)
    start, end = quarter_dates(quarter)
    begins = dt.datetime.combine(start, dt.time(), tz)
    ends = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz)
    now = now or timezone.now()
    return min(1.0, max(0.0, (now - begins) / (ends - begins)))


def quarter_to_date(
    organization: Organization, quarter: str, now: dt.datetime | None = None
) -> tuple[dt.date, dt.date] | None:
    """The inclusive local dates of the quarter up to today; None before it starts."""
    start, end = quarter_dates(quarter)
    today = local_today(organization, now)
    if today < start:
        return None
    return start, min(end, today)


# --- Progress and status --------------------------------------------------------------


# Progress is computed in exact decimals (PostgreSQL numeric), then rounded and
# read back as a float: in double precision, (current - baseline) / (target -
# baseline) overflows for a target a hair from its baseline (0 to 5e-324) and
# underflows for a current value a hair from it, and PostgreSQL raises an error
# for either rather than answer infinity or 0. In numeric nothing a float can
# hold overflows, so a board reads whatever numbers its rows hold.
PROGRESS_DECIMALS = 20  # far finer than any progress shown, far above the smallest float


class _Exact(Func):
    """A double precision column as the exact decimal it holds, through its text:
    PostgreSQL writes a float as the shortest decimal that reads back as the same
    float (extra_float_digits 1, its default). A direct cast to numeric keeps 15
    digits, which would make 100000 and 100000.0000000001 one number."""

    template = "CAST(CAST(%(expressions)s AS text) AS numeric)"
    output_field = DecimalField()


def _exact_progress(prefix: str) -> Case:
    """A key result's progress, 0..1, as an exact decimal; null when unmeasured, or
    when its target equals its baseline (which ``key_result_save`` refuses)."""
    current, baseline, target = (
        _Exact(F(f"{prefix}{name}")) for name in ("current_value", "baseline", "target")
    )
    ratio = ExpressionWrapper(
        (current - baseline) / NullIf(target - baseline, Value(Decimal(0))),
        output_field=DecimalField(),
    )
    return Case(
        # GREATEST and LEAST skip nulls in PostgreSQL: an unmeasured key result
        # must stay null, not become 0.
        When(**{f"{prefix}current_value__isnull": True}, then=Value(None, DecimalField())),
        default=Greatest(Value(Decimal(0)), Least(Value(Decimal(1)), ratio)),
        output_field=DecimalField(),
    )


def _as_float(exact: Any) -> Cast:
    # Rounded first: numeric to double precision refuses a number below the
    # smallest float (e.g. 1e-340) rather than read it as 0.
    return Cast(Round(exact, PROGRESS_DECIMALS), FloatField())


def key_result_progress(prefix: str = "") -> Cast:
    """docs/metrics.md#key-result-progress: a key result's progress, 0..1, as an SQL
    expression over the key result at ``prefix`` (e.g. ``"key_results__"``); null when
    unmeasured."""
    return _as_float(_exact_progress(prefix))


def objective_progress() -> Subquery:
    """docs/metrics.md#objective-progress: an objective's progress, 0..1, the weighted
    mean of the progress of its measured key results (null when none is), as a subquery for
    ``Objective``."""
    weight = _Exact(F("weight"))
    weighted = (
        KeyResult.objects.filter(objective=OuterRef("pk"), current_value__isnull=False)
        .order_by()
        .values("objective")
        .annotate(
            mean=_as_float(
                ExpressionWrapper(
                    Sum(weight * _exact_progress("")) / NullIf(Sum(weight), Value(Decimal(0))),
                    output_field=DecimalField(),
                )
            )
        )
        .values("mean")
    )
    return Subquery(weighted, output_field=FloatField())


def okr_status(progress: float | None, elapsed: float) -> Status:
    """The status rule of this module's docstring."""
    if progress is None:
        return Status.NO_DATA
    if progress >= 1.0:
        return Status.ON_TRACK
    behind = elapsed - progress
    if behind <= ON_TRACK_GAP:
        return Status.ON_TRACK
    if behind <= AT_RISK_GAP:
        return Status.AT_RISK
    return Status.OFF_TRACK


def key_results_with_progress(*, organization: Organization) -> QuerySet[KeyResult]:
    return KeyResult.objects.filter(organization=organization).annotate(
        progress=key_result_progress()
    )


def objectives_with_progress(*, organization: Organization) -> QuerySet[Objective]:
    return Objective.objects.filter(organization=organization).annotate(
        progress=objective_progress()
    )


# --- The OKRs of a quarter, as one plain structure (board, report, API) -------------------


@dataclass
class KeyResultProgress:
    id: int
    slug: str
    title: str
    baseline: float
    target: float
    unit: str
    weight: float
    current: float | None
    current_as_of: str | None
    progress: float | None
    status: str
    # Linked metric: {"subject_type": "value_stream" | "journey", "subject": slug,
    # "subject_id": id, "key": metric key}; None for a manual key result.
    metric: dict[str, Any] | None


@dataclass
class ObjectiveProgress:
    id: int
    slug: str
    title: str
    quarter: str
    owner_email: str
    parent: str | None
    parent_id: int | None
    progress: float | None
    status: str
    value_streams: list[dict[str, Any]] = field(default_factory=list)
    journeys: list[dict[str, Any]] = field(default_factory=list)
    key_results: list[KeyResultProgress] = field(default_factory=list)


def okrs_for_quarter(
    *,
    organization: Organization,
    quarter: str,
    now: dt.datetime | None = None,
) -> list[ObjectiveProgress]:
    """Every objective of the quarter with its progress, status, links and key results,
    parents before children, in three queries however many objectives there are."""
    from journeys.models import Journey
    from streams.models import ValueStream

    elapsed = quarter_elapsed(organization, quarter, now)
    objectives = list(
        objectives_with_progress(organization=organization)
        .filter(quarter=quarter)
        .select_related("parent")
        .prefetch_related(
            "value_streams",
            "journeys",
        )
        .order_by("title", "id")
    )
    krs: dict[int, list[KeyResultProgress]] = defaultdict(list)
    for kr in (
        key_results_with_progress(organization=organization)
        .filter(objective__quarter=quarter)
        .select_related("metric_value_stream", "metric_journey")
        .order_by("objective_id", "id")
    ):
        metric = None
        subject: ValueStream | Journey | None = kr.metric_value_stream or kr.metric_journey
        if subject is not None:
            metric = {
                "subject_type": "value_stream" if kr.metric_value_stream else "journey",
                "subject": subject.slug,
                "subject_id": subject.pk,
                "subject_name": subject.name,
                "key": kr.metric_key,
            }
        krs[kr.objective_id].append(
            KeyResultProgress(
                id=kr.pk,
                slug=kr.slug,
                title=kr.title,
                baseline=kr.baseline,
                target=kr.target,
                unit=kr.unit,
                weight=kr.weight,
                current=kr.current_value,
                current_as_of=kr.current_as_of.isoformat() if kr.current_as_of else None,
                progress=kr.progress,
                status=okr_status(kr.progress, elapsed).value,
                metric=metric,
            )
        )
    result = [
        ObjectiveProgress(
            id=o.pk,
            slug=o.slug,
            title=o.title,
            quarter=o.quarter,
            owner_email=o.owner_email,
            parent=o.parent.slug if o.parent else None,
            parent_id=o.parent_id,
            progress=o.progress,
            status=okr_status(o.progress, elapsed).value,
            value_streams=[
                {"id": vs.pk, "slug": vs.slug, "name": vs.name}
                for vs in sorted(o.value_streams.all(), key=lambda v: v.name)
            ],
            journeys=[
                {"id": j.pk, "slug": j.slug, "name": j.name}
                for j in sorted(o.journeys.all(), key=lambda j: j.name)
            ],
            key_results=krs[o.pk],
        )
        for o in objectives
    ]
    return _parents_first(result)


def _parents_first(objectives: list[ObjectiveProgress]) -> list[ObjectiveProgress]:
    """Depth-first: each objective of the quarter, then the ones aligned to it."""
    ids = {o.id for o in objectives}
    children: dict[int | None, list[ObjectiveProgress]] = defaultdict(list)
    for o in objectives:
        children[o.parent_id if o.parent_id in ids else None].append(o)
    ordered: list[ObjectiveProgress] = []

    def walk(parent: int | None) -> None:
        for o in children[parent]:
            ordered.append(o)
            walk(o.id)

    walk(None)
    return ordered


# --- Writing current values -------------------------------------------------------------


def _set_current(key_result_id: int, value: float | None, at: dt.datetime | None) -> None:
    # update(), not save(): a new reading is history (a CheckIn), not a change to
    # the key result's definition for its change history to record.
    KeyResult.objects.filter(pk=key_result_id).update(current_value=value, current_as_of=at)


@transaction.atomic
def check_in_create(
    *,
    organization: Organization,
    key_result: KeyResult,
    value: float,
    confidence: int | None = None,
    note: str = "",
    author: Any = None,
    at: dt.datetime | None = None,
) -> CheckIn:
    """Record a check-in on a manual key result. The latest check-in by time sets the
    key result's current value, so a check-in back-dated before it does not."""
    if key_result.organization_id != organization.pk:
        raise ValidationError({"key_result": "No such key result in this organization."})
    if key_result.metric_key:
        raise ValidationError(
            {
                "value": f"'{key_result.title}' follows the metric {key_result.metric_key}; "
                "its value is measured by the workers, not checked in."
            }
        )
    if value is None or not math.isfinite(value):
        raise ValidationError({"value": "Enter a number."})
    now = timezone.now()
    if at is not None and at > now + dt.timedelta(minutes=5):
        raise ValidationError(
            {"at": "A check-in records what is known now; it cannot be in the future."}
        )
    check_in = CheckIn(
        organization=organization,
        key_result=key_result,
        value=value,
        confidence=confidence,
        note=note.strip(),
        author=author,
        at=at or now,
        source=CheckInSource.MANUAL,
    )
    check_in.full_clean(exclude=["author", "key_result", "organization"])
    check_in.save()
    _manual_current_refresh(key_result.pk)
    return check_in


@transaction.atomic
def check_in_delete(*, organization: Organization, check_in: CheckIn) -> None:
    if check_in.organization_id != organization.pk:
        raise ValidationError("No such check-in in this organization.")
    key_result_id = check_in.key_result_id
    check_in.delete()
    if not KeyResult.objects.filter(pk=key_result_id).exclude(metric_key="").exists():
        _manual_current_refresh(key_result_id)


def _manual_current_refresh(key_result_id: int) -> None:
    _manual_currents_refresh(KeyResult.objects.filter(pk=key_result_id))


def _manual_currents_refresh(key_results: QuerySet[KeyResult]) -> None:
    """Set manual key results' current value from their latest check-in (or none)."""
    latest = CheckIn.objects.filter(
        key_result=OuterRef("pk"), source=CheckInSource.MANUAL
    ).order_by("-at", "-id")
    key_results.filter(metric_key="").update(
        current_value=Subquery(latest.values("value")[:1]),
        current_as_of=Subquery(latest.values("at")[:1]),
    )


def key_results_current_refresh(*, organization: Organization, key_result_ids: list[int]) -> None:
    """After key results are saved: linked ones are measured now, manual ones take
    their latest check-in (a value measured while they were linked no longer applies)."""
    if not key_result_ids:
        return
    _manual_currents_refresh(
        KeyResult.objects.filter(organization=organization, pk__in=key_result_ids)
    )
    key_results_measure(organization=organization, key_result_ids=key_result_ids)


def _lock(organization_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext('okr-measure'))", [organization_id]
        )


@dataclass(frozen=True)
class MeasureResult:
    measured: int
    changed: int


def _metric_values(
    organization: Organization, rows: list[dict[str, Any]], date_from: dt.date, date_to: dt.date
) -> dict[int, float | None]:
    """Each key result row's metric for the local dates ``date_from..date_to``: the
    engine once for all the value streams and once for all the journeys named."""
    from metrics.engine import Period, value_stream_metrics
    from metrics.journey_kpis import journey_metrics

    period = Period.for_organization(organization, date_from, date_to)
    streams = sorted({r["metric_value_stream_id"] for r in rows if r["metric_value_stream_id"]})
    journeys = sorted({r["metric_journey_id"] for r in rows if r["metric_journey_id"]})
    stream_values = (
        value_stream_metrics(organization=organization, value_stream_ids=streams, period=period)
        if streams
        else {}
    )
    journey_values = (
        journey_metrics(organization=organization, journey_ids=journeys, period=period)
        if journeys
        else {}
    )
    result = {}
    for row in rows:
        values = (
            stream_values[row["metric_value_stream_id"]]
            if row["metric_value_stream_id"]
            else journey_values[row["metric_journey_id"]]
        )
        value = values.get(row["metric_key"])
        result[row["pk"]] = float(value) if value is not None else None
    return result


def _week_ends(date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    """The Sundays (ends of Monday weeks) from ``date_from`` up to, not including, ``date_to``."""
    first = date_from + dt.timedelta(days=(6 - date_from.weekday()) % 7)
    return [
        first + dt.timedelta(days=7 * i) for i in range(max(0, (date_to - first).days + 6) // 7)
    ]


def _backfill(
    organization: Organization, rows: list[dict[str, Any]], date_from: dt.date, date_to: dt.date
) -> int:
    """A key result linked in the middle of (or after) its quarter gets a history at
    once: its metric for the quarter to date at the end of each week gone by, each
    recorded at the following local midnight."""
    tz = ZoneInfo(organization.time_zone)
    readings = []
    for day in _week_ends(date_from, date_to):
        values = _metric_values(organization, rows, date_from, day)
        at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
        readings += [
            CheckIn(
                organization=organization,
                key_result_id=pk,
                at=at,
                value=value,
                source=CheckInSource.METRIC,
            )
            for pk, value in values.items()
        ]
    CheckIn.objects.bulk_create(readings)
    return len(readings)


def key_result_readings_reset(*, organization: Organization, key_result_ids: list[int]) -> None:
    """Forget the metric readings of key results whose metric or quarter changed: they
    measured something else. The next measurement starts their history again."""
    CheckIn.objects.filter(
        organization=organization, key_result_id__in=key_result_ids, source=CheckInSource.METRIC
    ).delete()
    KeyResult.objects.filter(organization=organization, pk__in=key_result_ids).exclude(
        metric_key=""
    ).update(current_value=None, current_as_of=None)


@transaction.atomic
def key_results_measure(
    *,
    organization: Organization,
    key_result_ids: list[int] | None = None,
    now: dt.datetime | None = None,
) -> MeasureResult:
    """Measure linked key results: each one's metric for its objective's quarter to
    date, computed by the engine (the same numbers as ``kpis``). A value that differs
    from the current one is recorded as a check-in of source ``metric``; running it
    again with the same events changes nothing. A key result measured for the first
    time also gets its weekly history of the quarter so far (``_backfill``).

    Quarters that have not started are left unmeasured. The engine runs once per
    quarter (and per week gone by, for first measurements) for all the subjects that
    quarter's key results name."""
    _lock(organization.pk)
    now = now or timezone.now()
    linked = KeyResult.objects.filter(organization=organization).exclude(metric_key="")
    if key_result_ids is not None:
        linked = linked.filter(pk__in=key_result_ids)
    linked = (
        linked.filter(Q(metric_value_stream__isnull=False) | Q(metric_journey__isnull=False))
        .annotate(
            read=Exists(
                CheckIn.objects.filter(key_result=OuterRef("pk"), source=CheckInSource.METRIC)
            )
        )
        .values(
            "pk",
            "objective__quarter",
            "metric_value_stream_id",
            "metric_journey_id",
            "metric_key",
            "current_value",
            "current_as_of",
            "read",
        )
    )
    by_quarter: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in linked:
        by_quarter[row["objective__quarter"]].append(row)
    measured = changed = 0
    for quarter, rows in sorted(by_quarter.items()):
        dates = quarter_to_date(organization, quarter, now)
        if dates is None:
            continue
        fresh = [r for r in rows if not r["read"]]
        if fresh:
            _backfill(organization, fresh, *dates)
        by_pk = {r["pk"]: r for r in rows}
        for pk, value in _metric_values(organization, rows, *dates).items():
            row = by_pk[pk]
            measured += 1
            if (
                row["read"]
                and row["current_as_of"] is not None
                and _same(row["current_value"], value)
            ):
                continue
            changed += 1
            CheckIn.objects.create(
                organization=organization,
                key_result_id=pk,
                at=now,
                value=value,
                source=CheckInSource.METRIC,
            )
            _set_current(pk, value, now)
    return MeasureResult(measured, changed)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
