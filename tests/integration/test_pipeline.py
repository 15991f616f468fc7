"""The outbox end to end: real worker process, real broker, real SMTP server on loopback.

Rows are committed (transactional tests) so the worker process sees them; nothing is eager."""

from __future__ import annotations

from datetime import timedelta

import pytest
import vobject
from django.db import connection

from notifications.models import Notification
from registrations.services import registration_cancel, registration_capacity_change, registration_create
from sessions.models import Session, SessionSpeaker
from sessions.services import agenda_publish
from tests.factories import EventFactory, SessionFactory, SpeakerFactory
from tests.notifications.pipeline import RecordingSmtpServer, stopping, worker_env
from tests.support.processes import start_celery_worker, wait_for, wait_worker_ready
from worker import app as celery_app

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def smtp():
    server = RecordingSmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def worker(tmp_path, smtp):
    assert not celery_app.conf.task_always_eager
    celery_app.control.purge()  # tasks left by earlier tests name rows that no longer exist
    process = start_celery_worker(tmp_path, **worker_env(smtp.port))
    with stopping(process):
        wait_worker_ready(process)
        yield process


def _sign_up(event, email: str, **fields):
    data = {
        "full_name": "Amina Diallo",
        "email": email,
        "country": "SN",
        "category": "member_state",
        "attendance": "in_person",
        "consent": True,
        "language": "en",
        "timezone": "Africa/Dakar",
        **fields,
    }
    return registration_create(event=event, **data)


def _calendar(message) -> vobject.base.Component:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return part, vobject.readOne(part.get_content())


def _wait_mail(smtp, email: str, count: int, worker) -> list:
    wait_for(
        lambda: len(smtp.inbox.to(email)) >= count or not worker.alive(),
        timeout=60,
        what=f"{count} message(s) to {email}",
    )
    assert worker.alive(), worker.log()[-3000:]
    return smtp.inbox.to(email)


def test_sign_up_mail_arrives_and_cancel_sends_cancel_with_same_uid_higher_sequence(worker, smtp):
    event = EventFactory(capacity=10)

    registration = _sign_up(event, "amina@example.org")
    [confirmation] = _wait_mail(smtp, "amina@example.org", 1, worker)
    registration_cancel(registration=registration)
    [_, cancellation] = _wait_mail(smtp, "amina@example.org", 2, worker)

    part, invite = _calendar(confirmation)
    cancel_part, cancel = _calendar(cancellation)
    assert part.get_param("method") == "REQUEST"
    assert cancel_part.get_param("method") == "CANCEL"
    assert invite.method.value == "REQUEST"
    assert cancel.method.value == "CANCEL"
    assert cancel.vevent.uid.value == invite.vevent.uid.value
    assert int(cancel.vevent.sequence.value) > int(invite.vevent.sequence.value)
    rows = Notification.objects.filter(subject_id=registration.id).order_by("id")
    assert [(r.kind, r.status) for r in rows] == [("confirmation", "sent"), ("cancelled", "sent")]
    assert [r.message_id for r in rows] == [str(confirmation["Message-ID"]), str(cancellation["Message-ID"])]


def test_publish_moved_session_updates_attendees_and_that_sessions_speakers_only(worker, smtp):
    event = EventFactory(capacity=10)
    opening = SessionFactory(event=event, title="Opening")
    panel = SessionFactory(event=event, title="Panel", starts_at=event.starts_at + timedelta(minutes=30))
    opener, panellist = SpeakerFactory(event=event), SpeakerFactory(event=event)
    SessionSpeaker.objects.create(session=opening, speaker=opener)
    SessionSpeaker.objects.create(session=panel, speaker=panellist)
    attendees = [f"attendee-{i}@example.org" for i in range(3)]
    for email in attendees:
        _sign_up(event, email)
    agenda_publish(event=event)
    for email in attendees:
        _wait_mail(smtp, email, 2, worker)  # confirmation + first agenda
    _wait_mail(smtp, panellist.email, 1, worker)
    _wait_mail(smtp, opener.email, 1, worker)

    Session.objects.filter(pk=panel.pk).update(
        starts_at=panel.starts_at + timedelta(hours=1), ends_at=panel.ends_at + timedelta(hours=1)
    )
    version = agenda_publish(event=event)
    for email in attendees:
        _wait_mail(smtp, email, 3, worker)
    [_, moved] = _wait_mail(smtp, panellist.email, 2, worker)

    rows = Notification.objects.filter(
        kind__in=["agenda_update", "speaker_invite"], created_at__gte=version.published_at
    )
    wait_for(lambda: not rows.exclude(status=Notification.Status.SENT).exists(), timeout=30, what="all sent")
    assert sorted(rows.values_list("kind", "recipient_email")) == sorted(
        [("agenda_update", email) for email in attendees] + [("speaker_invite", panellist.email)]
    )
    assert len(smtp.inbox.to(opener.email)) == 1
    _, invite = _calendar(moved)
    assert invite.method.value == "REQUEST"
    assert int(invite.vevent.sequence.value) == 1


def test_a_capacity_increase_promotes_the_waitlist_and_mails_them_in_one_chunk_task(worker, smtp):
    event = EventFactory(capacity=1)
    _sign_up(event, "seated@example.org")
    waiting = [f"waiting-{i}@example.org" for i in range(3)]
    for email in waiting:
        assert _sign_up(event, email).status == "waitlisted"
    for email in waiting:
        _wait_mail(smtp, email, 1, worker)  # the waitlist notice, one task each

    promoted = registration_capacity_change(event=event, capacity=4)

    assert [r.email for r in promoted] == waiting
    for email in waiting:
        [_, promotion] = _wait_mail(smtp, email, 2, worker)
        assert str(promotion["Subject"]).startswith("A seat is now available for you")
    rows = Notification.objects.filter(kind="promoted")
    wait_for(lambda: rows.filter(status="sent").count() == 3, timeout=30, what="promotions recorded")
    received = [line for line in worker.log().splitlines() if "received" in line and "notifications." in line]
    assert sum("notifications.deliver_chunk[" in line for line in received) == 1, received
    assert sum("notifications.deliver[" in line for line in received) == 4  # confirmation + 3 notices


def _worker_backends() -> set[int]:
    """Backends of the test database other than this test's own connection."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}


@pytest.mark.postgres
def test_worker_keeps_its_database_connection_and_replaces_a_killed_one(worker, smtp):
    event = EventFactory(capacity=10)
    _sign_up(event, "first@example.org")
    _wait_mail(smtp, "first@example.org", 1, worker)
    before = _worker_backends()

    _sign_up(event, "second@example.org")
    _wait_mail(smtp, "second@example.org", 1, worker)
    assert before and _worker_backends() == before  # the same backend served the next task

    with connection.cursor() as cursor:  # the database drops the worker's idle connection
        cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [list(before)])
    third = _sign_up(event, "third@example.org")
    _wait_mail(smtp, "third@example.org", 1, worker)

    row = Notification.objects.get(subject_id=third.id, kind=Notification.Kind.CONFIRMATION)
    assert (row.status, row.attempts) == (Notification.Status.SENT, 1)  # no failed first attempt


def test_sign_ups_of_one_window_reach_the_worker_as_one_chunk_and_all_arrive(worker, smtp, settings):
    """As the web processes run (NOTIFICATIONS_DISPATCH_WINDOW_MS): each sign-up commits on its
    own, this process's background thread hands the window's rows over as one chunk task, and
    the worker process delivers every confirmation."""
    from celery.signals import before_task_publish

    from notifications import services

    settings.NOTIFICATIONS_DISPATCH_WINDOW_MS = 500
    services.broker_breaker.reset()
    tasks: list[tuple[str, list]] = []

    def record(sender=None, body=None, **kwargs):
        if sender in (services.DELIVER_TASK, services.DELIVER_CHUNK_TASK):
            tasks.append((sender, body[0]))

    before_task_publish.connect(record, weak=False)
    try:
        event = EventFactory(capacity=10)
        emails = [f"window{i}@example.org" for i in range(6)]
        registrations = [_sign_up(event, email) for email in emails]
        for email in emails:
            [confirmation] = _wait_mail(smtp, email, 1, worker)
            assert confirmation["Subject"]
    finally:
        before_task_publish.disconnect(record)

    rows = Notification.objects.filter(kind="confirmation", subject_id__in=[r.id for r in registrations])
    handed = [i for name, [args] in tasks for i in (args if name == services.DELIVER_CHUNK_TASK else [args])]
    assert sorted(handed) == sorted(rows.values_list("id", flat=True))  # each row once
    assert len(tasks) < len(emails)  # one task per window (a slow machine may need two), not per sign-up
    assert set(rows.values_list("status", flat=True)) == {"sent"}
