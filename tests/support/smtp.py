"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives in memory."""

from __future__ import annotations

import email
import email.policy
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.support.processes import free_port


class Inbox:
    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        # Set to e.g. "451 4.3.0 Try again later" or "550 5.1.1 No such user" to refuse mail.
        self.reply_for: dict[str, str] = {}
        self.refuse_all: str | None = None
        # The same, given at the end of the message's data instead: the server read it all.
        self.data_reply_for: dict[str, str] = {}
        # (MAIL FROM, RCPT TO addresses, the data as received), in order of arrival.
        self.envelopes: list[tuple[str, list[str], bytes]] = []
        # Offer PIPELINING (RFC 2920) in the EHLO reply, as production servers do; aiosmtpd
        # reads pipelined commands in order, it only does not say so.
        self.pipelining = False
        # Set to e.g. "550 5.7.1 Sender refused" to refuse every MAIL FROM.
        self.refuse_sender: str | None = None

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname  # what aiosmtpd does itself when there is no hook
        if self.pipelining:
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        if self.refuse_sender:
            return self.refuse_sender
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        reply = self.refuse_all or self.reply_for.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        for address in envelope.rcpt_tos:
            reply = self.data_reply_for.get(address.lower())
            if reply:
                return reply
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]


class SmtpServer:
    def __init__(self, port: int | None = None, inbox: Inbox | None = None):
        self.port = port or free_port()
        self.inbox = inbox or Inbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, decode_data=False)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
