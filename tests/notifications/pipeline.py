"""Shared parts of the outbox pipeline tests: an SMTP server that records which connection
each message came on, a beat process, and the short intervals the worker runs with in tests."""

from __future__ import annotations

import contextlib
from pathlib import Path

from aiosmtpd.controller import Controller

from notifications import services
from notifications.models import Notification
from tests.support.processes import VENV_BIN, ManagedProcess, free_port, subprocess_env, wait_for
from tests.support.smtp import Inbox, SmtpServer

# Production: sweep every 30 s, grace 60 s, stale claims after 300 s, backoff from 30 s.
FAST_PIPELINE_ENV = {
    "NOTIFICATIONS_SWEEP_INTERVAL": "1",
    "NOTIFICATIONS_PENDING_GRACE_SECONDS": "2",
    "NOTIFICATIONS_CLAIM_STALE_SECONDS": "6",
    "NOTIFICATIONS_RETRY_BASE_SECONDS": "1",
    "NOTIFICATIONS_RETRY_MAX_SECONDS": "4",
    "NOTIFICATIONS_MAX_ATTEMPTS": "40",
    "NOTIFICATIONS_BROKER_BACKOFF_SECONDS": "1",
    "NOTIFICATIONS_REMINDER_INTERVAL": "3600",
    "EMAIL_TIMEOUT": "5",
}


class PeerInbox(Inbox):
    """Also records the client address of each message: one peer = one SMTP connection."""

    def __init__(self):
        super().__init__()
        self.peers: list[tuple[str, int]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        reply = await super().handle_DATA(server, session, envelope)
        with self.lock:
            self.peers.append(tuple(session.peer))
        return reply


class RecordingSmtpServer(SmtpServer):
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.inbox = PeerInbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, decode_data=False)


def worker_env(smtp_port: int, **extra: str) -> dict[str, str]:
    return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp_port), **FAST_PIPELINE_ENV, **extra}


def start_celery_beat(tmp_path: Path, **env: str) -> ManagedProcess:
    process = ManagedProcess(
        [
            str(VENV_BIN / "celery"),
            "-A",
            "worker",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(tmp_path / "beat-schedule"),
            "--pidfile=",
        ],
        env=subprocess_env(**env),
        log_path=tmp_path / "celery-beat.log",
    )
    wait_for(lambda: "beat: Starting" in process.log() or not process.alive(), timeout=60, what="celery beat")
    if not process.alive():
        raise RuntimeError("celery beat exited:\n" + process.log()[-4000:])
    return process


@contextlib.contextmanager
def stopping(*processes: ManagedProcess):
    try:
        yield
    finally:
        for process in processes:
            process.stop()


def message_ids(messages) -> list[str]:
    return [str(m["Message-ID"]) for m in messages]


def confirmation_of(registration) -> Notification:
    """The confirmation outbox row of a registration, as the registration service writes it."""
    notification = services.notification_enqueue(
        event_id=registration.event_id,
        kind=Notification.Kind.CONFIRMATION,
        recipient_email=registration.email,
        recipient_name=registration.full_name,
        language="en",
        subject_type="registration",
        subject_id=registration.id,
        version=registration.invite_sequence,
    )
    assert notification is not None
    return notification
