"""Celery app, queues, routing, retry policy and beat schedule.

Tasks are idempotent (they claim their work with a conditional update), so they are
acknowledged late and re-queued when a worker dies mid-task: redelivery is safe.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("convene")
app.config_from_object("django.conf:settings", namespace="CELERY")

app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_default_queue="default",
    task_queues=[Queue("default"), Queue("email"), Queue("badges")],
    task_routes={
        "notifications.deliver*": {"queue": "email"},
        "notifications.render_badge*": {"queue": "badges"},
    },
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_time_limit=300,
    task_soft_time_limit=240,
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    # Publishing must never hang a web request: one quick attempt, then the outbox sweep.
    broker_connection_timeout=float(os.environ.get("REDIS_SOCKET_TIMEOUT", "1.0")),
    task_publish_retry=False,
    worker_hijack_root_logger=False,
    worker_send_task_events=False,
    timezone="UTC",
    enable_utc=True,
    beat_schedule={
        "outbox-sweep": {"task": "notifications.sweep_outbox", "schedule": 30.0},
        "event-reminders": {"task": "notifications.send_reminders", "schedule": 60.0},
    },
)
app.autodiscover_tasks(["sessions", "registrations", "notifications", "worker"])
