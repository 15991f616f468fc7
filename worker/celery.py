"""Celery app, queues, routing, retry policy and beat schedule.

Tasks are idempotent (they claim their work with a conditional update), so they are
acknowledged late and re-queued when a worker dies mid-task: redelivery is safe.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from celery import Celery, signals
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("convene")


class _CelerySettings(Mapping):
    """The CELERY_* Django settings, read once, when Celery first needs its configuration.

    Celery looks its options up on every publish, and an option missing from Django's settings
    (most are) costs an AttributeError there each time; a missing key here is a dict miss."""

    def __init__(self):
        self._values: dict | None = None

    def _settings(self) -> dict:
        if self._values is None:
            from django.conf import settings

            names = [name for name in dir(settings) if name.startswith("CELERY_")]
            self._values = {name: getattr(settings, name) for name in names}
        return self._values

    def __getitem__(self, key):
        return self._settings()[key]

    def __iter__(self):
        return iter(self._settings())

    def __len__(self):
        return len(self._settings())


app.config_from_object(_CelerySettings(), namespace="CELERY")

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
    # Tasks a worker process reserves ahead. With 1 it idles for a broker round trip between
    # tasks (about a third of the time for one-message email tasks); 4 keeps it busy. What a
    # killed worker had reserved but not started is not lost: its rows stay pending, and the
    # outbox sweep re-dispatches them (the claim keeps a late redelivery from doubling them).
    worker_prefetch_multiplier=int(os.environ.get("CELERY_WORKER_PREFETCH_MULTIPLIER", "4")),
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
# Celery's Django fixup closes the database connection before and after every task unless
# CELERY_DB_REUSE_MAX is set: a new PostgreSQL backend for every task (a fork on the server, a
# handshake and session setup here), which costs a one-message email task more than its work.
# Connections are kept instead, and Django's own rules (CONN_MAX_AGE, CONN_HEALTH_CHECKS)
# decide around each task when one is replaced, exactly as around a web request.
app.conf["CELERY_DB_REUSE_MAX"] = 2**31
app.autodiscover_tasks(["sessions", "registrations", "notifications", "worker"])


@signals.task_prerun.connect
@signals.task_postrun.connect
def _database_connections_as_around_a_request(sender=None, **kwargs) -> None:
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # an eager task runs inside its caller's transaction (tests): leave it alone
    from django.db import close_old_connections

    close_old_connections()
