"""Django's SMTP backend, with a session that can read a message's final reply later.

After the last line of a message's data, the server checks and stores the message before it
answers "250": for our messages that is most of the wall time a send takes. A chunk of the
outbox hands a message over, renders the next one while the server works, and only then reads
the verdict (`hand_over` below).

When the server offers PIPELINING (RFC 2920, as Postfix, Exim and the big mail services do),
such a message's MAIL, RCPT and DATA commands go out together and their replies are read
together: one round trip before the data instead of three. The commands, their order and the
data are what `smtplib.SMTP.sendmail` writes, and a refusal raises what it raises.

`EMAIL_BACKEND = "notifications.smtp.EmailBackend"` (the default) uses it; with any other
backend a message is sent in full at once.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable

from django.conf import settings
from django.core.mail.backends import smtp as django_smtp

# As smtplib's DATA writes them: a line starting with "." gets a second one (RFC 5321 4.5.2).
_LEADING_PERIOD = re.compile(rb"(?m)^\.")


class _ReplyLater:
    """An SMTP session whose next DATA may leave the server's final reply unread.

    The reply is read by `data_reply()`. Should any other command come first (a NOOP, QUIT),
    it reads the pending reply before it is sent and keeps it for `data_reply()`: replies are
    never taken for the wrong command."""

    defer_next_data_reply = False
    pipelining_allowed = True  # the backend sets it from EMAIL_PIPELINING
    _reply_pending = False
    _early_reply: tuple[int, bytes] | None = None

    def sendmail(self, from_addr, to_addrs, msg, mail_options=(), rcpt_options=()):
        self.ehlo_or_helo_if_needed()
        pipelined = (
            self.defer_next_data_reply
            and self.pipelining_allowed
            and self.has_extn("pipelining")
            and isinstance(msg, bytes)
            # SMTPUTF8 switches the command encoding: left to smtplib's own steps.
            and not any(option.lower() == "smtputf8" for option in mail_options)
        )
        if not pipelined:
            return super().sendmail(from_addr, to_addrs, msg, mail_options, rcpt_options)
        return self._sendmail_pipelined(from_addr, to_addrs, msg, mail_options, rcpt_options)

    def _sendmail_pipelined(self, from_addr, to_addrs, msg, mail_options, rcpt_options):
        """`sendmail`, with MAIL, every RCPT and DATA sent as one group (RFC 2920 3.1)."""
        if self.reply_waiting:
            raise RuntimeError("the reply to the previous message has not been read")
        recipients = [to_addrs] if isinstance(to_addrs, str) else list(to_addrs)
        mail_opts = [f"size={len(msg)}"] if self.has_extn("size") else []
        mail_opts += mail_options
        commands = [("mail", f"FROM:{smtplib.quoteaddr(from_addr)}{_options(mail_opts)}")]
        commands += [("rcpt", f"TO:{smtplib.quoteaddr(to)}{_options(rcpt_options)}") for to in recipients]
        commands.append(("data", ""))
        self.send("".join(_command_line(cmd, args) for cmd, args in commands))

        # Every reply is read, in order, before anything else is sent.
        code, reply = self.getreply()
        if code == 421:
            self.close()
            raise smtplib.SMTPSenderRefused(code, reply, from_addr)
        sender_refused = None if code == 250 else (code, reply)
        refused = {}
        for to in recipients:
            code, reply = self.getreply()
            if code not in (250, 251):
                refused[to] = (code, reply)
            if code == 421:
                self.close()
                raise smtplib.SMTPRecipientsRefused(refused)
        data_code, data_reply = self.getreply()

        if sender_refused or len(refused) == len(recipients):
            if data_code == 354:
                # The server took DATA for a transaction it refused: ending the data would
                # deliver an empty message, so the session is dropped instead.
                self.close()
            elif data_code == 421:
                self.close()
            else:
                self._rset()
            if sender_refused:
                raise smtplib.SMTPSenderRefused(*sender_refused, from_addr)
            raise smtplib.SMTPRecipientsRefused(refused)
        if data_code != 354:
            raise smtplib.SMTPDataError(data_code, data_reply)  # as smtplib's data() raises it
        self.defer_next_data_reply = False
        self._send_data_reply_later(msg)
        return refused

    def data(self, msg):
        if not self.defer_next_data_reply:
            return super().data(msg)
        self.defer_next_data_reply = False
        if self.reply_waiting:
            raise RuntimeError("the reply to the previous message has not been read")
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        self._send_data_reply_later(msg)
        # What sendmail takes for success; the real verdict is data_reply()'s.
        return 250, b"reply not read yet"

    def _send_data_reply_later(self, msg: bytes) -> None:
        data = _LEADING_PERIOD.sub(b"..", msg)
        if data[-2:] != b"\r\n":
            data += b"\r\n"
        self.send(data + b".\r\n")
        self._reply_pending = True

    @property
    def reply_waiting(self) -> bool:
        """A message's data went out with its reply deferred, and the reply is not read yet."""
        return self._reply_pending or self._early_reply is not None

    def data_reply(self) -> tuple[int, bytes]:
        """The server's reply to the data last sent with its reply deferred."""
        if self._early_reply is not None:
            reply, self._early_reply = self._early_reply, None
            return reply
        if not self._reply_pending:
            raise RuntimeError("no message is waiting for its reply")
        self._reply_pending = False
        return self.getreply()

    def putcmd(self, cmd, args=""):
        if self._reply_pending:
            self._reply_pending = False
            self._early_reply = self.getreply()
        super().putcmd(cmd, args)

    def close(self):
        self._reply_pending, self._early_reply = False, None
        super().close()


def _options(options) -> str:
    return "".join(f" {option}" for option in options)


def _command_line(cmd: str, args: str) -> str:
    """A command as smtplib's putcmd writes it, refusing line breaks the same way."""
    line = f"{cmd} {args}" if args else cmd
    if "\r" in line or "\n" in line:
        raise ValueError(f"command and arguments contain prohibited newline characters: {line!r}")
    return f"{line}\r\n"


class ReplyLaterSMTP(_ReplyLater, smtplib.SMTP):
    pass


class ReplyLaterSMTP_SSL(_ReplyLater, smtplib.SMTP_SSL):  # noqa: N801 (as smtplib names it)
    pass


class EmailBackend(django_smtp.EmailBackend):
    """Django's SMTP backend (every setting and behaviour the same) on `ReplyLaterSMTP`;
    `pipelining` (default: the EMAIL_PIPELINING setting) allows PIPELINING where offered."""

    def __init__(self, *args, pipelining: bool | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.pipelining = settings.EMAIL_PIPELINING if pipelining is None else pipelining

    @property
    def connection_class(self):
        return ReplyLaterSMTP_SSL if self.use_ssl else ReplyLaterSMTP

    def open(self):
        opened = super().open()
        if isinstance(self.connection, _ReplyLater):
            self.connection.pipelining_allowed = self.pipelining
        return opened


def hand_over(backend, message) -> Callable[[], int]:
    """Send `message` through `backend` up to the end of its data; return what reads the
    server's verdict: 1 if it took the message, 0 if there was no recipient to send to.

    Both steps raise what `send_messages` raises. Until the verdict is read the message may or
    may not have been accepted, so the caller reads it before recording anything about it.
    """
    backend.open()  # kept open across messages: send_messages then does not close it
    session = getattr(backend, "connection", None)
    if not isinstance(session, _ReplyLater):
        sent = backend.send_messages([message])
        return lambda: sent
    session.defer_next_data_reply = True
    try:
        sent = backend.send_messages([message])
    finally:
        session.defer_next_data_reply = False  # also when nothing reached DATA
    if not sent or not session.reply_waiting:
        return lambda: sent

    def verdict() -> int:
        code, reply = session.data_reply()
        if code != 250:
            # As sendmail leaves a session after a refused message.
            if code == 421:
                session.close()
            else:
                try:
                    session.rset()
                except smtplib.SMTPServerDisconnected:
                    pass
            raise smtplib.SMTPDataError(code, reply)
        return 1

    return verdict
