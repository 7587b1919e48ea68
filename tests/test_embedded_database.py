"""The embedded PostgreSQL server: several processes start or reuse one server safely."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

PROBE = """
import json, sys
from config import database
socket_dir = database.embedded_server_socket_dir()
pid = int((database.EMBEDDED_PGDATA / "postmaster.pid").read_text().split()[0])
print(json.dumps({"socket": str(socket_dir), "pid": pid}))
"""


def test_concurrent_processes_share_one_embedded_server(tmp_path: Path):
    env = {**os.environ, "THROUGHLINE_DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)
    starters = [
        subprocess.Popen(  # noqa: S603 - fixed arguments
            [sys.executable, "-c", PROBE],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        answers = []
        for proc in starters:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            answers.append(json.loads(out.strip().splitlines()[-1]))
        # All four found the same running server, started once.
        assert len({(a["socket"], a["pid"]) for a in answers}) == 1
        assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
    finally:
        stop = subprocess.run(
            [sys.executable, "-c", "from config import database; database.embedded_server_stop()"],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert stop.returncode == 0, stop.stderr


def test_processes_starting_together_on_a_fresh_server_all_provision_it(tmp_path: Path):
    """The processes of `make serve` (web, worker, beat) import the settings at
    once; on a fresh server each provisions the roles and the database, and none
    may fail because another created them a moment earlier."""
    env = {**os.environ, "THROUGHLINE_DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)
    started = subprocess.run(
        [
            sys.executable,
            "-c",
            "from config import database; database.embedded_server_socket_dir()",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    provisioners = [
        subprocess.Popen(
            [sys.executable, "-c", "from config import database; database.databases()"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    try:
        for proc in provisioners:
            _out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.strip().splitlines()[-1:]
    finally:
        subprocess.run(
            [sys.executable, "-c", "from config import database; database.embedded_server_stop()"],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            check=False,
        )
