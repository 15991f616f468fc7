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
        "notifications.fanout_*": {"queue": "default"},
        "notifications.sweep_outbox": {"queue": "default"},
        "notifications.send_reminders": {"queue": "default"},
    },
    # Nothing reads task results but `ping_worker`; storing them would tie publishing to the
    # result backend (a reconnect loop when Redis is down).
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # 1 keeps a killed worker's unacked backlog small; the outbox sweep re-dispatches those rows
    # anyway, so an email-only worker may take more (4: ~1.4x, 16: ~1.8x single-message tasks/s).
    worker_prefetch_multiplier=int(os.environ.get("CELERY_WORKER_PREFETCH_MULTIPLIER", "1")),
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
        # Same env names as the NOTIFICATIONS_* settings (tests shorten them).
        "outbox-sweep": {
            "task": "notifications.sweep_outbox",
            "schedule": float(os.environ.get("NOTIFICATIONS_SWEEP_INTERVAL", "30")),
            "options": {"queue": "default", "expires": 60},
        },
        "event-reminders": {
            "task": "notifications.send_reminders",
            "schedule": float(os.environ.get("NOTIFICATIONS_REMINDER_INTERVAL", "60")),
            "options": {"queue": "default", "expires": 300},
        },
    },
)
app.autodiscover_tasks(["sessions", "registrations", "notifications", "worker"])
