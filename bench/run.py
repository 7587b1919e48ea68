"""``make bench``: import a million flow items and time the metrics over them.

Run as ``python -m bench.run [--items N] [--runs K] [--keep]`` (the Makefile's
``bench`` target), against the database ``make run`` and ``make test`` use:
the embedded server, or ``DATABASE_URL``'s. It acts as the app role, inside
``organization_context`` of a fresh organization per run.

Per run it measures and prints:

1. the import of flow_items + flow_transitions through ``events_import``
   divided by a raw ``COPY`` of the same two CSV files into bare tables (text
   columns, no keys or indexes, WAL-logged like the import's tables) on the same
   server (target: at most 3x);
2. ``kpis_for_period`` for one quarter divided by ONE naive SQL query that
   computes the same flow metrics (velocity, flow time median/p85/mean,
   efficiency, load) by window functions over all transitions, without the
   derived facts (target: at most 0.1x); the naive query's velocity and
   median must equal the engine's, per value stream.

The generated CSVs live in a temporary directory removed at the end; each
run's organization is deleted with all its data unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STREAMS = ("bench-a", "bench-b", "bench-c", "bench-d")
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
QUARTER = (dt.date(2026, 4, 1), dt.date(2026, 6, 30))  # 2026-Q2, the generated data's last
# More waiting cycles than the demo's shape: about 3.7 transitions per item.
WAITING_CYCLES = (0, 0, 0, 1, 1, 1, 1, 1, 2, 2)
IMPORT_TARGET = 3.0
KPIS_TARGET = 0.1
BIG_TABLES = (
    "streams_flowwipchange",
    "streams_flowwipspan",
    "streams_flowtransition",
    "streams_incident",
    "streams_change",
    "streams_deployment",
    "streams_flowitem",
)

# The flow metrics of docs/metrics.md#flow-metrics for P, per value stream, straight
# from the transitions: one window pass (lead) per item, then one aggregate per item
# and per stream.
# State at t = state of the last transition with at < t, so an item is in
# progress at P.end when its transition with at < end <= next_at is active or waiting.
NAIVE_SQL = """
WITH tr AS (
    SELECT t.item_id, t.at, t.state,
           lead(t.at) OVER (PARTITION BY t.item_id ORDER BY t.at) AS next_at
    FROM streams_flowtransition t
    WHERE t.organization_id = %(org)s
),
items AS (
    SELECT item_id,
           min(at) FILTER (WHERE state <> 'new') AS started_at,
           max(at) FILTER (WHERE next_at IS NULL AND state = 'done') AS done_at,
           COALESCE(sum(EXTRACT(EPOCH FROM next_at - at)) FILTER (WHERE state = 'active'), 0)
               AS active_seconds,
           bool_or(state IN ('active', 'waiting') AND at < %(end)s
                   AND (next_at IS NULL OR next_at >= %(end)s)) AS wip_at_end
    FROM tr
    GROUP BY item_id
),
facts AS (
    SELECT i.value_stream_id, x.active_seconds, x.wip_at_end,
           x.done_at >= %(start)s AND x.done_at < %(end)s AS done_in_p,
           EXTRACT(EPOCH FROM x.done_at - COALESCE(x.started_at, x.done_at))::float8
               AS flow_seconds
    FROM items x
    JOIN streams_flowitem i ON i.organization_id = %(org)s AND i.id = x.item_id
)
SELECT value_stream_id,
       count(*) FILTER (WHERE done_in_p) AS flow_velocity,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY flow_seconds) FILTER (WHERE done_in_p)
           AS median_seconds,
       percentile_cont(0.85) WITHIN GROUP (ORDER BY flow_seconds) FILTER (WHERE done_in_p)
           AS p85_seconds,
       avg(flow_seconds) FILTER (WHERE done_in_p) AS mean_seconds,
       100 * sum(active_seconds) FILTER (WHERE done_in_p)
           / NULLIF(sum(flow_seconds) FILTER (WHERE done_in_p), 0) AS flow_efficiency,
       count(*) FILTER (WHERE wip_at_end) AS flow_load
FROM facts
GROUP BY value_stream_id
"""


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    # The benchmark times the import, not the workers: mark the snapshots stale
    # as an import does, but queue no recompute (a running `make run` worker
    # would otherwise recompute a million items while we measure).
    import metrics.tasks as tasks

    def mark_only(*, organization: Any) -> None:
        tasks.recompute_mark_dirty(organization=organization)

    tasks.kpis_recompute_soon = mark_only


def _organization_create(stamp: str) -> Any:
    import secrets

    from django.db import transaction

    from portfolio.services import organization_create, user_get_or_create
    from streams.models import StreamKind, ValueStream

    with transaction.atomic():
        admin, _ = user_get_or_create(
            email=f"{stamp}@bench.example.com", password=secrets.token_urlsafe(24)
        )
        org = organization_create(slug=stamp, name=f"Benchmark {stamp}", admin=admin)
        for slug in STREAMS:
            ValueStream.objects.create(
                organization=org, slug=slug, name=f"Benchmark {slug}", kind=StreamKind.TEAM
            )
    return org


def _organization_delete(org: Any) -> None:
    """Delete the organization and every row of it: the big tables by one DELETE
    each, the rest through the ORM, then the history rows it leaves behind."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from portfolio.models import Organization
    from portfolio.rls import append_only_tables, tenant_tables
    from portfolio.tenancy import organization_context

    with organization_context(org.pk), connection.cursor() as cursor:
        for table in BIG_TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE organization_id = %s", [org.pk])  # noqa: S608
        admin_ids = list(
            get_user_model().objects.filter(memberships__organization=org).values_list("pk")
        )
        Organization.objects.filter(pk=org.pk).delete()
        # The audit log went with the organization (a database cascade); the app
        # role may not delete from it.
        for table in sorted(set(tenant_tables(cursor)) - set(append_only_tables())):
            cursor.execute(f"DELETE FROM {table} WHERE organization_id = %s", [org.pk])  # noqa: S608
        get_user_model().objects.filter(pk__in=[pk for (pk,) in admin_ids]).delete()


def _raw_copy(csv_dir: Path) -> float:
    """Seconds to COPY flow_items.csv and flow_transitions.csv into bare tables: text
    columns, no keys, no indexes, but ordinary (WAL-logged) tables like the ones the
    import writes. Created, filled and dropped by the tables' owner role."""
    from django.db import connections, transaction

    tables = (
        (
            "bench_raw_items",
            "(key text, type text, title text, value_stream text, created_at text)",
        ),
        ("bench_raw_transitions", "(key text, at text, state text)"),
    )
    connection = connections["migrator"]
    with connection.cursor() as django_cursor:
        for table, columns in tables:
            django_cursor.execute(f"DROP TABLE IF EXISTS {table}")
            django_cursor.execute(f"CREATE TABLE {table} {columns}")
    started = time.perf_counter()
    try:
        with transaction.atomic(using="migrator"), connection.cursor() as django_cursor:
            cursor = django_cursor.cursor
            for (table, _), name in zip(
                tables, ("flow_items.csv", "flow_transitions.csv"), strict=True
            ):
                with (
                    (csv_dir / name).open("rb") as source,
                    cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv, HEADER true)") as copy,
                ):
                    while block := source.read(1 << 20):
                        copy.write(block)
        return time.perf_counter() - started
    finally:
        with connection.cursor() as django_cursor:
            for table, _ in tables:
                django_cursor.execute(f"DROP TABLE IF EXISTS {table}")


def _import(org: Any, csv_dir: Path, kind: str) -> float:
    from portfolio.tenancy import organization_context
    from streams.ingest import events_import

    started = time.perf_counter()
    with organization_context(org.pk), (csv_dir / f"{kind}.csv").open(newline="") as rows:
        events_import(organization=org, kind=kind, rows=rows)
    return time.perf_counter() - started


def _vacuum_analyze() -> float:
    """VACUUM ANALYZE the event tables as the owner, as autovacuum does after an
    import commits: otherwise the queries below are planned for the tables' earlier,
    smaller contents, and the index-only scans visit the heap until autovacuum
    marks the new pages all-visible (the app role may not vacuum tables it does
    not own)."""
    from django.db import connections

    started = time.perf_counter()
    with connections["migrator"].cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {', '.join(BIG_TABLES)}")
    return time.perf_counter() - started


def _kpis(org: Any) -> tuple[float, dict]:
    from metrics.engine import kpis_for_period
    from portfolio.tenancy import organization_context

    with organization_context(org.pk):
        return _timed(
            lambda: kpis_for_period(organization=org, date_from=QUARTER[0], date_to=QUARTER[1])
        )


def _naive(org: Any) -> tuple[float, dict[str, dict]]:
    from django.db import connection

    from metrics.engine import Period
    from portfolio.tenancy import organization_context
    from streams.models import ValueStream

    period = Period.for_organization(org, *QUARTER)
    params = {"org": org.pk, "start": period.start, "end": period.end}
    with organization_context(org.pk), connection.cursor() as cursor:
        slugs = dict(ValueStream.objects.filter(organization=org).values_list("pk", "slug"))
        seconds, rows = _timed(lambda: (cursor.execute(NAIVE_SQL, params), cursor.fetchall())[1])
        names = [c.name for c in cursor.description]
    return seconds, {slugs[row[0]]: dict(zip(names, row, strict=True)) for row in rows}


def _days(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) / 86400, 4)


def _compare(engine: dict, naive: dict[str, dict]) -> list[str]:
    """One line per stream: engine vs naive; a velocity or median mismatch is flagged."""
    lines = []
    for slug in STREAMS:
        e = engine["value_streams"][slug]
        n = naive.get(slug, {})
        n_velocity, n_median = n.get("flow_velocity", 0), _days(n.get("median_seconds"))
        ok = e["flow_velocity"] == n_velocity and e["flow_time_median_days"] == n_median
        n_eff = n.get("flow_efficiency")
        n_eff = None if n_eff is None else round(float(n_eff), 4)
        lines.append(
            f"  {slug}: velocity {e['flow_velocity']} / {n_velocity}, "
            f"median {e['flow_time_median_days']} / {n_median} d, "
            f"p85 {e['flow_time_p85_days']} / {_days(n.get('p85_seconds'))} d, "
            f"mean {e['flow_time_mean_days']} / {_days(n.get('mean_seconds'))} d, "
            f"efficiency {e['flow_efficiency']} / {n_eff}"
            f" %, load {e['flow_load']} / {n.get('flow_load', 0)}"
            f"  {'equal' if ok else 'MISMATCH'}"
        )
    return lines


def _session_nestloop(on: bool) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SET enable_nestloop = {'on' if on else 'off'}")


def run_once(
    csv_dir: Path, stamp: str, *, keep: bool, no_nestloop: bool
) -> tuple[dict[str, float], bool]:
    timings: dict[str, float] = {}
    org = _organization_create(stamp)
    try:
        timings["raw_copy"] = _raw_copy(csv_dir)
        if no_nestloop:
            _session_nestloop(False)
        timings["import_items"] = _import(org, csv_dir, "flow_items")
        timings["import_transitions"] = _import(org, csv_dir, "flow_transitions")
        timings["import_dora"] = sum(
            _import(org, csv_dir, kind) for kind in ("deployments", "changes", "incidents")
        )
        if no_nestloop:
            _session_nestloop(True)
        timings["analyze"] = _vacuum_analyze()
        timings["kpis"], engine = _kpis(org)
        timings["naive"], naive = _naive(org)
    except BaseException:
        if not keep:
            _organization_delete(org)
        raise
    timings["import"] = timings["import_items"] + timings["import_transitions"]
    timings["import_ratio"] = timings["import"] / timings["raw_copy"]
    timings["kpis_ratio"] = timings["kpis"] / timings["naive"]
    lines = _compare(engine, naive)
    quarter = " .. ".join(map(str, QUARTER))
    print(f"engine / naive query, per value stream (quarter {quarter}):")
    print("\n".join(lines))
    if keep:
        print(f"kept organization {org.slug}")
    else:
        timings["cleanup"], _ = _timed(lambda: _organization_delete(org))
    return timings, all(line.endswith("equal") for line in lines)


ROWS = (
    ("generate CSVs (bench/generate.py)", "generate"),
    ("raw COPY flow_items + flow_transitions", "raw_copy"),  # into bare tables
    ("import flow_items (events_import)", "import_items"),
    ("import flow_transitions (events_import)", "import_transitions"),
    ("import items + transitions", "import"),
    ("import deployments, changes, incidents", "import_dora"),
    ("VACUUM ANALYZE event tables (as the owner)", "analyze"),
    ("kpis_for_period, one quarter", "kpis"),
    ("naive window query, one quarter", "naive"),
)


def print_table(title: str, timings: dict[str, float]) -> None:
    print(f"\n{title}")
    print(f"  {'step':<42} {'seconds':>10}")
    for label, key in ROWS:
        if key in timings:
            print(f"  {label:<42} {timings[key]:>10.2f}")
    for label, key, target in (
        ("import / raw COPY", "import_ratio", IMPORT_TARGET),
        ("kpis / naive query", "kpis_ratio", KPIS_TARGET),
    ):
        met = "met" if timings[key] <= target else "MISSED"
        print(f"  {label:<42} {timings[key]:>9.3f}x  (target <= {target}x: {met})")


def main() -> None:
    parser = argparse.ArgumentParser(description="make bench: import and metrics benchmark")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark organizations")
    parser.add_argument(
        "--no-nestloop-import",
        action="store_true",
        help="workaround: SET enable_nestloop = off for the imports (see README, Benchmarks)",
    )
    args = parser.parse_args()
    if args.items < 1 or args.runs < 1:
        parser.error("--items and --runs must be at least 1")

    _setup_django()
    from bench.generate import generate

    csv_dir = Path(tempfile.mkdtemp(prefix="throughline-bench-"))
    try:
        seconds, counts = _timed(
            lambda: generate(
                csv_dir,
                value_streams=STREAMS,
                items=args.items,
                start=START,
                end=END,
                waiting_cycles=WAITING_CYCLES,
            )
        )
        sizes = (
            f"{counts.items:,} flow items, {counts.transitions:,} transitions "
            f"({counts.transitions / counts.items:.2f} per item), {counts.deployments:,} "
            f"deployments, {counts.changes:,} changes, {counts.incidents:,} incidents"
        )
        print(f"generated {sizes} in {seconds:.1f} s")
        if args.no_nestloop_import:
            print("workaround on: the imports run with enable_nestloop = off")
        all_runs, all_equal = [], True
        for n in range(args.runs):
            stamp = f"bench-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{n + 1}"
            print(f"\nrun {n + 1} of {args.runs}: organization {stamp}")
            timings, equal = run_once(
                csv_dir, stamp, keep=args.keep, no_nestloop=args.no_nestloop_import
            )
            all_equal &= equal
            if n == 0:
                timings["generate"] = seconds
            all_runs.append(timings)
            print_table(f"run {n + 1} of {args.runs}: {sizes}", timings)
        if args.runs > 1:
            medians = {
                key: statistics.median(t[key] for t in all_runs if key in t) for key in all_runs[-1]
            }
            medians["generate"] = seconds
            print_table(f"medians of {args.runs} runs: {sizes}", medians)
        print(
            "\nnaive query's flow_velocity and median equal the engine's: "
            + ("yes" if all_equal else "NO (a bug: see the MISMATCH lines above)")
        )
    finally:
        shutil.rmtree(csv_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
