"""Writes to the outbox. Other apps call `notification_enqueue` inside their own transaction."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from notifications.models import Notification

logger = logging.getLogger("convene.notifications")

DELIVER_TASK = "notifications.deliver"


def dispatch(notification_ids: list[int]) -> None:
    """Hand rows to the broker. Never raises: a broker that is down or hung costs at most the
    bounded socket timeout, and the periodic sweep re-dispatches whatever stayed pending."""
    from worker import app

    for notification_id in notification_ids:
        try:
            app.send_task(DELIVER_TASK, args=[notification_id], queue="email")
        except Exception as exc:  # kombu/redis raise many types; all mean "not published now"
            logger.warning(
                "broker unavailable, left for the sweep",
                extra={"notification_id": notification_id, "error": type(exc).__name__},
            )
            return


def notification_enqueue(
    *,
    event_id: int,
    kind: str,
    recipient_email: str,
    recipient_name: str = "",
    language: str = "en",
    subject_type: str,
    subject_id: int,
    version: str | int = 1,
    context: dict | None = None,
) -> Notification | None:
    """Write an outbox row (at most once per recipient, kind, subject and version) and dispatch it
    when the surrounding transaction commits. Returns None if that message was already enqueued."""
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                event_id=event_id,
                kind=kind,
                recipient_email=recipient_email,
                recipient_name=recipient_name,
                language=language,
                subject_type=subject_type,
                subject_id=subject_id,
                version=str(version),
                context=context or {},
            )
    except IntegrityError:
        return None
    transaction.on_commit(lambda: dispatch([notification.id]))
    return notification


def agenda_published(*, version) -> None:
    """Called by `sessions.services.agenda_publish` inside its transaction: the fan-out of
    updated invites to attendees and speakers happens in workers, in chunks, after commit."""
    from worker import app

    def fan_out() -> None:
        try:
            app.send_task("notifications.fanout_agenda_update", args=[version.id], queue="default")
        except Exception as exc:
            logger.warning(
                "broker unavailable, fan-out left for the sweep", extra={"error": type(exc).__name__}
            )

    transaction.on_commit(fan_out)
