"""Celery tasks of the outbox: thin, ids as arguments, the work is in services.

Delivery tasks are acknowledged late and rejected (re-queued) when their worker dies: the
claim in `deliver_notifications` lets only the redelivery of that same task message take over
a row it had claimed, so a redelivery never doubles a message that another task sends.
"""

from __future__ import annotations

from celery import shared_task

from notifications import services

_DURABLE = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(name="notifications.deliver", bind=True, **_DURABLE)
def deliver(self, notification_id: int) -> dict:
    return services.deliver_notifications(
        notification_ids=[notification_id], claim_token=self.request.id or ""
    )


@shared_task(name="notifications.deliver_chunk", bind=True, **_DURABLE)
def deliver_chunk(self, notification_ids: list[int]) -> dict:
    """A chunk of a bulk send: one task, one SMTP connection."""
    return services.deliver_notifications(
        notification_ids=notification_ids, claim_token=self.request.id or ""
    )


@shared_task(name="notifications.fanout_agenda_update", bind=True, **_DURABLE)
def fanout_agenda_update(self, agenda_version_id: int) -> int:
    ids = services.agenda_fanout_run(agenda_version_id=agenda_version_id, claim_token=self.request.id or "")
    return len(ids)


@shared_task(name="notifications.sweep_outbox", ignore_result=True)
def sweep_outbox() -> dict:
    return services.outbox_sweep()


@shared_task(name="notifications.send_reminders", ignore_result=True)
def send_reminders() -> int:
    return services.reminders_enqueue()
