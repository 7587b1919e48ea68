"""The load scenario of ``make load`` (bench/load/run.py starts it; see the README).

Each simulated user is a signed-in member of the demo organization who requests,
in turn and without think time (a closed loop), the three endpoints below. The
runner signs the sessions in before the load starts, so that password hashing
(deliberately slow) is not part of what is measured, and hands them over in
``LOAD_SESSIONS``; the paths come from the runner too (``LOAD_DASHBOARD``,
``LOAD_API_LIST``, ``LOAD_KPIS``).

A response counts as an error unless it is a 200 whose body is what the endpoint
answers (the dashboard's charts, a JSON list, the kpis JSON): a login page or an
error page served with 200 would otherwise pass unnoticed.
"""

from __future__ import annotations

import itertools
import json
import os

from locust import FastHttpUser, constant, task

SESSION_COOKIE = "sessionid"


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(f"{name} is not set: run the scenario through bench/load/run.py")
    return value


SESSIONS = _required("LOAD_SESSIONS").split(",")
DASHBOARD = _required("LOAD_DASHBOARD")
API_LIST = _required("LOAD_API_LIST")
KPIS = _required("LOAD_KPIS")
# Each user takes the next session in turn (users are started in one process).
_next_session = itertools.cycle(SESSIONS)


class Member(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.cookie = {"Cookie": f"{SESSION_COOKIE}={next(_next_session)}"}

    def _get(self, name: str, path: str, expect: str) -> None:
        with self.client.get(
            path, name=name, headers=self.cookie, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{name}: HTTP {response.status_code}, expected 200")
                return
            error = _check(expect, response.text or "")
            if error:
                response.failure(f"{name}: {error}")

    @task
    def dashboard(self) -> None:
        self._get("dashboard", DASHBOARD, "dashboard")

    @task
    def api_list(self) -> None:
        self._get("api list", API_LIST, "list")

    @task
    def kpis(self) -> None:
        self._get("kpis api", KPIS, "kpis")


def _check(expect: str, body: str) -> str:
    """Why ``body`` is not what the endpoint answers, or "" when it is."""
    if expect == "dashboard":
        return "" if body.count("<svg") >= 5 else "the page has not the dashboard's 5 charts"
    try:
        data = json.loads(body)
    except ValueError:
        return "the body is not JSON"
    if expect == "list":
        return "" if isinstance(data, dict) and data.get("results") else "no results in the list"
    return "" if isinstance(data, dict) and data.get("value_streams") else "no value_streams"
