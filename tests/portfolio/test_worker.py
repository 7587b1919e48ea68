"""A real Celery worker process takes a task from the broker and does its work.

With CELERY_BROKER_URL set (Redis in CI) the worker uses it; otherwise the
embedded default, kombu's filesystem transport. A private queue keeps this
test's message away from any other worker on the machine (a `make run`).
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from portfolio.models import Invitation, Role
from portfolio.tenancy import organization_context
from tests.factories import invite

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(settings.BASE_DIR)


@pytest.fixture
def worker(tmp_path):
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        # The worker is a separate process: point it at this run's test database.
        "DATABASE_NAME": connection.settings_dict["NAME"],
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
    }
    log = (tmp_path / "worker.log").open("w")
    proc = subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--queues",
            queue,
            "--loglevel",
            "INFO",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield queue, tmp_path, proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_a_real_worker_processes_a_task_queued_on_commit(tenant_a, worker):
    queue, tmp_path, proc = worker
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.task_default_queue
    conf.task_always_eager, conf.task_default_queue = False, queue
    try:
        # The service queues the mail task when its transaction commits.
        invitation = invite(tenant_a.org, "worker@example.com", by=tenant_a.admin, role=Role.VIEWER)
    finally:
        conf.task_always_eager, conf.task_default_queue = saved
    deadline = time.monotonic() + 90
    sent_at = None
    while time.monotonic() < deadline and sent_at is None:
        assert proc.poll() is None, (tmp_path / "worker.log").read_text()
        with organization_context(tenant_a.org.pk):
            sent_at = Invitation.objects.get(pk=invitation.invitation.pk).email_sent_at
        time.sleep(0.5)
    log = (tmp_path / "worker.log").read_text()
    assert sent_at is not None, log
    assert "portfolio.tasks.invitation_send" in log
    assert "succeeded" in log
    mails = list((tmp_path / "mail").iterdir())
    assert len(mails) == 1
    assert invitation.url in mails[0].read_text()
    broker = celery_app.conf.broker_url.split(":", 1)[0]
    expected = (
        "redis" if os.environ.get("CELERY_BROKER_URL", "").startswith("redis") else "filesystem"
    )
    assert broker == expected
