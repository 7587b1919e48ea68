"""Ctrl-C stops `make run` cleanly: every process of the Procfile, then the embedded
database that the run started.

`make serve` is the end of `make run` (the same recipe, without the migrations and the
demo, which take a minute), so this drives it as a user does: a fresh embedded
database under a private THROUGHLINE_DATA_DIR (never the one of `make run` or of the
other tests), a free port, and SIGINT to the whole process group, as a terminal's
Ctrl-C sends it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.serve

START_TIMEOUT = 90
# Honcho sends SIGKILL to what still runs this long after the first process stopped.
STOP_BOUND = 15


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local http URL
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop_embedded_server(env: dict) -> None:
    subprocess.run(
        [sys.executable, "-c", "from config import database; database.embedded_server_stop()"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        check=False,
    )


def test_ctrl_c_stops_the_processes_gracefully_and_the_embedded_database(tmp_path: Path):
    data = tmp_path / "data"
    port = _free_port()
    env = {**os.environ, "THROUGHLINE_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "MAKEFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        run = subprocess.Popen(  # noqa: S603 - fixed arguments
            ["make", "--no-print-directory", "serve", "HOST=127.0.0.1", f"PORT={port}"],  # noqa: S607
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        # Up when the login page answers and the worker consumes.
        while not (
            _answers_200(f"http://127.0.0.1:{port}/accounts/login/")
            and " ready." in log_path.read_text()
        ):
            assert run.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
        assert (data / "postgres" / "postmaster.pid").exists()

        started = time.monotonic()
        os.killpg(run.pid, signal.SIGINT)
        run.wait(timeout=60)
        took = time.monotonic() - started
        output = log_path.read_text()

        assert "sending SIGKILL" not in output, output[-3000:]
        assert took < STOP_BOUND, f"stopped after {took:.1f} s\n{output[-3000:]}"
        # The database this run started is stopped with it.
        assert not (data / "postgres" / "postmaster.pid").exists(), output[-3000:]
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        _stop_embedded_server(env)
