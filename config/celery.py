"""The Celery application, configured from Django's settings (CELERY_* names)."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("throughline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    # Reliability: a task is acknowledged only after it finished, a task whose
    # worker process died is re-queued rather than dropped, and a worker holds
    # one message at a time so a crash strands at most one.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # Progress and results live in the organization's own tables, under
    # row-level security; Celery's result backend would hold them outside it.
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    # A running task whose broker connection was lost can no longer be
    # acknowledged, and its message is delivered again (at once if the worker
    # could put it back, else after the visibility timeout): stop the task
    # rather than let two copies run. Celery 6's default (docs/workers.md).
    worker_cancel_long_running_tasks_on_connection_loss=True,
    worker_hijack_root_logger=False,
    beat_schedule={
        "recompute-kpis-nightly": {
            "task": "metrics.tasks.kpis_recompute_nightly",
            "schedule": crontab(hour=2, minute=15),
        },
        "purge-expired-invitations": {
            "task": "portfolio.tasks.invitations_purge_expired",
            "schedule": 24 * 3600,
        },
    },
)
app.autodiscover_tasks()
