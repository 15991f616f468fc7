"""The outbox's delivery service against a real SMTP server on loopback (aiosmtpd), with the
real message builder. One process: the worker-process pipeline is in tests/integration."""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from notifications import services
from notifications.models import Notification
from registrations.models import Registration
from tests.factories import EventFactory, RegistrationFactory
from tests.notifications.pipeline import RecordingSmtpServer, confirmation_of
from tests.support.processes import free_port
from tests.support.smtp import Inbox, SmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def recording_smtp(settings):
    server = RecordingSmtpServer().start()
    settings.EMAIL_BACKEND = "notifications.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    yield server
    server.stop()


def test_notification_enqueue_same_message_twice_is_one_row():
    registration = RegistrationFactory()

    first = confirmation_of(registration)
    second = services.notification_enqueue(
        event_id=registration.event_id,
        kind=Notification.Kind.CONFIRMATION,
        recipient_email=registration.email,
        subject_type="registration",
        subject_id=registration.id,
        version=registration.invite_sequence,
    )

    assert second is None
    assert list(Notification.objects.values_list("id", flat=True)) == [first.id]


def test_deliver_sends_once_and_records_it(smtp_server):
    registration = RegistrationFactory(language="en")
    notification = confirmation_of(registration)

    first = services.deliver_notifications(notification_ids=[notification.id], claim_token="task-a")
    again = services.deliver_notifications(notification_ids=[notification.id], claim_token="task-b")

    notification.refresh_from_db()
    received = smtp_server.inbox.to(registration.email)
    assert first["sent"] == 1
    assert again["claimed"] == 0
    assert len(received) == 1
    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 1
    assert notification.sent_at is not None
    assert notification.message_id == str(received[0]["Message-ID"])
    assert notification.context == {}
    assert notification.claim_token == ""


def test_deliver_claimed_row_only_its_own_task_redelivery_takes_over(smtp_server):
    registration = RegistrationFactory(language="en")
    notification = confirmation_of(registration)
    # A worker running task "task-a" claimed the row and was killed before sending.
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.SENDING, claim_token="task-a", claimed_at=timezone.now(), attempts=1
    )

    other = services.deliver_notifications(notification_ids=[notification.id], claim_token="task-b")
    redelivered = services.deliver_notifications(notification_ids=[notification.id], claim_token="task-a")

    notification.refresh_from_db()
    assert other["claimed"] == 0
    assert redelivered["sent"] == 1
    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 2
    assert len(smtp_server.inbox.to(registration.email)) == 1


def test_deliver_permanent_refusal_marks_failed_with_reason(smtp_server):
    registration = RegistrationFactory(language="en", email="nobody@example.org")
    smtp_server.inbox.reply_for["nobody@example.org"] = "550 5.1.1 No such user here"
    notification = confirmation_of(registration)

    counts = services.deliver_notifications(notification_ids=[notification.id])

    notification.refresh_from_db()
    assert counts["failed"] == 1
    assert notification.status == Notification.Status.FAILED
    assert "550" in notification.last_error
    assert "No such user here" in notification.last_error
    assert smtp_server.inbox.messages == []


def test_deliver_temporary_refusal_backs_off_and_stays_pending(smtp_server, settings):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 30
    registration = RegistrationFactory(language="en", email="greylisted@example.org")
    smtp_server.inbox.reply_for["greylisted@example.org"] = "451 4.7.1 Greylisted, try again later"
    notification = confirmation_of(registration)
    before = timezone.now()

    counts = services.deliver_notifications(notification_ids=[notification.id])

    notification.refresh_from_db()
    assert counts["retry"] == 1
    assert notification.status == Notification.Status.PENDING
    assert notification.attempts == 1
    assert "451" in notification.last_error
    # Backoff with jitter: between half and all of the first step.
    assert before + timedelta(seconds=15) <= notification.next_attempt_at
    assert notification.next_attempt_at <= timezone.now() + timedelta(seconds=30)
    # Not due yet: a task arriving early does not claim it.
    early = services.deliver_notifications(notification_ids=[notification.id])
    assert early["claimed"] == 0


def test_deliver_gives_up_after_the_attempt_limit(smtp_server, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    registration = RegistrationFactory(language="en", email="full@example.org")
    smtp_server.inbox.reply_for["full@example.org"] = "452 4.2.2 Mailbox full"
    notification = confirmation_of(registration)

    services.deliver_notifications(notification_ids=[notification.id])
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())
    services.deliver_notifications(notification_ids=[notification.id])

    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert notification.attempts == 2
    assert notification.last_error.startswith("gave up after 2 attempts")


def test_deliver_smtp_unreachable_retries_the_whole_chunk(settings):
    settings.EMAIL_BACKEND = "notifications.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    event = EventFactory()
    notifications = [confirmation_of(RegistrationFactory(event=event, language="en")) for _ in range(3)]

    counts = services.deliver_notifications(notification_ids=[n.id for n in notifications])

    rows = list(Notification.objects.order_by("id"))
    assert counts["retry"] == 3
    assert [r.status for r in rows] == [Notification.Status.PENDING] * 3
    assert [r.attempts for r in rows] == [1, 1, 1]
    assert all(r.last_error.startswith("smtp connection") for r in rows)


def test_deliver_chunk_uses_one_smtp_connection(recording_smtp):
    event = EventFactory()
    notifications = [confirmation_of(RegistrationFactory(event=event, language="en")) for _ in range(5)]

    counts = services.deliver_notifications(notification_ids=[n.id for n in notifications])

    assert counts["sent"] == 5
    assert len(recording_smtp.inbox.messages) == 5
    assert len(set(recording_smtp.inbox.peers)) == 1


def test_consecutive_tasks_share_one_smtp_session(recording_smtp):
    # One confirmation per task is the sign-up shape: the session outlives the task.
    event = EventFactory()
    ids = [confirmation_of(RegistrationFactory(event=event, language="en")).id for _ in range(3)]

    for notification_id in ids:
        assert services.deliver_notifications(notification_ids=[notification_id])["sent"] == 1

    assert len(recording_smtp.inbox.messages) == 3
    assert len(set(recording_smtp.inbox.peers)) == 1


def test_a_session_the_server_dropped_is_replaced_without_losing_mail(settings):
    server = RecordingSmtpServer().start()
    settings.EMAIL_BACKEND = "notifications.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    event = EventFactory()
    first, second = (confirmation_of(RegistrationFactory(event=event, language="en")) for _ in range(2))
    assert services.deliver_notifications(notification_ids=[first.id])["sent"] == 1

    server.stop()  # the server goes away with our idle session, and comes back
    restarted = RecordingSmtpServer(port=server.port).start()
    try:
        counts = services.deliver_notifications(notification_ids=[second.id])
    finally:
        restarted.stop()

    assert counts == {"claimed": 1, "sent": 1, "failed": 0, "skipped": 0, "retry": 0}
    assert len(restarted.inbox.messages) == 1
    second.refresh_from_db()
    assert second.status == Notification.Status.SENT


def test_an_idle_session_is_not_kept(recording_smtp, settings):
    settings.SMTP_SESSION_IDLE_SECONDS = 0
    event = EventFactory()
    for _ in range(2):
        notification = confirmation_of(RegistrationFactory(event=event, language="en"))
        assert services.deliver_notifications(notification_ids=[notification.id])["sent"] == 1

    assert len(set(recording_smtp.inbox.peers)) == 2


def test_deliver_refusal_of_one_recipient_does_not_stop_the_chunk(recording_smtp):
    event = EventFactory()
    good = [RegistrationFactory(event=event, language="en") for _ in range(2)]
    bad = RegistrationFactory(event=event, language="en", email="gone@example.org")
    recording_smtp.inbox.reply_for["gone@example.org"] = "550 5.1.1 Gone"
    ids = [confirmation_of(good[0]).id, confirmation_of(bad).id, confirmation_of(good[1]).id]

    counts = services.deliver_notifications(notification_ids=ids)

    statuses = dict(Notification.objects.values_list("recipient_email", "status"))
    assert counts == {"claimed": 3, "sent": 2, "failed": 1, "skipped": 0, "retry": 0}
    assert statuses["gone@example.org"] == Notification.Status.FAILED
    assert len(set(recording_smtp.inbox.peers)) == 1


def test_deliver_message_no_longer_true_is_skipped(smtp_server):
    registration = RegistrationFactory(language="en")
    notification = confirmation_of(registration)
    Registration.objects.filter(pk=registration.pk).update(status=Registration.Status.CANCELLED)

    counts = services.deliver_notifications(notification_ids=[notification.id])

    notification.refresh_from_db()
    assert counts["skipped"] == 1
    assert notification.status == Notification.Status.SKIPPED
    assert smtp_server.inbox.messages == []


def test_retry_delay_grows_exponentially_and_is_capped(settings):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 10
    settings.NOTIFICATIONS_RETRY_MAX_SECONDS = 100

    delays = {attempt: [services.retry_delay(attempt) for _ in range(200)] for attempt in (1, 2, 3, 8)}

    assert 5 <= min(delays[1]) and max(delays[1]) <= 10
    assert 10 <= min(delays[2]) and max(delays[2]) <= 20
    assert 20 <= min(delays[3]) and max(delays[3]) <= 40
    assert 50 <= min(delays[8]) and max(delays[8]) <= 100
    assert len(set(delays[3])) > 1  # jittered


def test_outbox_sweep_reopens_stale_claims_and_redispatches_overdue_rows(settings):
    settings.NOTIFICATIONS_CLAIM_STALE_SECONDS = 300
    settings.NOTIFICATIONS_PENDING_GRACE_SECONDS = 60
    services.broker_breaker.reset()
    event = EventFactory()
    now = timezone.now()
    overdue, fresh, stale, busy = (confirmation_of(RegistrationFactory(event=event)) for _ in range(4))
    Notification.objects.filter(pk=overdue.pk).update(next_attempt_at=now - timedelta(seconds=120))
    Notification.objects.filter(pk=stale.pk).update(
        status=Notification.Status.SENDING, claim_token="dead", claimed_at=now - timedelta(seconds=400)
    )
    Notification.objects.filter(pk=busy.pk).update(
        status=Notification.Status.SENDING, claim_token="alive", claimed_at=now - timedelta(seconds=10)
    )

    report = services.outbox_sweep()

    rows = {n.pk: n for n in Notification.objects.all()}
    assert report["reopened"] == 1
    assert report["pending"] == 1
    assert report["dispatched"] == 2
    assert rows[stale.pk].status == Notification.Status.PENDING
    assert rows[stale.pk].claim_token == ""
    assert rows[busy.pk].status == Notification.Status.SENDING
    # Handed to the broker again: the next sweep waits a full grace period before re-sending it.
    assert rows[overdue.pk].next_attempt_at >= now
    assert rows[fresh.pk].status == Notification.Status.PENDING


def test_outbox_sweep_broker_down_leaves_rows_for_the_next_sweep(settings):
    settings.NOTIFICATIONS_PENDING_GRACE_SECONDS = 60
    services.broker_breaker.reset()
    notification = confirmation_of(RegistrationFactory())
    long_ago = timezone.now() - timedelta(seconds=120)
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=long_ago)
    services.broker_breaker.trip()  # as after a failed publish
    try:
        report = services.outbox_sweep()
    finally:
        services.broker_breaker.reset()

    notification.refresh_from_db()
    assert report["dispatched"] == 0
    assert notification.next_attempt_at == long_ago


def test_reminders_enqueue_once_per_confirmed_registration_whatever_the_interval(settings):
    settings.NOTIFICATIONS_REMINDER_HOURS_BEFORE = 24
    soon = EventFactory(starts_at=timezone.now() + timedelta(hours=10))
    later = EventFactory(starts_at=timezone.now() + timedelta(days=3))
    confirmed = [RegistrationFactory(event=soon) for _ in range(2)]
    RegistrationFactory(event=soon, status=Registration.Status.WAITLISTED, waitlist_position=1)
    RegistrationFactory(event=later)

    first = services.reminders_enqueue()
    second = services.reminders_enqueue()
    third = services.reminders_enqueue(now=timezone.now() + timedelta(hours=5))

    reminders = Notification.objects.filter(kind=Notification.Kind.REMINDER)
    assert (first, second, third) == (2, 0, 0)
    assert sorted(reminders.values_list("subject_id", flat=True)) == sorted(r.id for r in confirmed)
    assert set(reminders.values_list("event_id", flat=True)) == {soon.id}


def test_reminders_enqueue_none_after_the_event_started(settings):
    started = EventFactory(starts_at=timezone.now() - timedelta(minutes=5))
    RegistrationFactory(event=started)

    assert services.reminders_enqueue() == 0
    assert not Notification.objects.exists()


def test_rows_enqueued_together_go_out_as_chunk_tasks_after_the_commit(
    published, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_CHUNK_SIZE = 2
    event = EventFactory()
    registrations = [RegistrationFactory(event=event) for _ in range(5)]

    with django_capture_on_commit_callbacks(execute=True):
        with services.dispatch_together():
            ids = [confirmation_of(r).id for r in registrations]
            with services.dispatch_together():  # a block inside adds to the outer one
                ids.append(confirmation_of(RegistrationFactory(event=event)).id)
        assert published == []  # nothing before the commit

    chunk = services.DELIVER_CHUNK_TASK
    assert published == [(chunk, [ids[0:2]]), (chunk, [ids[2:4]]), (chunk, [ids[4:6]])]


def test_rows_enqueued_alone_go_out_one_task_each(published, django_capture_on_commit_callbacks):
    event = EventFactory()

    with django_capture_on_commit_callbacks(execute=True):
        ids = [confirmation_of(RegistrationFactory(event=event)).id for _ in range(2)]

    assert published == [(services.DELIVER_TASK, [ids[0]]), (services.DELIVER_TASK, [ids[1]])]


def test_rows_enqueued_together_in_a_rolled_back_transaction_are_not_dispatched(
    published, django_capture_on_commit_callbacks
):
    from django.db import transaction

    event = EventFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic(), services.dispatch_together():
            confirmation_of(RegistrationFactory(event=event))
            raise RuntimeError("the bulk action failed half way")

    assert callbacks == []
    assert published == []
    assert not Notification.objects.exists()


class _SlowInbox(Inbox):
    """A mail server that takes `delay` seconds to accept each message."""

    def __init__(self, delay: float):
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_chunk_outliving_the_stale_period_keeps_its_claims_from_the_sweep(settings):
    """A chunk on a slow server runs longer than NOTIFICATIONS_CLAIM_STALE_SECONDS while the
    sweep runs: the sweep must not take the live chunk for a dead worker's and re-open the rest
    of it for another task (a second copy of every message still queued in the chunk)."""
    server = SmtpServer(inbox=_SlowInbox(delay=0.2)).start()
    settings.EMAIL_BACKEND = "notifications.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.NOTIFICATIONS_CLAIM_STALE_SECONDS = 2.0
    services.broker_breaker.reset()
    event = EventFactory()
    ids = [confirmation_of(RegistrationFactory(event=event, language="en")).id for _ in range(14)]
    first: dict[str, int] = {}

    def first_worker():
        try:
            first.update(services.deliver_notifications(notification_ids=ids, claim_token="slow-chunk"))
        finally:
            connection.close()  # this thread's own database connection

    try:
        worker = threading.Thread(target=first_worker)
        worker.start()
        # 14 messages at 0.2 s each: by the 11th the chunk is older than the stale period.
        deadline = time.monotonic() + 30
        while len(server.inbox.messages) < 11 and time.monotonic() < deadline:
            time.sleep(0.02)
        swept = services.outbox_sweep()
        # What the sweep re-opened, a second worker now delivers.
        second = services.deliver_notifications(notification_ids=ids, claim_token="second-worker")
        worker.join(timeout=30)
    finally:
        server.stop()

    received = collections.Counter(str(m["Message-ID"]) for m in server.inbox.messages)
    assert swept["reopened"] == 0
    assert second["claimed"] == 0
    assert first["sent"] == 14
    assert len(received) == 14 and set(received.values()) == {1}
    assert set(Notification.objects.values_list("status", flat=True)) == {Notification.Status.SENT}
