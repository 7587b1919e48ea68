"""``make load``: a bounded load test of the demo organization, served by gunicorn.

Steps: make sure the demo organization exists (``seed_demo``, idempotent), refresh
the planner's statistics of the tables it just loaded, collect the static files,
start gunicorn on 127.0.0.1 on a free port with production settings, sign in one
session per connection as the demo admin (the login page, with its CSRF token),
drive it with wrk (bench/load/scenario.lua) over LOAD_CONNECTIONS connections with
no think time, first as a warm-up, then LOAD_SECONDS measured, print a table per
endpoint and overall, and stop gunicorn whatever happened. Exits 1 when any request
failed, 2 when the test could not run.

wrk, written in C, costs the machine next to nothing per request: the cores measured
serve the app and its database, not the load generator.

Environment: LOAD_SECONDS (default 60), LOAD_CONNECTIONS (default 10), LOAD_WORKERS
(gunicorn worker processes, default 4), LOAD_WARMUP_SECONDS (the same load before
the measured one, not counted; default 10, 0 for none), plus the database's as for
``make run``.
Never part of ``make test``.
"""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"  # never anything else: the test drives this machine only
TARGET_P95_MS = 100
ENDPOINTS = ("dashboard", "api list", "kpis api")
# Tables the seed fills: their statistics decide the metric queries' plans.
SEEDED_TABLES = (
    "streams_flowitem",
    "streams_flowtransition",
    "streams_flowwipchange",
    "streams_flowwipspan",
    "streams_deployment",
    "streams_change",
    "streams_incident",
    "journeys_journeyevent",
    "metrics_kpisnapshot",
)


class LoadError(Exception):
    """The load test could not run (a bad setting, a server that did not start)."""


def _whole_number(name: str, default: int, *, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise LoadError(f"{name}={raw!r} is not a whole number of at least {minimum}")
    return value


@dataclass(frozen=True)
class Demo:
    slug: str
    email: str
    password: str
    dashboard: str
    api_list: str
    kpis: str
    quarter: str
    static_root: Path


def prepare_demo() -> Demo:
    """Seed (or refresh) the demo organization and answer the paths to load."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    from metrics.models import PeriodKind
    from metrics.snapshots import period_of
    from portfolio.management.commands.seed_demo import (
        DEMO_ADMIN_EMAIL,
        DEMO_PASSWORD,
        DEMO_SLUG,
    )
    from portfolio.models import Organization
    from portfolio.tenancy import organization_context
    from streams.models import ValueStream

    print("seeding the demo organization (seed_demo) ...", flush=True)
    call_command("seed_demo", verbosity=0)
    # Autovacuum analyzes freshly loaded tables only a while later (and a shared
    # server may run without it); until then the planner plans the metric queries
    # for empty tables, nested loops that are slower by orders of magnitude.
    # Production tables have statistics: measure with them. The owner runs it, as
    # the app role may not analyze tables it does not own (bench/run.py does the same).
    with connections["migrator"].cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {', '.join(SEEDED_TABLES)}")
    org = Organization.objects.get(slug=DEMO_SLUG)
    with organization_context(org.pk):
        # The demo's main value stream: the business stream the team streams roll up to.
        stream = ValueStream.objects.get(organization=org, slug="dental")
    today = timezone.now().astimezone(ZoneInfo(org.time_zone)).date()
    start, _ = period_of(PeriodKind.QUARTER, today)
    q_from, q_to = period_of(PeriodKind.QUARTER, start - dt.timedelta(days=1))
    connections.close_all()
    return Demo(
        slug=org.slug,
        email=DEMO_ADMIN_EMAIL,
        password=DEMO_PASSWORD,
        dashboard=f"/o/{org.slug}/streams/{stream.pk}/dashboard/",
        api_list=f"/api/v1/orgs/{org.slug}/value-streams/",
        kpis=f"/api/v1/orgs/{org.slug}/kpis/?from={q_from.isoformat()}&to={q_to.isoformat()}",
        quarter=f"{q_from.year}-Q{(q_from.month - 1) // 3 + 1}",
        # Kept between runs, with the data (embedded database, broker) it goes with.
        static_root=Path(settings.DATA_DIR) / "load-static",
    )


def collect_static(static_root: Path, env: dict[str, str]) -> None:
    """Collect the static files for the production settings (hashed and compressed, as
    whitenoise serves them), unless a previous run's are newer than every source:
    compressing them all again takes minutes on a busy machine."""
    manifest = static_root / "staticfiles.json"
    sources = [p for p in (ROOT / "static").rglob("*") if p.is_file()]
    # Installing or removing a package touches site-packages (the apps' static files).
    sources.append(Path(sysconfig.get_paths()["purelib"]))
    if manifest.exists() and all(p.stat().st_mtime < manifest.stat().st_mtime for p in sources):
        return
    print("collecting static files ...", flush=True)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--clear", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_env(static_root: Path) -> dict[str, str]:
    """Production settings (no debug), over plain HTTP on the loopback."""
    return {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": HOST,
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "SECURE_HSTS_SECONDS": "0",
        "STATIC_ROOT": str(static_root),
        "LOG_LEVEL": "WARNING",
    }


def start_gunicorn(port: int, workers: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """gunicorn with bench/load/gunicorn.conf.py (sync workers, preloaded app)."""
    command = [
        str(BIN / "gunicorn"),
        "config.wsgi:application",
        "--config",
        str(ROOT / "bench" / "load" / "gunicorn.conf.py"),
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        "--error-logfile",
        str(log),
    ]
    # Our own fixed command line, no shell; its own session, so that a kill reaches every worker.
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)  # noqa: S603


def workers_cpu_seconds(master: int) -> float | None:
    """CPU time (user + system) used so far by the gunicorn master's worker processes,
    from Linux's /proc; None elsewhere. Unlike latency, it hardly depends on what else
    the machine runs: it says what a request costs the app server."""
    total, found = 0.0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command may hold spaces and parentheses: fields follow the last ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == master:  # the parent pid
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            found = True
    return total if found else None


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # gunicorn's graceful stop of the workers
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until_up(process: subprocess.Popen, base: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LoadError(f"gunicorn exited with {process.returncode}:\n{_tail(log)}")
        try:
            # base is http://127.0.0.1:<port>, built here.
            with urllib.request.urlopen(f"{base}/accounts/login/", timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise LoadError(f"gunicorn did not answer {base}/accounts/login/ within {timeout:.0f} s")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text().splitlines()[-lines:])
    except OSError:
        return "(no log)"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def sign_in(base: str, email: str, password: str) -> str:
    """A session id of the user, signed in through the login page (with its CSRF token)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    try:
        with opener.open(f"{base}/accounts/login/", timeout=120) as response:
            page = response.read().decode()
    except urllib.error.HTTPError as exc:
        raise LoadError(f"GET /accounts/login/ answered HTTP {exc.code}, expected 200") from None
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not match:
        raise LoadError("the login page has no CSRF token")
    form = urllib.parse.urlencode(
        {"username": email, "password": password, "csrfmiddlewaretoken": match[1]}
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - base is http://127.0.0.1:<port>
        f"{base}/accounts/login/", data=form, headers={"Referer": f"{base}/accounts/login/"}
    )
    try:
        with opener.open(request, timeout=120) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code  # the redirect after a successful login lands here
    session = next((c.value for c in jar if c.name == "sessionid"), None)
    if status != 302 or not session:
        raise LoadError(f"signing in as {email} failed (HTTP {status}, expected a 302 redirect)")
    return session


@dataclass(frozen=True)
class Row:
    name: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float
    max: float

    @property
    def error_rate(self) -> float:
        return 100 * self.failures / self.requests if self.requests else 0.0


def percentile(ordered: list[float], pct: float) -> float:
    """The nearest-rank percentile of an ascending list (nan when empty)."""
    if not ordered:
        return float("nan")
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def row(name: str, latencies: list[float], failures: int, seconds: float) -> Row:
    ordered = sorted(latencies)
    return Row(
        name,
        len(ordered),
        failures,
        len(ordered) / seconds if seconds else 0.0,
        percentile(ordered, 50),
        percentile(ordered, 95),
        percentile(ordered, 99),
        ordered[-1] if ordered else 0.0,
    )


@dataclass(frozen=True)
class Result:
    rows: dict[str, Row]  # by endpoint, and "overall"
    notes: list[str]  # the first errors' reasons


def run_wrk(wrk: str, base: str, connections: int, seconds: int, env: dict[str, str]) -> Result:
    """Run the scenario (bench/load/scenario.lua) with one wrk thread per connection
    and answer its figures per endpoint and overall."""
    done = subprocess.run(  # noqa: S603 - a fixed command line, no shell
        [
            wrk,
            "--threads",
            str(connections),
            "--connections",
            str(connections),
            "--duration",
            f"{seconds}s",
            # A request still unanswered after this long is an error (a timeout).
            "--timeout",
            "30s",
            "--script",
            str(ROOT / "bench" / "load" / "scenario.lua"),
            base,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    line = next(
        (ln for ln in reversed(done.stdout.splitlines()) if ln.startswith('{"endpoints"')), None
    )
    if done.returncode != 0 or line is None:
        output = (done.stderr or done.stdout).splitlines()[-20:]
        raise LoadError(f"wrk exited with {done.returncode}:\n" + "\n".join(output))
    data = json.loads(line)
    duration = data["duration_s"]
    rows, everything, failures = {}, [], 0
    for name in ENDPOINTS:
        figures = data["endpoints"][name]
        rows[name] = row(name, figures["latencies_ms"], figures["errors"], duration)
        everything += figures["latencies_ms"]
        failures += figures["errors"]
    # A socket error (refused, reset, timed out) has no response, hence no latency.
    rows["overall"] = row("overall", everything, failures + data["socket_errors"], duration)
    notes = list(data["error_notes"])
    if data["socket_errors"]:
        notes.append(f"{data['socket_errors']} connections failed (refused, reset or timed out)")
    return Result(rows, notes)


def report(result: Result, demo: Demo, connections: int, seconds: int, workers: int) -> int:
    rows = result.rows
    print()
    print(f"Load: {connections} connections, no think time, {seconds} s, ", end="")
    print(f"gunicorn {workers} sync workers")
    print(f"  dashboard: {demo.dashboard} (the current quarter to date)")
    print(f"  api list:  {demo.api_list}")
    print(f"  kpis api:  {demo.kpis} ({demo.quarter}, the last full quarter)")
    print()
    header = f"{'endpoint':<11} {'requests':>9} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7}"
    print(f"{header} {'p99 ms':>7} {'errors':>8}")
    for name in (*ENDPOINTS, "overall"):
        r = rows[name]
        print(
            f"{name:<11} {r.requests:>9} {r.rps:>8.1f} {r.p50:>7.0f} {r.p95:>7.0f} "
            f"{r.p99:>7.0f} {r.error_rate:>7.2f}%"
        )
    failures = rows["overall"].failures
    missing = [n for n in ENDPOINTS if not rows[n].requests]
    slow = [n for n in ENDPOINTS if rows[n].requests and not rows[n].p95 <= TARGET_P95_MS]
    print()
    verdict = "met" if not (failures or missing or slow) else "missed"
    details = [f"{n} p95 {rows[n].p95:.0f} ms" for n in slow]
    details += [f"{failures} errors"] if failures else []
    details += [f"no requests to {n}" for n in missing]
    print(
        f"target (p95 <= {TARGET_P95_MS} ms per endpoint, 0 errors, at {connections} connections): "
        + verdict
        + (f" ({'; '.join(details)})" if details else "")
    )
    if result.notes:
        print("errors:")
        for note in result.notes:
            print(f"  {note}")
    return 1 if failures or missing else 0


def run() -> int:
    seconds = _whole_number("LOAD_SECONDS", 60)
    connections = _whole_number("LOAD_CONNECTIONS", 10)
    workers = _whole_number("LOAD_WORKERS", 4)
    warmup = _whole_number("LOAD_WARMUP_SECONDS", 10, minimum=0)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise LoadError(
            "wrk is not installed (Debian: apt-get install --no-install-recommends wrk)"
        )
    demo = prepare_demo()
    work = Path(tempfile.mkdtemp(prefix="throughline-load-"))
    try:
        env = server_env(demo.static_root)
        collect_static(demo.static_root, env)
        port = free_port()
        base = f"http://{HOST}:{port}"
        log = work / "gunicorn.log"
        print(f"starting gunicorn on {base} ({workers} workers) ...", flush=True)
        server = start_gunicorn(port, workers, env, log)
        try:
            wait_until_up(server, base, log)
            # In parallel: each sign-in hashes the password, deliberately slow.
            with ThreadPoolExecutor(max_workers=workers) as pool:
                sessions = list(
                    pool.map(lambda _: sign_in(base, demo.email, demo.password), range(connections))
                )
            cpu_before = workers_cpu_seconds(server.pid)
            wrk_env = {
                **os.environ,
                "LOAD_SESSIONS": ",".join(sessions),
                "LOAD_DASHBOARD": demo.dashboard,
                "LOAD_API_LIST": demo.api_list,
                "LOAD_KPIS": demo.kpis,
            }
            if warmup:
                # Each worker's first dashboard draws its charts (its own cache):
                # measured here, apart from the steady state.
                print(f"warming up for {warmup} s ...", flush=True)
                warm = run_wrk(wrk, base, connections, warmup, wrk_env).rows["overall"]
                print(f"warm-up: {warm.requests} requests, slowest {warm.max:.0f} ms")
                cpu_before = workers_cpu_seconds(server.pid)
            print(f"running wrk: {connections} connections for {seconds} s ...", flush=True)
            result = run_wrk(wrk, base, connections, seconds, wrk_env)
            cpu_after = workers_cpu_seconds(server.pid)
            code = report(result, demo, connections, seconds, workers)
            served = result.rows["overall"].requests
            if cpu_before is not None and cpu_after is not None and served:
                per_request = 1000 * (cpu_after - cpu_before) / served
                print(f"gunicorn workers' CPU per request: {per_request:.1f} ms (PostgreSQL apart)")
            return code
        except LoadError as exc:
            raise LoadError(f"{exc}\ngunicorn's log ends with:\n{_tail(log)}") from None
        finally:
            stop_gunicorn(server)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM (make interrupted, CI cancelled) unwinds like Ctrl-C: gunicorn is stopped.
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return run()
    except LoadError as exc:
        print(f"load: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("load: interrupted; gunicorn stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
