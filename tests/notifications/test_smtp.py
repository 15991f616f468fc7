"""The SMTP session that reads a message's final reply later (notifications/smtp.py), against a
real SMTP server on loopback (aiosmtpd), alone and inside a chunk of the outbox."""

from __future__ import annotations

import smtplib
import socket
import threading
import time

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


def _backend(server, cls=EmailBackend):
    return cls(host="127.0.0.1", port=server.port, timeout=5)


@pytest.mark.parametrize("pipelining", [False, True], ids=["one command at a time", "pipelining"])
def test_the_server_receives_what_sendmail_would_have_sent(server, pipelining):
    server.inbox.pipelining = pipelining
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


# --- PIPELINING (RFC 2920) ---------------------------------------------------------------------


class ScriptedServer:
    """One SMTP session on loopback, scripted at the byte level: it records which commands had
    arrived before it answered the first one, so a test sees the grouping on the wire.

    `replies` answer MAIL, RCPT and DATA in turn; each message's data gets "250"."""

    def __init__(self, *, pipelining: bool, replies=("250 OK", "250 OK", "354 Go ahead")):
        self.pipelining, self.replies = pipelining, replies
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.before_first_reply: list[bytes] = []  # the command lines in hand at that moment
        self.messages: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.thread.join(5)
        self.listener.close()

    def _serve(self):
        conn, _ = self.listener.accept()
        conn.settimeout(5)
        buffer = b""

        def read_until(marker: bytes, wait: float = 5.0) -> bool:
            """Read until `marker` (lower case; commands are matched in any case) is in hand."""
            nonlocal buffer
            deadline = time.monotonic() + wait
            while marker not in buffer.lower() and time.monotonic() < deadline:
                conn.settimeout(max(deadline - time.monotonic(), 0.01))
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    break
                if not chunk:
                    return False
                buffer += chunk
            return marker in buffer.lower()

        def line() -> bytes | None:
            nonlocal buffer
            if not read_until(b"\r\n"):
                return None
            first, buffer = buffer.split(b"\r\n", 1)
            return first

        with conn:
            conn.sendall(b"220 scripted ESMTP\r\n")
            line()  # EHLO
            extensions = b"250-SIZE 10000000\r\n" + (b"250-PIPELINING\r\n" if self.pipelining else b"")
            conn.sendall(b"250-scripted\r\n" + extensions + b"250 HELP\r\n")
            mail = line()
            # Whatever else the client sent before waiting for an answer: a pipelining client
            # sends RCPT and DATA too; a client that waits for each reply sends nothing more.
            read_until(b"data\r\n", wait=1.0)
            self.before_first_reply = [mail, *buffer.split(b"\r\n")[:-1]]
            mail_reply, rcpt_reply, data_reply = self.replies
            conn.sendall(mail_reply.encode() + b"\r\n")
            rcpt = line()
            assert rcpt is not None and rcpt.lower().startswith(b"rcpt")
            conn.sendall(rcpt_reply.encode() + b"\r\n")
            if line() is None:  # DATA
                return
            conn.sendall(data_reply.encode() + b"\r\n")
            if not data_reply.startswith("354"):
                return
            if read_until(b"\r\n.\r\n"):
                data, buffer = buffer.split(b"\r\n.\r\n", 1)
                self.messages.append(data)
                conn.sendall(b"250 Accepted\r\n")
                if line() is not None:  # QUIT
                    conn.sendall(b"221 Bye\r\n")


def test_when_the_server_offers_pipelining_mail_rcpt_and_data_go_out_together():
    with ScriptedServer(pipelining=True) as server:
        with _backend(server) as backend:
            assert hand_over(backend, _message("a@example.org"))() == 1

    commands = [c.split(b" ")[0].lower() for c in server.before_first_reply]
    assert commands == [b"mail", b"rcpt", b"data"]
    assert server.before_first_reply[1] == b"rcpt TO:<a@example.org>"
    assert len(server.messages) == 1


def test_when_the_server_does_not_offer_it_each_command_waits_for_its_reply():
    with ScriptedServer(pipelining=False) as server:
        with _backend(server) as backend:
            assert hand_over(backend, _message("a@example.org"))() == 1

    assert [c.split(b" ")[0].lower() for c in server.before_first_reply] == [b"mail"]
    assert len(server.messages) == 1


def test_with_pipelining_turned_off_each_command_waits_even_when_it_is_offered(settings):
    settings.EMAIL_PIPELINING = False  # for a relay that offers PIPELINING and mishandles it
    with ScriptedServer(pipelining=True) as server:
        with _backend(server) as backend:
            assert hand_over(backend, _message("a@example.org"))() == 1

    assert [c.split(b" ")[0].lower() for c in server.before_first_reply] == [b"mail"]
    assert len(server.messages) == 1


def test_a_server_that_takes_data_for_a_refused_recipient_gets_no_message():
    # RFC 2920 3.1: the server should refuse DATA then; if it does not, ending the data would
    # hand it an empty message, so the session is dropped without one.
    replies = ("250 OK", "550 5.1.1 No such user", "354 Go ahead")
    with ScriptedServer(pipelining=True, replies=replies) as server:
        backend = _backend(server)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            hand_over(backend, _message("nobody@example.org"))
        backend.close()
    assert server.messages == []


@pytest.mark.parametrize(
    ("refusal", "raised"),
    [("sender", smtplib.SMTPSenderRefused), ("recipient", smtplib.SMTPRecipientsRefused)],
)
def test_with_pipelining_a_refused_envelope_raises_what_sendmail_raises_and_the_session_goes_on(
    server, refusal, raised
):
    server.inbox.pipelining = True
    with _backend(server) as backend:
        if refusal == "sender":
            server.inbox.refuse_sender = "550 5.7.1 Sender refused"
        else:
            server.inbox.reply_for["nobody@example.org"] = "550 5.1.1 No such user"
        with pytest.raises(raised) as refused:
            hand_over(backend, _message("nobody@example.org"))
        server.inbox.refuse_sender = None
        accepted = hand_over(backend, _message("b@example.org"))
        assert accepted() == 1

    if refusal == "sender":
        assert refused.value.smtp_code == 550
    else:
        assert refused.value.recipients["nobody@example.org"][0] == 550
    assert [to for _from, to, _data in server.inbox.envelopes] == [["b@example.org"]]


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
@pytest.mark.parametrize("pipelining", [False, True], ids=["one command at a time", "pipelining"])
@pytest.mark.parametrize(
    ("stage", "reply", "status", "counted"),
    [
        ("data", "550 5.7.1 Content refused", "failed", "failed"),
        ("data", "451 4.3.0 Try again later", "pending", "retry"),
        ("rcpt", "550 5.1.1 No such user", "failed", "failed"),
        ("rcpt", "451 4.3.0 Try again later", "pending", "retry"),
    ],
)
def test_a_refused_message_is_the_only_one_affected(smtp_server, pipelining, stage, reply, status, counted):
    first, refused, last = _confirmations(3)
    smtp_server.inbox.pipelining = pipelining
    replies = smtp_server.inbox.data_reply_for if stage == "data" else smtp_server.inbox.reply_for
    replies[refused.recipient_email] = reply

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
