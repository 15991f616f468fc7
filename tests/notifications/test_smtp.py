"""The SMTP session that reads a message's final reply later (notifications/smtp.py), against a
real SMTP server on loopback (aiosmtpd), alone and inside a chunk of the outbox."""

from __future__ import annotations

import smtplib

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend as DjangoEmailBackend

from notifications import messages, services
from notifications.models import Notification
from notifications.smtp import EmailBackend, hand_over
from registrations.models import Registration
from tests.factories import EventFactory, RegistrationFactory
from tests.notifications.pipeline import confirmation_of
from tests.support.smtp import SmtpServer

# A line that is only ".", one that starts with "." and no line break at the end: what the
# DATA transparency rule (RFC 5321 4.5.2) and smtplib's ending are about.
BODY = "Agenda:\n.\n.. starts with dots\nlast line without a break"


def _message(to: str, body: str = BODY) -> EmailMessage:
    return EmailMessage(
        subject="Convene test",
        body=body,
        from_email="events@convene.localhost",
        to=[to],
        headers={"Message-ID": f"<{to}.test@convene.localhost>"},
    )


@pytest.fixture
def server():
    server = SmtpServer().start()
    yield server
    server.stop()


def _backend(server: SmtpServer, cls=EmailBackend):
    return cls(host="127.0.0.1", port=server.port, timeout=5)


def test_the_server_receives_what_sendmail_would_have_sent(server):
    message = _message("a@example.org")
    with _backend(server, DjangoEmailBackend) as stock:
        stock.send_messages([message])
    with _backend(server) as ours:
        verdict = hand_over(ours, message)
        assert verdict() == 1

    (stock_from, stock_to, stock_data), (our_from, our_to, our_data) = server.inbox.envelopes
    assert (our_from, our_to) == (stock_from, stock_to) == ("events@convene.localhost", ["a@example.org"])

    # The Date header is written when each message is built; everything else is the same.
    def without_date(data: bytes) -> list[bytes]:
        return [line for line in data.split(b"\n") if not line.startswith(b"Date:")]

    assert without_date(our_data) == without_date(stock_data)
    assert server.inbox.messages[1].get_content().splitlines()[1:3] == [".", ".. starts with dots"]


def test_the_verdict_of_a_refused_message_raises_and_the_session_goes_on(server):
    server.inbox.data_reply_for["spam@example.org"] = "554 5.7.1 Message refused"
    with _backend(server) as backend:
        refused = hand_over(backend, _message("spam@example.org"))
        with pytest.raises(smtplib.SMTPDataError) as raised:
            refused()
        accepted = hand_over(backend, _message("b@example.org"))
        assert accepted() == 1

    assert raised.value.smtp_code == 554
    assert [to for _from, to, _data in server.inbox.envelopes] == [["b@example.org"]]


def test_a_command_sent_before_the_verdict_is_read_takes_its_own_reply(server):
    server.inbox.data_reply_for["spam@example.org"] = "554 5.7.1 Message refused"
    with _backend(server) as backend:
        verdict = hand_over(backend, _message("spam@example.org"))
        # The NOOP that proves a kept session alive, say: it must not take the 554 for its own.
        assert backend.connection.noop()[0] == 250
        with pytest.raises(smtplib.SMTPDataError) as raised:
            verdict()
    assert raised.value.smtp_code == 554


def test_a_message_is_not_handed_over_while_the_last_verdict_is_unread(server):
    with _backend(server) as backend:
        hand_over(backend, _message("a@example.org"))
        with pytest.raises(RuntimeError, match="has not been read"):
            hand_over(backend, _message("b@example.org"))


def test_with_another_backend_the_message_is_sent_at_once(server):
    with _backend(server, DjangoEmailBackend) as backend:
        verdict = hand_over(backend, _message("a@example.org"))
        assert len(server.inbox.messages) == 1  # before the verdict is asked for
        assert verdict() == 1


# --- Inside a chunk of the outbox ---------------------------------------------------------------


def _confirmations(count: int, **registration) -> list[Notification]:
    event = EventFactory(capacity=count + 1)
    return [
        confirmation_of(
            RegistrationFactory(event=event, language="en", email=f"person{i}@example.org", **registration)
        )
        for i in range(count)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reply", "status", "counted"),
    [("550 5.7.1 Content refused", "failed", "failed"), ("451 4.3.0 Try again later", "pending", "retry")],
)
def test_a_message_refused_at_the_end_of_its_data_is_the_only_one_affected(
    smtp_server, reply, status, counted
):
    first, refused, last = _confirmations(3)
    smtp_server.inbox.data_reply_for[refused.recipient_email] = reply

    counts = services.deliver_notifications(notification_ids=[first.id, refused.id, last.id])

    statuses = {n.pk: n for n in Notification.objects.all()}
    assert counts["sent"] == 2 and counts[counted] == 1
    assert statuses[first.pk].status == statuses[last.pk].status == Notification.Status.SENT
    assert statuses[refused.pk].status == status
    assert reply.split()[0] in statuses[refused.pk].last_error
    assert sorted(to for _f, [to], _d in smtp_server.inbox.envelopes) == sorted(
        [first.recipient_email, last.recipient_email]
    )


@pytest.mark.django_db
def test_out_of_time_while_the_server_holds_a_message_it_is_recorded_sent_not_sent_again(
    smtp_server, monkeypatch
):
    first, second, third = _confirmations(3)
    build = messages.build_message

    def out_of_time_at_the_second(notification, **kwargs):
        if notification.pk == second.pk:
            raise SoftTimeLimitExceeded()  # what Celery raises in the task at its soft time limit
        return build(notification, **kwargs)

    monkeypatch.setattr(messages, "build_message", out_of_time_at_the_second)

    with pytest.raises(SoftTimeLimitExceeded):
        services.deliver_notifications(notification_ids=[first.id, second.id, third.id])

    rows = {n.pk: n for n in Notification.objects.all()}
    # The first message was with the server when time ran out: recorded as what it is.
    assert rows[first.pk].status == Notification.Status.SENT
    assert rows[first.pk].message_id
    # The rest are released for another task, not failed and not sent.
    assert rows[second.pk].status == rows[third.pk].status == Notification.Status.PENDING
    assert [to for _f, [to], _d in smtp_server.inbox.envelopes] == [first.recipient_email]


@pytest.mark.django_db
def test_in_a_chunk_a_registration_gone_before_its_turn_is_skipped_and_the_rest_sent(smtp_server):
    first, gone, last = _confirmations(3)
    Registration.objects.filter(pk=gone.subject_id).delete()  # the outbox row stays: no foreign key

    counts = services.deliver_notifications(notification_ids=[first.id, gone.id, last.id])

    rows = {n.pk: n for n in Notification.objects.all()}
    assert (counts["sent"], counts["skipped"]) == (2, 1)
    assert rows[gone.pk].status == Notification.Status.SKIPPED
    assert "no longer exists" in rows[gone.pk].last_error
    assert sorted(to for _f, [to], _d in smtp_server.inbox.envelopes) == sorted(
        [first.recipient_email, last.recipient_email]
    )
