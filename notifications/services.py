"""The outbox: writes (enqueue, retry, fan-out rows) and their delivery.

Other apps call `notification_enqueue` (or, for a publish, `agenda_published`) inside their own
transaction. Rows are handed to the broker after commit; a worker claims a row with a
conditional update (pending → sending), renders it, sends it and marks it sent. Whatever the
broker or a worker lost, the periodic sweep finds again, since the row is the truth.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import smtplib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.mail import get_connection
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from config import sql
from config.problems import Conflict
from notifications.models import AgendaFanout, Notification
from notifications.smtp import hand_over

logger = logging.getLogger("convene.notifications")

DELIVER_TASK = "notifications.deliver"
DELIVER_CHUNK_TASK = "notifications.deliver_chunk"
FANOUT_TASK = "notifications.fanout_agenda_update"
# Rows one sweep looks at; the next sweep takes the rest.
SWEEP_LIMIT = 5000


class NotificationNotRetryable(Conflict):
    code = "notification_not_failed"
    title = "Only failed notifications can be retried"


# --- Handing work to the broker -------------------------------------------------------------


class _BrokerBreaker:
    """After a failed publish, skip the broker for a short while in this process: during an
    outage a burst of requests then pays the bounded socket timeout once, not each time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until = 0.0

    def allows(self) -> bool:
        return time.monotonic() >= self._open_until

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + settings.NOTIFICATIONS_BROKER_BACKOFF_SECONDS

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


broker_breaker = _BrokerBreaker()


def _publish(task_name: str, args: list, *, queue: str, countdown: float | None = None) -> bool:
    """One bounded attempt to publish; False (logged) when the broker is unavailable."""
    from worker import app

    if not broker_breaker.allows():
        return False
    try:
        # ignore_result: with a result backend, publishing would also subscribe to the result
        # channel, and the backend's reconnect loop takes 20-40 s when Redis is down.
        app.send_task(
            task_name,
            args=args,
            queue=queue,
            countdown=countdown,
            ignore_result=True,
            # What the worker logs of the task: ids, whose repr needs none of Celery's saferepr
            # (a bounded, recursion-safe repr that cost about a tenth of a publish).
            argsrepr=_argsrepr(args, app.amqp.argsrepr_maxsize),
            kwargsrepr="{}",
            # No queue declaration per message (kombu copied and bound the queue each time, a
            # seventh of a publish): both of Convene's brokers, Redis and the embedded stack's
            # filesystem one, deliver by queue name without one, and the workers declare their
            # queues when they start.
            declare=[],
        )
    except Exception as exc:  # kombu/redis raise many types; all mean "not published now"
        broker_breaker.trip()
        logger.warning(
            "broker unavailable, left for the sweep",
            extra={"task": task_name, "error": type(exc).__name__},
        )
        return False
    return True


def _argsrepr(args: list, limit: int) -> str:
    """What the worker logs of a task's arguments (ids): a plain repr, cut at Celery's limit."""
    text = repr(args)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dispatch_chunks(notification_ids: Sequence[int], *, countdown: float | None = None) -> list[int]:
    """Publish delivery tasks, one per chunk; returns the ids actually handed over."""
    ids = list(notification_ids)
    if len(ids) == 1:
        return ids if _publish(DELIVER_TASK, [ids[0]], queue="email", countdown=countdown) else []
    handed: list[int] = []
    size = max(settings.NOTIFICATIONS_CHUNK_SIZE, 1)
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        if not _publish(DELIVER_CHUNK_TASK, [chunk], queue="email", countdown=countdown):
            break
        handed.extend(chunk)
    return handed


def dispatch(notification_ids: Iterable[int]) -> None:
    """Hand rows to the broker. Never raises: a broker that is down or hung costs at most the
    bounded socket timeout, and the periodic sweep re-dispatches whatever stayed pending."""
    _dispatch_chunks(list(notification_ids))


class _DispatchBatcher:
    """Hands rows to the broker from a background thread of this process: the rows committed
    within one window (NOTIFICATIONS_DISPATCH_WINDOW_MS) go together, as one task per chunk.

    Why: in a web process under load, publishing a task cost more than half a millisecond of
    CPU per sign-up (kombu's producer and connection pools, shared by the process's threads)
    plus a broker round trip, an eighth of the request. A burst now pays one publish per
    window per process, and the worker delivers each chunk over one SMTP session. A row is
    committed before it is handed over, so nothing is lost if the process dies first: the
    sweep re-dispatches rows left pending."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a forked child has no thread of ours
        atexit.register(self.flush)

    def _reset(self) -> None:
        self._condition = threading.Condition()
        self._pending: list[int] = []
        self._thread: threading.Thread | None = None
        self._handing_over = False

    def idle(self) -> bool:
        """Nothing waiting and nothing being handed over (tests wait for this)."""
        with self._condition:
            return not self._pending and not self._handing_over

    def submit(self, notification_ids: Iterable[int]) -> None:
        with self._condition:
            self._pending.extend(notification_ids)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="convene-dispatch", daemon=True)
                self._thread.start()
            self._condition.notify()

    def flush(self) -> None:
        """Hand over at once whatever is waiting (the thread, after each window; and at exit,
        so a clean stop leaves nothing)."""
        with self._condition:
            ids, self._pending, self._handing_over = self._pending, [], True
        try:
            if ids:
                dispatch(ids)
        finally:
            with self._condition:
                self._handing_over = False

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._pending:
                    self._condition.wait()
            time.sleep(settings.NOTIFICATIONS_DISPATCH_WINDOW_MS / 1000)  # the rest of a burst joins
            try:
                self.flush()
            except Exception:  # dispatch logs broker failures itself; this thread must live on
                logger.exception("dispatch failed; the sweep will hand the rows over")


dispatch_batcher = _DispatchBatcher()


def _dispatch_by_window(notification_ids: list[int]) -> None:
    if settings.NOTIFICATIONS_DISPATCH_WINDOW_MS > 0 and not settings.CELERY_TASK_ALWAYS_EAGER:
        dispatch_batcher.submit(notification_ids)
    else:
        dispatch(notification_ids)


_together = threading.local()


@contextmanager
def dispatch_together():
    """Rows enqueued inside the block go to the broker together when the transaction commits:
    one task per chunk (NOTIFICATIONS_CHUNK_SIZE rows, one SMTP session), not one per message.

    For bulk work (a waitlist promoted into new seats, an organiser approving a list): per
    message, a task costs the worker about as much as rendering a confirmation. Dispatching a
    row whose write was rolled back is harmless (no task can claim a row that does not exist),
    and a block inside another adds its rows to the outer one."""
    if getattr(_together, "ids", None) is not None:
        yield
        return
    _together.ids = ids = []
    try:
        yield
    finally:
        _together.ids = None
        if ids:
            transaction.on_commit(lambda: dispatch(ids))


# --- Writing rows ---------------------------------------------------------------------------


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
    notification = Notification(
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
    statement, fields = _enqueue_sql(connection.vendor)
    values = [field.get_db_prep_save(field.pre_save(notification, True), connection) for field in fields]
    with sql.prepared_cursor() as cursor:
        cursor.execute(statement, values)
        row = cursor.fetchone()
    if row is None:  # the unique constraint said: already enqueued
        return None
    notification.pk = row[0]
    notification._state.adding, notification._state.db = False, connection.alias
    notification_dispatch_on_commit(notification.pk)
    return notification


def notification_dispatch_on_commit(notification_id: int) -> None:
    """Dispatch an outbox row just written once its transaction commits (at once outside one):
    with the others of a `dispatch_together` block if inside one, else with the rows this
    process commits within the dispatch window (`_DispatchBatcher`)."""
    together = getattr(_together, "ids", None)
    if together is not None:
        together.append(notification_id)
    else:
        transaction.on_commit(lambda: _dispatch_by_window([notification_id]))


@lru_cache(maxsize=4)
def _enqueue_sql(vendor: str) -> tuple[str, list]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the outbox's uniqueness decides in the one
    statement, without the savepoint a caught IntegrityError needs (sign-ups run this while
    they hold the event lock). PostgreSQL and SQLite (3.35+) both speak it."""
    meta = Notification._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    marks = ", ".join(["%s"] * len(fields))
    statement = (
        f"INSERT INTO {sql.table(meta)} ({sql.columns(fields)}) VALUES ({marks}) "  # noqa: S608
        f"ON CONFLICT DO NOTHING RETURNING {sql.column(meta, 'pk')}"
    )
    return statement, fields


@transaction.atomic
def notification_retry(*, notification: Notification) -> Notification:
    """An organiser's retry of a failed row: a fresh set of attempts, dispatched on commit."""
    updated = Notification.objects.filter(pk=notification.pk, status=Notification.Status.FAILED).update(
        status=Notification.Status.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        claim_token="",
        claimed_at=None,
    )
    if not updated:
        raise NotificationNotRetryable(
            f"Notification {notification.pk} is {notification.status}, not failed."
        )
    transaction.on_commit(lambda: dispatch([notification.pk]))
    notification.refresh_from_db()
    return notification


# --- Delivery -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendError:
    permanent: bool
    reason: str
    # The SMTP session cannot be used for the next message of the chunk.
    connection_lost: bool = False


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def classify_send_error(exc: BaseException) -> SendError:
    """5xx for the message or its recipient: permanent. Everything else a later attempt may
    get through: connection refused or dropped, timeouts, 4xx, a misconfigured login."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in exc.recipients.items())
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return SendError(permanent=permanent, reason=f"recipient refused: {detail}")
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError | smtplib.SMTPServerDisconnected):
        return SendError(permanent=False, reason=f"smtp connection: {_text(exc)}", connection_lost=True)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return SendError(permanent=False, reason=f"smtp login refused: {exc.smtp_code}", connection_lost=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        return SendError(permanent=500 <= code < 600, reason=f"smtp {code}: {_text(exc.smtp_error)}")
    if isinstance(exc, OSError):  # refused, reset, timed out, unreachable
        return SendError(
            permanent=False, reason=f"smtp connection: {type(exc).__name__}: {exc}", connection_lost=True
        )
    if isinstance(exc, smtplib.SMTPException):
        return SendError(permanent=False, reason=f"smtp: {type(exc).__name__}: {exc}", connection_lost=True)
    return SendError(permanent=True, reason=f"{type(exc).__name__}: {exc}")


def retry_delay(attempts: int) -> float:
    """Exponential backoff with jitter: between half and all of base * 2^(attempts-1), capped."""
    base = settings.NOTIFICATIONS_RETRY_BASE_SECONDS
    ceiling = min(settings.NOTIFICATIONS_RETRY_MAX_SECONDS, base * 2 ** max(attempts - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


def message_id_for(notification: Notification) -> str:
    """Stable across retries, so a receiving system can recognise a redelivered duplicate."""
    stamp = int(notification.created_at.timestamp() * 1000)
    return f"<convene.{notification.pk}.{stamp}@{settings.PUBLIC_HOST}>"


# A row due within this much is taken now (its task may arrive a little before its time).
_CLAIM_EARLY = timedelta(seconds=1)


@lru_cache(maxsize=32)
def _update_held_sql(vendor: str, names: tuple[str, ...]) -> str:
    meta = Notification._meta
    assignments = ", ".join(f"{sql.column(meta, name)} = %s" for name in names)
    return (
        f"UPDATE {sql.table(meta)} SET {assignments} "  # noqa: S608
        f"WHERE {sql.column(meta, 'pk')} = %s AND {sql.column(meta, 'status')} = %s "
        f"AND {sql.column(meta, 'claim_token')} = %s"
    )


def _update_held(notification_id: int, held_by: str, /, **values) -> None:
    """Record an outcome on a row this task still holds (`sending`, claimed by `held_by`): a
    row the sweep or another task has taken over since is left alone. One hand-written UPDATE,
    as `QuerySet.update` would write it: it runs once per message, and building it with the
    ORM cost more than the statement."""
    meta = Notification._meta
    params = [meta.get_field(name).get_db_prep_save(value, connection) for name, value in values.items()]
    params += [notification_id, Notification.Status.SENDING, held_by]
    with sql.prepared_cursor() as cursor:
        cursor.execute(_update_held_sql(connection.vendor, tuple(values)), params)


def _mark_sent(notification: Notification, claim_token: str, message_id: str) -> None:
    # The context is only for rendering; nothing of it is kept once the message is out.
    _update_held(
        notification.pk,
        claim_token,
        status=Notification.Status.SENT,
        sent_at=timezone.now(),
        message_id=message_id[:255],
        context={},
        last_error="",
        claim_token="",
    )


def _mark_failed(notification: Notification, claim_token: str, reason: str) -> None:
    logger.warning("notification failed", extra={"notification_id": notification.pk, "reason": reason[:200]})
    _update_held(
        notification.pk,
        claim_token,
        status=Notification.Status.FAILED,
        last_error=reason[:2000],
        claim_token="",
    )


def _mark_skipped(notification: Notification, claim_token: str, reason: str) -> None:
    _update_held(
        notification.pk,
        claim_token,
        status=Notification.Status.SKIPPED,
        last_error=reason[:2000],
        context={},
        claim_token="",
    )


def _schedule_retries(rows: list[tuple[Notification, str]], claim_token: str) -> None:
    """Back to pending with a backoff (or failed, past the attempt limit); one delayed task."""
    if not rows:
        return
    limit = settings.NOTIFICATIONS_MAX_ATTEMPTS
    retry: list[Notification] = []
    for notification, reason in rows:
        if notification.attempts >= limit:
            _mark_failed(
                notification, claim_token, f"gave up after {notification.attempts} attempts: {reason}"
            )
        else:
            retry.append(notification)
    if not retry:
        return
    delay = retry_delay(max(n.attempts for n in retry))
    due = timezone.now() + timedelta(seconds=delay)
    reasons = dict((n.pk, reason) for n, reason in rows)
    for notification in retry:
        _update_held(
            notification.pk,
            claim_token,
            status=Notification.Status.PENDING,
            next_attempt_at=due,
            last_error=reasons[notification.pk][:2000],
            claim_token="",
        )
    logger.info("notifications retry later", extra={"count": len(retry), "delay": round(delay, 1)})
    # If this publish fails the rows are still pending, and the sweep finds them once due.
    _dispatch_chunks([n.pk for n in retry], countdown=delay)


def _release(notification_ids: list[int], claim_token: str) -> None:
    """Give back claims this task could not work on (time limit, database error): no backoff."""
    Notification.objects.filter(
        pk__in=notification_ids, status=Notification.Status.SENDING, claim_token=claim_token
    ).update(status=Notification.Status.PENDING, claim_token="", next_attempt_at=timezone.now())


class _SmtpSessions:
    """The SMTP session of this worker (per process and thread), kept open between tasks.

    A confirmation is one task with one message; opening a session for it (TCP, EHLO, STARTTLS
    and AUTH where configured, QUIT) costs the worker and the mail server more than the message.
    Before a session is reused, a NOOP proves the server still holds it; one idle for longer
    than SMTP_SESSION_IDLE_SECONDS, one that failed, or one inherited across a fork is replaced.
    Backends that are not SMTP (the console or locmem backends) are made fresh for every task.
    """

    def __init__(self):
        self._local = threading.local()

    def acquire(self):
        local = self._local
        backend = getattr(local, "backend", None)
        if backend is not None:
            fresh = time.monotonic() - local.released_at < settings.SMTP_SESSION_IDLE_SECONDS
            same = local.pid == os.getpid() and local.server == self._server()
            if same and fresh and self._alive(backend):
                return backend
            self.discard()
        return get_connection()

    def release(self, backend, *, healthy: bool) -> None:
        """After a task: keep a healthy SMTP session open for the next one, close the rest."""
        if healthy and getattr(backend, "connection", None) is not None:
            local = self._local
            local.backend, local.pid, local.released_at = backend, os.getpid(), time.monotonic()
            local.server = self._server()
            return
        if getattr(self._local, "backend", None) is backend:
            self._local.backend = None
        _close_quietly(backend)

    def discard(self) -> None:
        backend, self._local.backend = getattr(self._local, "backend", None), None
        if backend is not None and self._local.pid == os.getpid():
            _close_quietly(backend)  # (a forked child leaves its parent's socket alone)

    @staticmethod
    def _server() -> tuple:
        """The mail settings a session was opened with (tests and reloads may change them)."""
        return (
            settings.EMAIL_BACKEND,
            settings.EMAIL_HOST,
            settings.EMAIL_PORT,
            settings.EMAIL_HOST_USER,
            settings.EMAIL_USE_TLS,
            settings.EMAIL_USE_SSL,
        )

    @staticmethod
    def _alive(backend) -> bool:
        try:
            return backend.connection.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            return False


def _close_quietly(backend) -> None:
    try:
        backend.close()
    except Exception:  # noqa: S110  (closing a dead SMTP session may fail; nothing to do)
        pass


smtp_sessions = _SmtpSessions()


@lru_cache(maxsize=64)
def _claim_sql(vendor: str, count: int):
    meta = Notification._meta

    def col(name: str) -> str:
        return sql.column(meta, name)

    marks = ", ".join(["%s"] * count)
    statement = (
        f"UPDATE {sql.table(meta)} SET {col('status')} = %s, {col('claimed_at')} = %s, "  # noqa: S608
        f"{col('claim_token')} = %s, {col('attempts')} = {col('attempts')} + 1 "
        f"WHERE {col('pk')} IN ({marks}) AND (({col('status')} = %s AND "
        f"{col('next_attempt_at')} <= %s) OR ({col('status')} = %s AND {col('claim_token')} = %s)) "
        f"RETURNING {sql.columns(meta.concrete_fields)}"
    )
    return statement, sql.loader(Notification, meta.concrete_fields)


def _claim(ids: list[int], claim_token: str, now) -> list[Notification]:
    """Claim the rows among `ids` for `claim_token`, and read them, in one statement.

    Claimable: `pending` and due (within _CLAIM_EARLY), or already `sending` under this same
    claim token (the redelivery of the task that claimed it). A conditional `UPDATE … RETURNING`
    (PostgreSQL, SQLite 3.35+), so two tasks can never both take a row, and no second query reads
    back what was claimed: with one message per task, that read was a fifth of its queries.
    """
    if not ids:
        return []
    # One statement per chunk length: a chunk's ids fill its placeholders.
    statement, load = _claim_sql(connection.vendor, len(ids))
    adapt = connection.ops.adapt_datetimefield_value
    params = [
        Notification.Status.SENDING,
        adapt(now),
        claim_token,
        *ids,
        Notification.Status.PENDING,
        adapt(now + _CLAIM_EARLY),
        Notification.Status.SENDING,
        claim_token,
    ]
    with sql.prepared_cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    return sorted((load(row) for row in rows), key=lambda row: row.pk)


def _renew_claims(ids: list[int], claim_token: str) -> set[int]:
    """Refresh the claim on the rows among `ids` this task still holds; return their ids.

    A chunk on a slow mail server can outlive NOTIFICATIONS_CLAIM_STALE_SECONDS. Without this,
    the sweep would take its claim for a dead worker's, re-open the rest of the chunk and hand
    it to another task while this one still sends it. A row re-opened before its renewal is
    left to its new owner (not in the result)."""
    if not ids:
        return set()
    meta = Notification._meta
    names = ("pk", "status", "claim_token", "claimed_at")
    pk, status, token, claimed_at = (sql.column(meta, name) for name in names)
    marks = ", ".join(["%s"] * len(ids))
    statement = (
        f"UPDATE {sql.table(meta)} SET {claimed_at} = %s "  # noqa: S608
        f"WHERE {pk} IN ({marks}) AND {status} = %s AND {token} = %s RETURNING {pk}"
    )
    params = [connection.ops.adapt_datetimefield_value(timezone.now()), *ids]
    params += [Notification.Status.SENDING, claim_token]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return {row[0] for row in cursor.fetchall()}


def deliver_notifications(*, notification_ids: Sequence[int], claim_token: str = "") -> dict[str, int]:
    """Claim, render and send the given rows over one SMTP connection; record each outcome.

    A row is sent at most once: only the task holding its claim sends it, and the claim is
    taken with a conditional update. The one exception is the message in flight when a worker
    is killed between the SMTP server taking it and the UPDATE that records it.

    While the server takes one message, the next is rendered: its verdict is read (and
    recorded) before the next message goes out, so that exception stays one message."""
    from notifications.messages import MessageObsolete, build_message
    from notifications.selectors import MessageSubjects

    claim_token = claim_token or uuid.uuid4().hex
    now = timezone.now()
    ids = list(dict.fromkeys(int(i) for i in notification_ids))
    rows = _claim(ids, claim_token, now)
    counts = {"claimed": len(rows), "sent": 0, "failed": 0, "skipped": 0, "retry": 0}
    if not rows:
        return counts
    subjects = MessageSubjects()
    try:
        subjects.preload(rows)
    except (OperationalError, InterfaceError):
        pass  # each message then reads its own, and a database still down retries it
    smtp = smtp_sessions.acquire()
    retries: list[tuple[Notification, str]] = []
    done: set[int] = set()
    healthy = False
    # Renewed well inside the stale period, so the sweep never re-opens a claim still in use.
    renew_every = settings.NOTIFICATIONS_CLAIM_STALE_SECONDS / 10
    renewed_at = time.monotonic()
    # (row, Message-ID, what reads the server's verdict): handed over, not yet recorded.
    in_flight: tuple[Notification, str, Callable[[], int]] | None = None

    def settle(notification: Notification, message_id: str, verdict: Callable[[], int]) -> SendError | None:
        """Read a handed-over message's verdict and record it; the error if the session is lost."""
        try:
            sent = verdict()
        except SoftTimeLimitExceeded:
            raise
        except Exception as exc:
            return record_error(notification, exc)
        done.add(notification.pk)
        if not sent:
            _mark_failed(notification, claim_token, "no recipients")
            counts["failed"] += 1
        else:
            _mark_sent(notification, claim_token, message_id)
            counts["sent"] += 1
        return None

    def record_error(notification: Notification, exc: Exception) -> SendError | None:
        error = classify_send_error(exc)
        done.add(notification.pk)
        if error.permanent:
            _mark_failed(notification, claim_token, error.reason)
            counts["failed"] += 1
            return None
        retries.append((notification, error.reason))
        return error if error.connection_lost else None

    def retry_rest(start: int, error: SendError) -> None:
        # The rest of the chunk would meet the same dead server: retry them together.
        for rest in rows[start:]:
            if rest.pk not in done:
                retries.append((rest, error.reason))
                done.add(rest.pk)

    try:
        for index, notification in enumerate(rows):
            if time.monotonic() - renewed_at >= renew_every:
                rest = [n.pk for n in rows[index:] if n.pk not in done]
                held = _renew_claims(rest, claim_token)
                renewed_at = time.monotonic()
                lost = set(rest) - held
                if lost:
                    logger.warning("claims taken over", extra={"count": len(lost)})
                    done.update(lost)  # another task owns them now: neither send nor release
            if notification.pk in done:
                continue
            try:
                message = build_message(notification, connection=smtp, subjects=subjects)
            except SoftTimeLimitExceeded:
                raise  # out of time: the rest of the chunk is released below, not failed
            except MessageObsolete as exc:
                _mark_skipped(notification, claim_token, str(exc))
                counts["skipped"] += 1
                done.add(notification.pk)
                continue
            except (OperationalError, InterfaceError) as exc:
                retries.append((notification, f"render: database unavailable: {type(exc).__name__}"))
                done.add(notification.pk)
                continue
            except OSError as exc:
                # I/O while rendering (a font or key file, a full disk) may well work next time;
                # a bug in a template or builder (any other exception) would not.
                logger.warning("render I/O error", extra={"notification_id": notification.pk})
                retries.append((notification, f"render: {type(exc).__name__}: {exc}"))
                done.add(notification.pk)
                continue
            except ObjectDoesNotExist as exc:
                _mark_failed(notification, claim_token, f"render: subject no longer exists: {exc}")
                counts["failed"] += 1
                done.add(notification.pk)
                continue
            except Exception as exc:
                logger.exception("render failed", extra={"notification_id": notification.pk})
                _mark_failed(notification, claim_token, f"render: {type(exc).__name__}: {exc}")
                counts["failed"] += 1
                done.add(notification.pk)
                continue
            message_id = next(
                (v for k, v in message.extra_headers.items() if k.lower() == "message-id"), None
            )
            if not message_id:
                message_id = message_id_for(notification)
                message.extra_headers["Message-ID"] = message_id
            if in_flight is not None:
                lost_session = settle(*in_flight)
                in_flight = None
                if lost_session is not None:
                    retry_rest(index, lost_session)
                    break
            try:
                in_flight = (notification, message_id, hand_over(smtp, message))
            except SoftTimeLimitExceeded:
                raise
            except Exception as exc:
                lost_session = record_error(notification, exc)
                if lost_session is not None:
                    retry_rest(index + 1, lost_session)
                    break
        if in_flight is not None:
            settle(*in_flight)
            in_flight = None
        healthy = not retries and counts["failed"] == 0
    finally:
        if in_flight is not None and in_flight[0].pk not in done:
            # Interrupted (out of time) while the server held a message: learn whether it took
            # it, so that a message it took is recorded as sent and not sent again.
            try:
                settle(*in_flight)
            except Exception:
                logger.exception(
                    "recording the last message failed", extra={"notification_id": in_flight[0].pk}
                )
        # Kept for the next task only after a clean run: any refusal or error closes it.
        smtp_sessions.release(smtp, healthy=healthy)
        leftover = [n.pk for n in rows if n.pk not in done]
        if leftover:
            _release(leftover, claim_token)
        counts["retry"] = len(retries)
        _schedule_retries(retries, claim_token)
    return counts


# --- Agenda publish fan-out ---------------------------------------------------------------


def agenda_published(*, version) -> None:
    """Called by `sessions.services.agenda_publish` inside its transaction: record that this
    version must be announced (durable: the sweep picks it up if the broker is down), and start
    the fan-out in a worker after commit. The fan-out writes the rows and delivers them in chunks."""
    AgendaFanout.objects.get_or_create(agenda_version=version, defaults={"event_id": version.event_id})
    transaction.on_commit(lambda: _publish(FANOUT_TASK, [version.id], queue="default"))


_SESSION_CHANGES = ("added", "moved", "retitled", "room_changed", "speakers_changed")


def _fanout_rows(version) -> list[Notification]:
    from registrations.models import Registration
    from sessions.models import AgendaVersion, Speaker

    diff = version.diff or {}
    if not any(bool(value) for value in diff.values()):
        return []  # nothing an attendee or speaker would see changed
    base_context = {"agenda_version_id": version.id, "agenda_version": version.number}
    rows = [
        Notification(
            event_id=version.event_id,
            kind=Notification.Kind.AGENDA_UPDATE,
            recipient_email=reg["email"],
            recipient_name=reg["full_name"],
            language=reg["language"],
            subject_type="registration",
            subject_id=reg["id"],
            version=str(version.number),
            context=dict(base_context),
        )
        # Waitlisted people hold no invite, but the renderer tells them what changed too.
        for reg in Registration.objects.filter(
            event_id=version.event_id,
            status__in=[Registration.Status.CONFIRMED, Registration.Status.WAITLISTED],
        )
        .order_by("id")
        .values("id", "email", "full_name", "language")
    ]

    previous = (
        AgendaVersion.objects.filter(event_id=version.event_id, number__lt=version.number)
        .order_by("-number")
        .first()
    )
    current = {entry["uid"]: entry for entry in version.sessions}
    before = {entry["uid"]: entry for entry in previous.sessions} if previous else {}
    changes: dict[str, set[str]] = {}
    for key in _SESSION_CHANGES:
        for uid in diff.get(key) or []:
            if uid in current:
                changes.setdefault(uid, set()).add(key)
    # (speaker id, session snapshot entry, method, SEQUENCE, what changed)
    invites: list[tuple[int, dict, str, int, list[str]]] = []
    for uid, what in changes.items():
        entry = current[uid]
        for speaker in entry.get("speakers", []):
            invites.append((speaker["id"], entry, "REQUEST", entry["sequence"], sorted(what)))
        if "speakers_changed" in what and uid in before:
            kept = {speaker["id"] for speaker in entry.get("speakers", [])}
            for speaker in before[uid].get("speakers", []):
                if speaker["id"] not in kept:
                    invites.append((speaker["id"], entry, "CANCEL", entry["sequence"], ["speaker_removed"]))
    for uid in diff.get("removed") or []:
        old = before.get(uid)
        if old is None:
            continue
        for speaker in old.get("speakers", []):
            invites.append((speaker["id"], old, "CANCEL", old.get("sequence", 0) + 1, ["removed"]))

    speakers = Speaker.objects.in_bulk({speaker_id for speaker_id, *_ in invites})
    for speaker_id, entry, method, sequence, what in invites:
        speaker = speakers.get(speaker_id)
        if speaker is None or not speaker.email:
            continue
        rows.append(
            Notification(
                event_id=version.event_id,
                kind=Notification.Kind.SPEAKER_INVITE,
                recipient_email=speaker.email,
                recipient_name=speaker.name,
                language=speaker.language or "en",
                subject_type="session",
                subject_id=entry["id"],
                version=str(sequence),
                context={
                    **base_context,
                    "session_uid": entry["uid"],
                    "speaker_id": speaker.id,
                    "method": method,
                    "changes": what,
                },
            )
        )
    return rows


def agenda_fanout_run(*, agenda_version_id: int, claim_token: str = "") -> list[int]:
    """Write the outbox rows of one publish (attendees' agenda updates, speakers' invites) and
    dispatch them in chunks after commit. Idempotent: claimed like a notification, and the
    rows' unique constraint makes a second run write nothing. Returns the ids dispatched."""
    claim_token = claim_token or uuid.uuid4().hex
    now = timezone.now()
    stale = now - timedelta(seconds=settings.NOTIFICATIONS_CLAIM_STALE_SECONDS)
    claimed = (
        AgendaFanout.objects.filter(agenda_version_id=agenda_version_id)
        .filter(
            Q(status=AgendaFanout.Status.PENDING)
            | Q(status=AgendaFanout.Status.RUNNING, claim_token=claim_token)
            | Q(status=AgendaFanout.Status.RUNNING, claimed_at__lt=stale)
        )
        .update(
            status=AgendaFanout.Status.RUNNING,
            claimed_at=now,
            claim_token=claim_token,
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return []
    from sessions.models import AgendaVersion

    with transaction.atomic():
        version = AgendaVersion.objects.get(pk=agenda_version_id)
        rows = _fanout_rows(version)
        Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        ids = list(
            Notification.objects.filter(
                event_id=version.event_id,
                status=Notification.Status.PENDING,
                kind__in=[Notification.Kind.AGENDA_UPDATE, Notification.Kind.SPEAKER_INVITE],
                context__agenda_version_id=version.id,
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        AgendaFanout.objects.filter(agenda_version_id=agenda_version_id, claim_token=claim_token).update(
            status=AgendaFanout.Status.DONE,
            completed_at=timezone.now(),
            attendee_count=sum(1 for row in rows if row.kind == Notification.Kind.AGENDA_UPDATE),
            speaker_count=sum(1 for row in rows if row.kind == Notification.Kind.SPEAKER_INVITE),
            claim_token="",
        )
        transaction.on_commit(lambda: dispatch(ids))
    logger.info("agenda fan-out written", extra={"agenda_version_id": agenda_version_id, "count": len(ids)})
    return ids


# --- Periodic work (beat) -------------------------------------------------------------------


def outbox_sweep() -> dict[str, int]:
    """Find what the broker or a dead worker lost and dispatch it again.

    - `sending` rows whose claim was not renewed for NOTIFICATIONS_CLAIM_STALE_SECONDS (a
      running task renews its claims every tenth of that): their worker died; re-open.
    - `pending` rows due longer ago than the grace period: their task never arrived.
    - fan-outs never started (broker down at publish) or whose worker died.
    Dispatching a row twice is harmless: only one task can claim it."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.NOTIFICATIONS_CLAIM_STALE_SECONDS)
    overdue = now - timedelta(seconds=settings.NOTIFICATIONS_PENDING_GRACE_SECONDS)

    stale_ids = list(
        Notification.objects.filter(status=Notification.Status.SENDING, claimed_at__lt=stale)
        .order_by("claimed_at")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    reopened = 0
    if stale_ids:
        reopened = Notification.objects.filter(
            pk__in=stale_ids, status=Notification.Status.SENDING, claimed_at__lt=stale
        ).update(status=Notification.Status.PENDING, claim_token="", next_attempt_at=now)
    pending_ids = list(
        Notification.objects.filter(status=Notification.Status.PENDING, next_attempt_at__lt=overdue)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    ids = list(dict.fromkeys([*stale_ids, *pending_ids]))
    handed = _dispatch_chunks(ids) if ids else []
    if handed:
        # Give the tasks a full grace period before the next sweep counts them as lost again.
        Notification.objects.filter(pk__in=handed, status=Notification.Status.PENDING).update(
            next_attempt_at=now
        )

    fanouts = list(
        AgendaFanout.objects.filter(
            Q(status=AgendaFanout.Status.PENDING, created_at__lt=overdue)
            | Q(status=AgendaFanout.Status.RUNNING, claimed_at__lt=stale)
        ).values_list("agenda_version_id", flat=True)[:100]
    )
    fanouts_dispatched = sum(1 for vid in fanouts if _publish(FANOUT_TASK, [vid], queue="default"))
    report = {
        "reopened": reopened,
        "pending": len(pending_ids),
        "dispatched": len(handed),
        "fanouts": fanouts_dispatched,
    }
    if ids or fanouts:
        logger.info("outbox sweep", extra=report)
    return report


def reminders_enqueue(*, now=None) -> int:
    """One `reminder` row per confirmed registration of each event starting within the lead
    time (24 h). The unique constraint makes it exactly once, whatever the beat interval, and
    an event whose window the beat missed still gets its reminders until it starts."""
    from registrations.models import Registration
    from sessions.models import Event

    now = now or timezone.now()
    horizon = now + timedelta(hours=settings.NOTIFICATIONS_REMINDER_HOURS_BEFORE)
    created = 0
    for event in Event.objects.filter(starts_at__gt=now, starts_at__lte=horizon).only("id"):
        already = Notification.objects.filter(
            event_id=event.id, kind=Notification.Kind.REMINDER, subject_type="registration"
        ).values("subject_id")
        registrations = list(
            Registration.objects.filter(event_id=event.id, status=Registration.Status.CONFIRMED)
            .exclude(pk__in=already)
            .values("id", "email", "full_name", "language")[:SWEEP_LIMIT]
        )
        if not registrations:
            continue
        with transaction.atomic():
            Notification.objects.bulk_create(
                [
                    Notification(
                        event_id=event.id,
                        kind=Notification.Kind.REMINDER,
                        recipient_email=reg["email"],
                        recipient_name=reg["full_name"],
                        language=reg["language"],
                        subject_type="registration",
                        subject_id=reg["id"],
                        version="1",
                    )
                    for reg in registrations
                ],
                ignore_conflicts=True,
                batch_size=1000,
            )
            ids = list(
                Notification.objects.filter(
                    event_id=event.id,
                    kind=Notification.Kind.REMINDER,
                    status=Notification.Status.PENDING,
                    subject_id__in=[reg["id"] for reg in registrations],
                ).values_list("pk", flat=True)
            )
            transaction.on_commit(lambda ids=ids: dispatch(ids))
        created += len(ids)
    return created
