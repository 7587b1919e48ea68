"""Generate realistic delivery events as the event CSVs of docs/formats.md#event-csvs.

Used by the benchmark (``make bench``: a million flow items) and by
``seed_demo`` (two quarters of history for the demo's streams). Output is
deterministic for a seed and written row by row, so memory stays flat
whatever the size.

Shapes, per item: most go new -> active -> (waiting -> active)* -> done;
some are reopened after done and finished again; some are canceled; some jump
from new straight to done; a share is still in progress at the end. Types
follow a feature-heavy mix. Deployments happen on working days; changes are
shipped by them; some deployments fail or cause incidents.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TYPES = ("feature", "defect", "risk", "debt")
TYPE_WEIGHTS = (0.55, 0.25, 0.08, 0.12)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Counts:
    items: int = 0
    transitions: int = 0
    deployments: int = 0
    changes: int = 0
    incidents: int = 0


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hours(rng: random.Random, median: float) -> timedelta:
    # Work durations are right-skewed: log-normal around the median.
    return timedelta(hours=max(0.25, rng.lognormvariate(0, 0.9) * median))


def generate(
    out_dir: Path,
    *,
    value_streams: Sequence[str],
    items: int,
    start: datetime,
    end: datetime,
    seed: int = 7,
    key_prefix: str = "",
    deployments_per_day: float = 1.5,
    waiting_cycles: Sequence[int] = (0, 0, 1, 1, 2),
) -> Counts:
    """Write flow_items.csv, flow_transitions.csv, deployments.csv, changes.csv and
    incidents.csv into ``out_dir`` for events between ``start`` and ``end``.

    ``waiting_cycles``: an item that is worked on goes through active -> waiting
    -> active as many times as one of these (picked uniformly); the default
    gives about 3.5 transitions per item, the benchmark's shape about 3.7."""
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    span = (end - start).total_seconds()
    n_transitions = 0
    with (
        (out_dir / "flow_items.csv").open("w", newline="") as items_file,
        (out_dir / "flow_transitions.csv").open("w", newline="") as transitions_file,
    ):
        item_rows = csv.writer(items_file)
        transition_rows = csv.writer(transitions_file)
        item_rows.writerow(["key", "type", "title", "value_stream", "created_at"])
        transition_rows.writerow(["key", "at", "state"])
        for n in range(items):
            key = f"{key_prefix}IT-{n + 1}"
            stream = value_streams[n % len(value_streams)]
            kind = rng.choices(TYPES, TYPE_WEIGHTS)[0]
            created = start + timedelta(seconds=rng.random() * span * 0.97)
            item_rows.writerow([key, kind, f"{kind.title()} {n + 1}", stream, _iso(created)])
            for at, state in _history(rng, created, end, waiting_cycles):
                transition_rows.writerow([key, _iso(at), state])
                n_transitions += 1
    n_deployments = n_changes = n_incidents = 0
    with (
        (out_dir / "deployments.csv").open("w", newline="") as dep_file,
        (out_dir / "changes.csv").open("w", newline="") as change_file,
        (out_dir / "incidents.csv").open("w", newline="") as incident_file,
    ):
        deps = csv.writer(dep_file)
        changes = csv.writer(change_file)
        incidents = csv.writer(incident_file)
        deps.writerow(["key", "value_stream", "environment", "deployed_at", "status"])
        changes.writerow(["key", "value_stream", "committed_at", "deployment"])
        incidents.writerow(["key", "value_stream", "opened_at", "resolved_at", "deployment"])
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            if day.weekday() < 5:
                for stream in value_streams:
                    for _ in range(_poisson(rng, deployments_per_day)):
                        n_deployments += 1
                        dkey = f"{key_prefix}D-{n_deployments}"
                        at = day + timedelta(hours=8 + rng.random() * 10)
                        if at >= end:
                            continue
                        env = "production" if rng.random() < 0.8 else "staging"
                        failed = rng.random() < 0.08
                        deps.writerow(
                            [dkey, stream, env, _iso(at), "failure" if failed else "success"]
                        )
                        for _ in range(1 + _poisson(rng, 2)):
                            n_changes += 1
                            committed = at - _hours(rng, 20)
                            changes.writerow(
                                [f"{key_prefix}C-{n_changes}", stream, _iso(committed), dkey]
                            )
                        if env == "production" and not failed and rng.random() < 0.05:
                            n_incidents += 1
                            opened = at + _hours(rng, 6)
                            resolved = opened + _hours(rng, 5)
                            incidents.writerow(
                                [
                                    f"{key_prefix}INC-{n_incidents}",
                                    stream,
                                    _iso(opened),
                                    _iso(resolved) if resolved < end else "",
                                    dkey,
                                ]
                            )
            day += timedelta(days=1)
    return Counts(items, n_transitions, n_deployments, n_changes, n_incidents)


@dataclass(frozen=True)
class JourneyShape:
    """What the generator needs of a journey: its stages in order (the first is
    the entry, the second the work start, the last the conversion, the defaults of
    docs/metrics.md#customer-journeys), each stage's touchpoints, and which business
    events it has."""

    slug: str
    stages: Sequence[tuple[str, Sequence[str]]]  # (stage slug, touchpoint slugs)
    instance: str = "APP"  # prefix of the instance refs (applications, claims)
    policies: bool = False  # acquisitions, their cost, renewals and churn
    claims: bool = False  # claims paid at conversion


def generate_journey_events(
    out_dir: Path,
    *,
    journeys: Sequence[JourneyShape],
    customers: int,
    start: datetime,
    end: datetime,
    seed: int = 11,
    key_prefix: str = "",
) -> int:
    """Write journey_events.csv (docs/formats.md#journey_events) into ``out_dir``;
    answers the row count.

    Per journey, ``customers`` customers each start one or more instances that
    move through the stages with drop-offs (some re-enter the entry stage), answer
    a survey at a touchpoint of the last stage they reached (lower scores when
    they dropped out), and sometimes need a support case. With ``policies``, the
    customers who convert are acquired (marketing spend is paid weekly), older
    policies fall due for renewal and most renew, some early and some late, and
    the rest churn. With ``claims``, a converted instance is a claim paid."""
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    span = (end - start).total_seconds()
    rows = 0
    with (out_dir / "journey_events.csv").open("w", newline="") as events_file:
        out = csv.writer(events_file)
        out.writerow(
            ["key", "journey", "type", "at", "customer", "ref", "value", "stage", "touchpoint"]
        )
        for journey in journeys:
            emit = _JourneyWriter(out, journey.slug, f"{key_prefix}{journey.slug}-", end)
            instances = 0
            for c in range(customers):
                customer = f"{key_prefix}CUST-{c + 1}"
                for _ in range(1 + (rng.random() < 0.25)):  # some customers come back
                    instances += 1
                    ref = f"{key_prefix}{journey.instance}-{instances}"
                    t = start + timedelta(seconds=rng.random() * span * 0.98)
                    reached = 0
                    for index, (stage, _touchpoints) in enumerate(journey.stages):
                        if index > 0:
                            if rng.random() > 0.82:  # dropped out before this stage
                                break
                            t += _hours(rng, 30 + 20 * index)
                        emit("stage_entered", t, customer, ref, stage=stage)
                        if index == 0 and rng.random() < 0.1:  # came back to the form
                            emit("stage_entered", t + _hours(rng, 20), customer, ref, stage=stage)
                        reached = index
                    converted = reached == len(journey.stages) - 1
                    if converted and journey.claims:
                        amount = round(min(rng.lognormvariate(5.4, 0.6), 4000), 2)
                        emit("claim_paid", t + _hours(rng, 4), customer, ref, f"{amount:.2f}")
                    if converted and journey.policies:
                        emit("acquired", t + _hours(rng, 2), customer)
                    stage, touchpoints = journey.stages[reached]
                    if touchpoints and rng.random() < 0.55:
                        # Most who got through are promoters; those who dropped
                        # out answer lower.
                        base = 9.0 if converted else 7.0
                        score = max(0, min(10, round(rng.gauss(base, 1.7))))
                        emit(
                            "survey",
                            t + _hours(rng, 48),
                            customer,
                            ref,
                            str(score),
                            stage,
                            rng.choice(list(touchpoints)),
                        )
                    if rng.random() < 0.3:
                        contacts = rng.choices((1, 2, 3, 4), (0.68, 0.2, 0.08, 0.04))[0]
                        emit("case_resolved", t + _hours(rng, 30), customer, ref, str(contacts))
            if journey.policies:
                week = start
                while week < end:
                    spend = round(rng.uniform(2500, 6000), 2)
                    emit("acquisition_cost", week + timedelta(hours=9), value=f"{spend:.2f}")
                    week += timedelta(days=7)
                # Policies taken out in the year before: due for renewal a year on.
                for p in range(customers // 2):
                    customer = f"{key_prefix}OLD-{p + 1}"
                    policy = f"{key_prefix}POL-{p + 1}"
                    acquired = start - timedelta(days=365) + timedelta(seconds=rng.random() * span)
                    emit("acquired", acquired, customer)
                    due = acquired + timedelta(days=365)
                    emit("renewal_due", due, customer, policy)
                    roll = rng.random()
                    if roll < 0.8:
                        emit(
                            "renewed", due + timedelta(days=rng.uniform(-25, 20)), customer, policy
                        )
                    elif roll < 0.95:
                        emit("churned", due + timedelta(days=rng.uniform(1, 30)), customer)
            rows += emit.rows
    return rows


class _JourneyWriter:
    """Writes one journey's events, numbering their keys, and drops what lies at or
    after ``end`` (it has not happened yet)."""

    def __init__(self, out: Any, journey: str, key_prefix: str, end: datetime) -> None:
        self.out, self.journey, self.key_prefix, self.end = out, journey, key_prefix, end
        self.rows = 0

    def __call__(
        self,
        kind: str,
        at: datetime,
        customer: str = "",
        ref: str = "",
        value: str = "",
        stage: str = "",
        touchpoint: str = "",
    ) -> None:
        if at >= self.end:
            return
        self.rows += 1
        self.out.writerow(
            [
                f"{self.key_prefix}{self.rows}",
                self.journey,
                kind,
                _iso(at),
                customer,
                ref,
                value,
                stage,
                touchpoint,
            ]
        )


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method; the means here are small.
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _history(
    rng: random.Random,
    created: datetime,
    end: datetime,
    waiting_cycles: Sequence[int] = (0, 0, 1, 1, 2),
) -> list[tuple[datetime, str]]:
    """One item's transitions: strictly increasing instants before ``end``."""
    steps: list[tuple[datetime, str]] = []
    t = created + _hours(rng, 30)
    roll = rng.random()
    if roll < 0.04:  # straight from new to done (tracked after the fact)
        steps.append((t, "done"))
    elif roll < 0.10:  # picked up, then dropped
        steps.append((t, "active"))
        t += _hours(rng, 16)
        steps.append((t, "canceled"))
    else:
        steps.append((t, "active"))
        for _ in range(rng.choice(waiting_cycles)):
            t += _hours(rng, 12)
            steps.append((t, "waiting"))
            t += _hours(rng, 18)
            steps.append((t, "active"))
        t += _hours(rng, 24)
        steps.append((t, "done"))
        if rng.random() < 0.07:  # reopened, then finished again
            t += _hours(rng, 40)
            steps.append((t, "active"))
            t += _hours(rng, 10)
            steps.append((t, "done"))
    # What lies beyond the end has not happened yet: the item is still open.
    kept, last = [], created
    for at, state in steps:
        if at >= end:
            break
        at = max(at, last + timedelta(seconds=1))
        kept.append((at, state))
        last = at
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--streams", default="bench-a,bench-b,bench-c,bench-d")
    parser.add_argument("--start", default="2026-01-01")
    parser.add_argument("--end", default="2026-07-01")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
    end = datetime.fromisoformat(args.end).replace(tzinfo=UTC)
    counts = generate(
        args.out_dir,
        value_streams=args.streams.split(","),
        items=args.items,
        start=start,
        end=end,
        seed=args.seed,
    )
    print(counts)


if __name__ == "__main__":
    main()
