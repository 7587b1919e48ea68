"""The broker settings that bound a crashed task's recovery (docs/workers.md) are read
from the environment, and a bad value stops the process with a message naming it."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from config.celery import app as celery_app

BASE_DIR = Path(settings.BASE_DIR)
READ = (
    "import json, config.settings as s;"
    " print(json.dumps([s.CELERY_TASK_TIME_LIMIT, s.CELERY_BROKER_TRANSPORT_OPTIONS]))"
)


def settings_with(**env: str) -> subprocess.CompletedProcess:
    """Import config.settings in a fresh interpreter with these variables set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    return subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-c", READ],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_redis_transport_options_follow_the_environment():
    default = settings_with(CELERY_BROKER_URL="redis://127.0.0.1:6379/3")
    assert default.returncode == 0, default.stderr
    time_limit, options = json.loads(default.stdout)
    # The visibility timeout outlasts the longest task; expired messages are looked
    # for every interval, not every tenth (kombu's throttle).
    assert options["visibility_timeout"] == time_limit + 600 == 2400
    assert options["unacked_restore_interval"] == 10
    assert options["unacked_restore_throttle"] == 1
    assert options["socket_timeout"] == 10 and options["health_check_interval"] == 25

    tuned = settings_with(
        CELERY_BROKER_URL="redis://127.0.0.1:6379/3",
        CELERY_TASK_TIME_LIMIT="600",
        CELERY_VISIBILITY_TIMEOUT="900",
        CELERY_UNACKED_RESTORE_INTERVAL="5",
    )
    assert tuned.returncode == 0, tuned.stderr
    time_limit, options = json.loads(tuned.stdout)
    assert (time_limit, options["visibility_timeout"]) == (600, 900)
    assert options["unacked_restore_interval"] == 5


def test_a_bad_timeout_is_refused_with_its_name_and_what_was_expected():
    for name, raw in (
        ("CELERY_VISIBILITY_TIMEOUT", "1h"),
        ("CELERY_VISIBILITY_TIMEOUT", "0"),
        ("CELERY_UNACKED_RESTORE_INTERVAL", "-1"),
    ):
        run = settings_with(CELERY_BROKER_URL="redis://127.0.0.1:6379/3", **{name: raw})
        assert run.returncode != 0
        assert f"{name}='{raw}' is not a whole number of seconds (1 or more)" in run.stderr


def test_the_filesystem_broker_has_no_visibility_timeout():
    run = settings_with()
    assert run.returncode == 0, run.stderr
    _, options = json.loads(run.stdout)
    assert "visibility_timeout" not in options and "data_folder_in" in options


def test_workers_acknowledge_late_and_give_back_what_a_dead_or_cut_off_task_held():
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.worker_cancel_long_running_tasks_on_connection_loss is True
    assert conf.broker_connection_retry_on_startup is True
