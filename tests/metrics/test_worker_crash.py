"""A worker killed in the middle of a recompute loses nothing, on a real Redis broker.

Two crashes, each with SIGKILL (no handler runs, nothing is cleaned up):

- the pool process running the task dies: the worker's main process sees it go
  and, with ``task_reject_on_worker_lost``, puts the message back at once;
- the whole worker dies (main process and pool): its unacknowledged message
  stays in Redis's ``unacked`` hash until the visibility timeout expires, then
  a worker's restore sweep puts it back (docs/workers.md, "Recovery time").

After each, the recompute has completed once more and the snapshots equal, row
for row and value for value, those of an uninterrupted recompute of the same
events. The measured recovery time (kill to committed result) is printed (run
with ``-s``) and recorded in the test report's user properties.

The broker is a real Redis: CELERY_BROKER_URL's server when it names one (on the
database number below its own, emptied before and after: the workers here run with
a visibility timeout of seconds, and Redis's unacked hash is shared by every
queue of a database), else a private ``redis-server`` on a free loopback port.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from journeys.models import Journey
from journeys.services import journey_save
from metrics.models import KpiSnapshot, RecomputeState
from metrics.snapshots import recompute_mark_dirty
from metrics.tasks import kpis_recompute
from portfolio.tenancy import organization_context
from streams.ingest import events_import
from streams.models import ValueStream
from streams.services import value_stream_save

pytestmark = [pytest.mark.worker, pytest.mark.crash, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(settings.BASE_DIR)
# Short enough to wait for in a test, long enough for one recompute of the
# history below on a loaded 2-core machine: a message is never restored while
# its task still runs.
VISIBILITY_TIMEOUT = 10
RESTORE_INTERVAL = 1
STREAMS = 2
DAYS = 150  # about 22 weeks, 5 months and 2 quarters of snapshots per subject
WAIT = 150  # seconds any one step may take (a worker starts in 40 s on a loaded machine)


# --- The broker ----------------------------------------------------------------------


def _own_database(url: str) -> str:
    """The same Redis server, a database number below the suite's own: one per
    pytest-xdist worker, since each empties its database."""
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    return urlunsplit(parts._replace(path=f"/{(db - 1 - worker) % 16}"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ping(url: str, deadline: float) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        finally:
            client.close()


@pytest.fixture(scope="module")
def broker_url(tmp_path_factory) -> Iterator[str]:
    configured = os.environ.get("CELERY_BROKER_URL", "").strip()
    if configured.startswith(("redis://", "rediss://")):
        url = _own_database(configured)
        client = redis.Redis.from_url(url)
        client.flushdb()
        yield url
        client.flushdb()
        client.close()
        return
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        pytest.fail(
            "redis-server was not found on PATH nor at /usr/bin/redis-server: install it "
            "(apt-get install redis-server) or set CELERY_BROKER_URL=redis://HOST:PORT/DB"
        )
    folder = tmp_path_factory.mktemp("redis")
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    log = (folder / "redis.log").open("w")
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            binary,
            *("--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder)),
            *("--save", "", "--appendonly", "no", "--daemonize", "no"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _ping(url, time.monotonic() + 15)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


# --- The history, the reference and the snapshots ---------------------------------------


def history(org) -> None:
    """Two value streams and a journey with events every third day for DAYS days:
    enough periods that a recompute lasts seconds, long enough to kill it mid-way."""
    rnd = random.Random(7)
    now = timezone.now().replace(microsecond=0)
    first = now - dt.timedelta(days=DAYS)
    items = ["key,type,title,value_stream,created_at"]
    moves = ["key,at,state"]
    deploys = ["key,value_stream,environment,deployed_at,status"]
    surveys = ["key,journey,type,at,customer,ref,value,stage,touchpoint"]
    n = 0
    for day in range(0, DAYS, 3):
        at = first + dt.timedelta(days=day)
        for s in range(STREAMS):
            n += 1
            kind = rnd.choice(["feature", "defect", "risk", "debt"])
            items.append(f"I-{n},{kind},,vs-{s},{at.isoformat()}")
            moves.append(f"I-{n},{at.isoformat()},active")
            done = at + dt.timedelta(hours=rnd.randint(4, 400))
            if done < now:
                moves.append(f"I-{n},{done.isoformat()},done")
            if day % 6 == 0:
                status = "failure" if rnd.random() < 0.2 else "success"
                deploys.append(f"D-{n},vs-{s},production,{at.isoformat()},{status}")
        surveys.append(f"S-{day},claim,survey,{at.isoformat()},c{day},,{rnd.randint(0, 10)},,")
    with organization_context(org.pk):
        for s in range(STREAMS):
            value_stream_save(
                organization=org, value_stream=ValueStream(slug=f"vs-{s}", name=f"VS {s}")
            )
        journey_save(organization=org, journey=Journey(slug="claim", name="Claim"))
        for kind, rows in (
            ("flow_items", items),
            ("flow_transitions", moves),
            ("deployments", deploys),
            ("journey_events", surveys),
        ):
            events_import(organization=org, kind=kind, rows=io.StringIO("\n".join(rows) + "\n"))


Row = tuple[str, str, str, str, str, object]


def snapshot_rows(org) -> list[Row]:
    """Every stored value: (subject, period kind, start, end, metric, value), sorted."""
    rows: list[Row] = []
    with organization_context(org.pk):
        for stream, journey, kind, start, end, values in KpiSnapshot.objects.filter(
            organization=org
        ).values_list(
            "value_stream__slug",
            "journey__slug",
            "period_kind",
            "period_start",
            "period_end",
            "values",
        ):
            subject = f"vs:{stream}" if stream else f"j:{journey}"
            for metric, value in values.items():
                rows.append((subject, kind, start.isoformat(), end.isoformat(), metric, value))
    return sorted(rows, key=repr)


def snapshot_keys(org) -> list[tuple]:
    with organization_context(org.pk):
        return list(
            KpiSnapshot.objects.filter(organization=org).values_list(
                "value_stream_id", "journey_id", "period_kind", "period_start"
            )
        )


def reference(org) -> tuple[list[Row], int]:
    """The imports' own recompute (run eagerly in this process when they committed,
    uninterrupted) is the reference; then the snapshots are deleted and the
    organization marked stale again, as an import leaves it, for the worker."""
    rows, count = snapshot_rows(org), len(snapshot_keys(org))
    assert count > 60 and rows, "the history produced too few snapshots to kill a recompute"
    with organization_context(org.pk):
        assert RecomputeState.objects.get(organization=org).dirty_since is None
        KpiSnapshot.objects.filter(organization=org).delete()
        recompute_mark_dirty(organization=org)
    return rows, count


def recompute_committed(org) -> bool:
    """The task's one transaction (organization_context in org_task) committed: it
    claimed the dirty flag and wrote every snapshot together, or neither."""
    with organization_context(org.pk):
        return RecomputeState.objects.get(organization=org).dirty_since is None


def period_locks_held(org) -> int:
    """Advisory locks a recompute holds right now in this test database: one per
    (subject, period) done so far, kept until its transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid::bigint = %s AND pid <> pg_backend_pid()",
            [org.pk],
        )
        return cursor.fetchone()[0]


def assert_same_as_reference(org, expected_rows: list[Row], expected_count: int) -> None:
    keys = snapshot_keys(org)
    assert len(keys) == expected_count
    assert len(set(keys)) == len(keys)  # no (subject, period) twice
    actual = snapshot_rows(org)
    # Multisets: a row missing, added or duplicated shows up on one side.
    missing = Counter(expected_rows) - Counter(actual)
    extra = Counter(actual) - Counter(expected_rows)
    assert (missing, extra) == (Counter(), Counter())
    assert len(actual) == len(expected_rows)
    # The unique constraints make a second row for a (subject, period) impossible.
    with organization_context(org.pk):
        snapshot = KpiSnapshot.objects.filter(organization=org, value_stream__isnull=False)[0]
        with pytest.raises(IntegrityError), transaction.atomic():
            KpiSnapshot.objects.create(
                organization=org,
                value_stream_id=snapshot.value_stream_id,
                period_kind=snapshot.period_kind,
                period_start=snapshot.period_start,
                period_end=snapshot.period_end,
                values=snapshot.values,
                computed_at=timezone.now(),
            )
    assert period_locks_held(org) == 0


# --- Workers ---------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid``, read from /proc (no psutil)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


class Workers:
    """Celery workers on a private queue of the test broker, each in its own
    session so that one SIGKILL to its process group kills all of it."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url, self.folder = url, folder
        self.queue = f"crash-{uuid.uuid4().hex[:12]}"
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        # When the newest worker was started, was ready and received a task
        # (time.monotonic(), as noticed by wait_for's polling).
        self.seen: dict[str, float] = {}

    def start(self) -> subprocess.Popen:
        number = len(self.procs) + 1
        log_path = self.folder / f"worker-{number}.log"
        env = {
            **os.environ,
            "CELERY_BROKER_URL": self.url,
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
            "CELERY_UNACKED_RESTORE_INTERVAL": str(RESTORE_INTERVAL),
            # The worker is a separate process: point it at this run's test database.
            "DATABASE_NAME": connection.settings_dict["NAME"],
        }
        with log_path.open("w") as log:
            proc = subprocess.Popen(  # noqa: S603 - fixed arguments
                [
                    *(sys.executable, "-m", "celery", "-A", "config", "worker"),
                    *("--pool", "prefork", "--concurrency", "1", "--queues", self.queue),
                    *("--hostname", f"{self.queue}-{number}@%h", "--loglevel", "INFO"),
                    *("--without-heartbeat", "--without-gossip", "--without-mingle"),
                ],
                cwd=BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        self.logs.append(log_path)
        self.seen[f"started-{number}"] = time.monotonic()
        return proc

    def _notice(self) -> None:
        number, text = len(self.logs), self.logs[-1].read_text()
        for event, needle in (("ready", " ready."), ("received", "] received")):
            if f"{event}-{number}" not in self.seen and needle in text:
                self.seen[f"{event}-{number}"] = time.monotonic()

    def log(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()}" for p in self.logs)

    def send_recompute(self, org) -> str:
        """Queue the debounced recompute an import queues (only if still stale)."""
        producer = Celery("crash-test-producer", set_as_current=False)
        # An explicit connection: Celery's configured broker URL gives way to a
        # CELERY_BROKER_URL variable, which names the suite's database, not this one.
        with producer.connection_for_write(self.url) as broker:
            result = producer.send_task(
                kpis_recompute.name,
                args=[org.pk],
                kwargs={"only_if_dirty": True},
                queue=self.queue,
                connection=broker,
            )
        producer.close()
        return result.id

    def wait_for(self, what: str, done: Callable[[], bool], *, poll: float = 0.05) -> None:
        deadline = time.monotonic() + WAIT
        while not done():
            self._notice()
            for proc in self.procs:
                assert proc.poll() is None or proc.returncode == -signal.SIGKILL, (
                    f"a worker exited with {proc.returncode} while waiting for {what}\n"
                    + self.log()
                )
            assert time.monotonic() < deadline, f"no {what} within {WAIT} s\n" + self.log()
            time.sleep(poll)

    def kill_mid_recompute(self, org, expected_count: int, kill: Callable[[], None]) -> float:
        """``kill()`` once the running recompute has done a third of its periods;
        answer the moment of the kill."""
        self.wait_for(
            "recompute a third done", lambda: period_locks_held(org) >= expected_count // 3
        )
        kill()
        killed_at = time.monotonic()
        # Nothing had committed: the task's transaction was still open.
        assert not recompute_committed(org), "the recompute finished before the kill\n" + self.log()
        return killed_at

    def kill_pool_process(self) -> None:
        main = self.procs[-1]
        pool = children(main.pid)
        assert len(pool) == 1, f"expected one pool process of {main.pid}, found {pool}"
        os.kill(pool[0], signal.SIGKILL)

    def kill_whole_worker(self) -> None:
        # Its own process group (start_new_session): the main process and its pool.
        os.killpg(self.procs[-1].pid, signal.SIGKILL)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def workers(broker_url, tmp_path) -> Iterator[Workers]:
    pool = Workers(broker_url, tmp_path)
    yield pool
    pool.stop()


def record(request, name: str, seconds: float, detail: str) -> None:
    # A property of the test's report (pytest's record_property, without its
    # warning under junit_family xunit2), and a line in its output.
    request.node.user_properties.append((name, round(seconds, 2)))
    print(f"\n{name}: {seconds:.2f} s ({detail})")


def unacked(url: str) -> dict[bytes, float]:
    """Kombu's Redis ack emulation: delivery tag -> time delivered, for every message
    a worker took and has not acknowledged."""
    client = redis.Redis.from_url(url)
    try:
        return dict(client.zrange("unacked_index", 0, -1, withscores=True))
    finally:
        client.close()


# --- The crashes -----------------------------------------------------------------------


def test_a_killed_pool_process_is_replaced_and_its_task_completes_at_once(
    tenant_a, workers, request
):
    org = tenant_a.org
    history(org)
    expected_rows, expected_count = reference(org)
    workers.start()
    task_id = workers.send_recompute(org)

    killed_at = workers.kill_mid_recompute(org, expected_count, workers.kill_pool_process)
    workers.wait_for("committed recompute", lambda: recompute_committed(org))
    recovery = time.monotonic() - killed_at

    log = workers.log()
    # The main process saw its pool process die and, rejecting the message rather
    # than failing the task, had it delivered again; the second run succeeded.
    assert "WorkerLostError" in log and "signal 9" in log, log
    assert log.count(f"Task {kpis_recompute.name}[{task_id}] received") == 2, log
    assert log.count(f"Task {kpis_recompute.name}[{task_id}] succeeded") == 1, log
    assert "'skipped': True" not in log, log
    assert_same_as_reference(org, expected_rows, expected_count)
    # Acknowledged: nothing is left for Redis to deliver a third time.
    workers.wait_for("acknowledgement", lambda: not unacked(workers.url))
    record(request, "recovery_pool_process_killed", recovery, "kill to commit")


def test_a_killed_worker_s_task_completes_on_a_new_worker_after_the_visibility_timeout(
    tenant_a, workers, request
):
    org = tenant_a.org
    history(org)
    expected_rows, expected_count = reference(org)
    first = workers.start()
    task_id = workers.send_recompute(org)

    killed_at = workers.kill_mid_recompute(org, expected_count, workers.kill_whole_worker)
    first.wait(timeout=10)
    # Nobody is left to put the message back: it waits in Redis's unacked set,
    # delivered at ``delivered`` (the worker's clock, seconds since the epoch).
    (tag, delivered), *others = unacked(workers.url).items()
    assert others == []
    visible_again_in = delivered + VISIBILITY_TIMEOUT - time.time()
    workers.start()
    workers.wait_for("committed recompute", lambda: recompute_committed(org), poll=0.1)
    committed_at = time.monotonic()
    recovery = committed_at - killed_at

    log = workers.log()
    assert log.count(f"Task {kpis_recompute.name}[{task_id}] received") == 2, log
    assert log.count(f"Task {kpis_recompute.name}[{task_id}] succeeded") == 1, log
    assert "'skipped': True" not in log, log
    assert_same_as_reference(org, expected_rows, expected_count)
    workers.wait_for("acknowledgement", lambda: tag not in unacked(workers.url))
    # Not before the visibility timeout expired: that is what bounds the recovery
    # (the new worker noticed receiving it at or after the moment it really did).
    received_after = workers.seen["received-2"] - killed_at
    assert received_after >= visible_again_in, (received_after, visible_again_in)
    startup = workers.seen["ready-2"] - workers.seen["started-2"]
    record(
        request,
        "recovery_whole_worker_killed",
        recovery,
        f"kill to commit: the visibility timeout ({VISIBILITY_TIMEOUT} s from delivery) had"
        f" {max(visible_again_in, 0):.2f} s left at the kill; the new worker took {startup:.2f} s"
        f" to start and received the task {received_after:.2f} s after the kill, then"
        f" {committed_at - workers.seen['received-2']:.2f} s to run it",
    )
