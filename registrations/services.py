"""Writes to registrations: sign-up, seats and waitlist, approval, self-service, cancellation.

Seats (pretix's locking rules): a transaction that may give out or free a seat locks the
event row once, as late as possible but before counting (`SELECT … FOR NO KEY UPDATE`: it
serialises seat decisions without blocking the foreign-key checks of unrelated inserts such
as check-ins), then counts the seats held, decides, writes, and writes the outbox rows for
what changed, all in that one transaction. A seat freed by a cancellation, a rejection, an
attendance switch or a capacity increase goes to the waitlist in the same transaction. On
PostgreSQL a sign-up sends that whole transaction in one round trip (see
`_registration_insert_pipelined`): a sign-up rush queues on the event lock, and no Python runs
while a sign-up holds it.

Seats are held by `confirmed` and `pending_approval` registrations (an approval event keeps
the seat while the organiser decides, so approving never oversells and rejecting frees it).
One waitlist per event, positions 1..N in sign-up order, renumbered when someone leaves it.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone as dj_timezone

from config import sql
from config.problems import ApplicationError, Conflict
from notifications.models import Notification
from notifications.services import dispatch_together, notification_dispatch_on_commit, notification_enqueue
from registrations import manage_tokens
from registrations.models import SEAT_HOLDING_STATUSES, Registration, SeatCount
from registrations.validators import check_timezone, normalise_country, normalise_email
from sessions.models import Event

Status = Registration.Status
Attendance = Registration.Attendance

SEAT_HOLDING = SEAT_HOLDING_STATUSES
# Kinds whose message carries the calendar invite: their outbox version is the invite SEQUENCE.
INVITE_KINDS = {
    Notification.Kind.CONFIRMATION,
    Notification.Kind.PROMOTED,
    Notification.Kind.APPROVED,
    Notification.Kind.CANCELLED,
}
ALREADY_REGISTERED_WINDOW = timedelta(minutes=10)
# Waitlist renumbering moves rows out of the way first (the partial unique index on
# (event, waitlist_position) is checked row by row and cannot be deferred).
_RENUMBER_OFFSET = 1_000_000_000


class RegistrationClosed(Conflict):
    code = "registration_closed"
    title = "Registration is closed"


class AlreadyRegistered(Conflict):
    code = "already_registered"
    title = "Already registered"


class RegistrationInactive(Conflict):
    """A cancelled or rejected registration cannot be changed or revived."""

    code = "registration_inactive"
    title = "This registration is no longer active"


class AlreadyCancelled(Conflict):
    code = "already_cancelled"
    title = "Already cancelled"


class InvalidStatusTransition(Conflict):
    code = "invalid_status_transition"
    title = "Not possible in this registration's status"


class EventFull(Conflict):
    code = "event_full"
    title = "No places left"


class InvalidCapacity(ApplicationError):
    code = "invalid_capacity"
    title = "Invalid capacity"


class ConsentRequired(ApplicationError):
    code = "consent_required"
    title = "Consent is required"


class OnlineNotOffered(ApplicationError):
    code = "online_not_offered"
    title = "This event has no online attendance"


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = _Unchanged()


# --- seats and waitlist (call only with the event row locked) -------------------------------


@dataclass(frozen=True)
class SeatUsage:
    in_person: int
    online: int
    waitlisted: int
    last_position: int


# The two statements every seat decision runs while it holds the event lock are written in SQL
# here: building them with the ORM costs more CPU than running them, and that CPU is spent
# inside the lock, where a sign-up rush waits in line. Names come from the models' metadata;
# every value from a request is a parameter.


@lru_cache(maxsize=4)
def _seat_usage_sql(vendor: str) -> str:
    counts, meta = SeatCount._meta, Registration._meta
    # A literal, not a parameter: the partial unique index on (event, waitlist_position) of
    # waitlisted rows then answers MAX() from its last entry, also in a prepared statement.
    waitlisted = Status.WAITLISTED.value
    assert waitlisted.isidentifier()
    return (
        f"SELECT s.{sql.column(counts, 'attendance')}, s.{sql.column(counts, 'status')}, "  # noqa: S608
        f"s.{sql.column(counts, 'total')}, (SELECT MAX(r.{sql.column(meta, 'waitlist_position')}) "
        f"FROM {sql.table(meta)} r WHERE r.{sql.column(meta, 'event')} = %s "
        f"AND r.{sql.column(meta, 'status')} = '{waitlisted}') "
        f"FROM {sql.table(counts)} s WHERE s.{sql.column(counts, 'event')} = %s"
    )


def seat_usage(event_id: int) -> SeatUsage:
    """Seats held per attendance mode and the waitlist's length: a few rows of the counts the
    database keeps (SeatCount), whatever the number of registrations."""
    with sql.prepared_cursor() as cursor:
        cursor.execute(_seat_usage_sql(connection.vendor), [event_id, event_id])
        rows = cursor.fetchall()
    held = {(attendance, status): total for attendance, status, total, _last in rows}
    return SeatUsage(
        in_person=sum(held.get((Attendance.IN_PERSON, s), 0) for s in SEAT_HOLDING),
        online=sum(held.get((Attendance.ONLINE, s), 0) for s in SEAT_HOLDING),
        waitlisted=sum(total for (_attendance, status), total in held.items() if status == Status.WAITLISTED),
        last_position=(rows[0][3] or 0) if rows else 0,
    )


def _free_seats(event: Event, usage: SeatUsage, attendance: str) -> int | None:
    """Free seats in that mode; None means unlimited (online without a limit)."""
    if attendance == Attendance.IN_PERSON:
        return max(event.capacity - usage.in_person, 0)
    if event.online_capacity is None:
        return None
    return max(event.online_capacity - usage.online, 0)


@lru_cache(maxsize=4)
def _lock_event_sql(vendor: str):
    meta = Event._meta
    statement = (
        f"SELECT {sql.columns(meta.concrete_fields)} FROM {sql.table(meta)} "  # noqa: S608
        f"WHERE {sql.column(meta, 'pk')} = %s"
    )
    if connection.features.has_select_for_no_key_update:
        statement += " FOR NO KEY UPDATE"
    elif connection.features.has_select_for_update:
        statement += " FOR UPDATE"
    # (SQLite has neither: its write transactions are serialised as a whole, see settings.)
    return statement, sql.loader(Event, meta.concrete_fields)


def _lock_event(event_id: int) -> Event:
    """The event row, locked until the transaction ends (what serialises seat decisions)."""
    statement, load = _lock_event_sql(connection.vendor)
    with sql.prepared_cursor() as cursor:
        cursor.execute(statement, [event_id])
        row = cursor.fetchone()
    if row is None:
        raise Event.DoesNotExist(f"Event {event_id} does not exist.")
    return load(row)  # with the ORM's converters: aware datetimes on SQLite too


def _seated_status(event: Event) -> str:
    return Status.PENDING_APPROVAL if event.approval_required else Status.CONFIRMED


def _notify(registration: Registration, kind: str, **context) -> None:
    version = registration.invite_sequence if kind in INVITE_KINDS else 1
    notification_enqueue(
        event_id=registration.event_id,
        kind=kind,
        recipient_email=registration.email,
        recipient_name=registration.full_name,
        language=registration.language,
        subject_type="registration",
        subject_id=registration.id,
        version=version,
        context={"status": registration.status, **context},
    )


def _compact_waitlist(event_id: int) -> None:
    """Renumber the waitlist 1..N in its current order (two UPDATEs, whatever moved)."""
    rows = list(
        Registration.objects.filter(event_id=event_id, status=Status.WAITLISTED)
        .order_by("waitlist_position", "id")
        .values_list("id", "waitlist_position")
    )
    moves = [(pk, rank) for rank, (pk, position) in enumerate(rows, start=1) if position != rank]
    if not moves:
        return
    moved_ids = [pk for pk, _ in moves]
    Registration.objects.filter(id__in=moved_ids).update(
        waitlist_position=F("waitlist_position") + _RENUMBER_OFFSET
    )
    Registration.objects.bulk_update(
        [Registration(id=pk, waitlist_position=rank) for pk, rank in moves],
        ["waitlist_position"],
        batch_size=500,
    )


def _promote(event: Event, *, now: datetime) -> list[Registration]:
    """Give free seats to the waitlist, first come first served per attendance mode."""
    usage = seat_usage(event.id)
    if usage.waitlisted == 0:
        return []
    promoted: list[Registration] = []
    for attendance in (Attendance.IN_PERSON, Attendance.ONLINE):
        free = _free_seats(event, usage, attendance)
        if free == 0:
            continue
        waiting = Registration.objects.filter(
            event_id=event.id, status=Status.WAITLISTED, attendance=attendance
        ).order_by("waitlist_position", "id")
        promoted.extend(waiting if free is None else waiting[:free])
    if not promoted:
        return []
    new_status = _seated_status(event)
    Registration.objects.filter(id__in=[r.id for r in promoted]).update(
        status=new_status, waitlist_position=None, updated_at=now
    )
    promoted.sort(key=lambda r: r.waitlist_position)
    kind = Notification.Kind.PENDING_APPROVAL if event.approval_required else Notification.Kind.PROMOTED
    with dispatch_together():  # a capacity increase may promote hundreds at once
        for registration in promoted:
            position = registration.waitlist_position
            registration.status = new_status
            registration.waitlist_position = None
            _notify(registration, kind, promoted_from_position=position)
    _compact_waitlist(event.id)
    return promoted


# --- sign-up ---------------------------------------------------------------------------------


def registration_window_open(event: Event, now: datetime) -> bool:
    if event.ends_at <= now:
        return False
    if event.registration_opens_at and now < event.registration_opens_at:
        return False
    return not (event.registration_closes_at and now >= event.registration_closes_at)


def registration_create(
    *,
    event: Event,
    full_name: str,
    email: str,
    country: str,
    category: str,
    attendance: str,
    consent: bool,
    organisation: str = "",
    timezone: str | None = None,
    language: str = "en",
    accessibility_needs: str = "",
) -> Registration:
    """Sign someone up: a seat, a waitlist place, or a place in the approval queue.

    The same address twice on one event → AlreadyRegistered (decided by the database's unique
    constraint, so two concurrent sign-ups cannot both win), and the existing registration's
    manage link is mailed again, at most once per address per 10 minutes."""
    if consent is not True:
        raise ConsentRequired("Registration needs the attendee's consent.")
    if attendance == Attendance.ONLINE and not event.online_enabled:
        raise OnlineNotOffered(errors={"attendance": ["This event has no online attendance."]})
    now = dj_timezone.now()
    if not registration_window_open(event, now):
        raise RegistrationClosed("Registration for this event is not open.")
    address = normalise_email(email)
    salt = manage_tokens.new_salt()
    registration = Registration(
        event_id=event.id,
        full_name=full_name,
        email=address.email,
        email_normalized=address.normalized,
        organisation=organisation,
        country=normalise_country(country),
        category=category,
        attendance=attendance,
        timezone=check_timezone(timezone or event.timezone),
        language=language,
        accessibility_needs=accessibility_needs,
        consent_at=now,
        manage_token_salt=salt,
        manage_token_hash=manage_tokens.token_hash(manage_tokens.token_for_salt(salt)),
    )
    try:
        _registration_insert(registration)
    except IntegrityError:
        existing = Registration.objects.filter(event_id=event.id, email_normalized=address.normalized).first()
        if existing is None:
            raise
        _already_registered(existing, now=now)
        raise AlreadyRegistered(
            "This e-mail address is already registered for this event; "
            "its manage link has been sent to it again."
        )
    return registration


# The message a new registration gets, by the status its sign-up gave it.
_SIGNUP_KINDS = {
    Status.CONFIRMED: Notification.Kind.CONFIRMATION,
    Status.PENDING_APPROVAL: Notification.Kind.PENDING_APPROVAL,
    Status.WAITLISTED: Notification.Kind.WAITLISTED,
}


def _registration_insert(registration: Registration) -> None:
    if connection.vendor == "postgresql":
        _registration_insert_pipelined(registration)
    else:
        _registration_insert_locked(registration)


@transaction.atomic
def _registration_insert_locked(registration: Registration) -> None:
    event = _lock_event(registration.event_id)
    usage = seat_usage(event.id)
    free = _free_seats(event, usage, registration.attendance)
    if free is None or free > 0:
        registration.status = _seated_status(event)
    else:
        registration.status = Status.WAITLISTED
        registration.waitlist_position = usage.last_position + 1
    registration.save(force_insert=True)
    _notify(
        registration, _SIGNUP_KINDS[registration.status], waitlist_position=registration.waitlist_position
    )


# --- sign-up on PostgreSQL: the whole transaction in one round trip ---------------------------
#
# A sign-up rush waits in line for the event lock, so what counts is how long each sign-up holds
# it. Above, the lock is held across five round trips, and between them the web process has to
# get a core back and its thread the GIL (the lock's holder was measured idle in transaction 2
# samples in 3, waiting for its own process). Here the lock, the seat decision, the registration
# and its outbox row go to the server together (psycopg's pipeline) and are answered together:
# from the grant of the lock to the commit, no Python runs.
#
# - Outside a transaction (a web request), the two statements form the implicit transaction
#   that the pipeline's one Sync commits (or rolls back as a whole, on a duplicate address).
#   Inside one (a test, a caller's block), a savepoint holds them.
# - The seat decision is `_free_seats` and `_seated_status` written in SQL. It is a statement
#   of its own after the lock: in READ COMMITTED a statement sees what was committed before it
#   started, so the counts are read after the lock was granted (one statement taking the lock
#   and counting would count from before its wait, and oversell).
# - The outbox row is `_notify`'s, with its kind, version and context taken from the row just
#   written; `tests/registrations/test_signup_pipelined.py` compares both paths' rows.


@lru_cache(maxsize=8)
def _signup_sql(vendor: str, attendance: str) -> tuple[str, str, list, list]:
    """(lock statement, insert statement, registration fields, outbox fields) for a sign-up in
    that attendance mode. The insert's parameters: the event id, then one per registration
    field, then one per outbox field (those taken from the new row have none)."""
    reg, note, counts, event = Registration._meta, Notification._meta, SeatCount._meta, Event._meta
    lock, _load = _lock_event_sql(vendor)  # its row is not read: the insert reads the event
    if attendance == Attendance.IN_PERSON:
        free = f"e.{sql.column(event, 'capacity')} > held.in_person"
    else:
        limit = f"e.{sql.column(event, 'online_capacity')}"
        free = f"({limit} IS NULL OR {limit} > held.online)"
    holding = ", ".join(sql.literal(status) for status in SEAT_HOLDING)
    waitlisted = sql.literal(Status.WAITLISTED)

    def held(mode: str) -> str:
        return (
            f"COALESCE(SUM(s.{sql.column(counts, 'total')}) "
            f"FILTER (WHERE s.{sql.column(counts, 'attendance')} = {sql.literal(mode)}), 0)"
        )

    decision = (
        f"SELECT CASE WHEN {free} THEN CASE WHEN e.{sql.column(event, 'approval_required')} "  # noqa: S608
        f"THEN {sql.literal(Status.PENDING_APPROVAL)} ELSE {sql.literal(Status.CONFIRMED)} END "
        f"ELSE {waitlisted} END AS status, "
        f"CASE WHEN {free} THEN NULL ELSE 1 + COALESCE((SELECT MAX(w.{sql.column(reg, 'waitlist_position')}) "
        f"FROM {sql.table(reg)} w WHERE w.{sql.column(reg, 'event')} = e.{sql.column(event, 'pk')} "
        f"AND w.{sql.column(reg, 'status')} = {waitlisted}), 0) END AS waitlist_position "
        f"FROM {sql.table(event)} e CROSS JOIN LATERAL (SELECT {held(Attendance.IN_PERSON)} AS in_person, "
        f"{held(Attendance.ONLINE)} AS online FROM {sql.table(counts)} s "
        f"WHERE s.{sql.column(counts, 'event')} = e.{sql.column(event, 'pk')} "
        f"AND s.{sql.column(counts, 'status')} IN ({holding})) held "
        f"WHERE e.{sql.column(event, 'pk')} = %s"
    )
    decided = {"status": "d.status", "waitlist_position": "d.waitlist_position"}
    reg_fields = [f for f in reg.concrete_fields if not f.primary_key and f.name not in decided]
    reg_values = [decided.get(f.name, "%s") for f in reg.concrete_fields if not f.primary_key]
    reg_columns = [f for f in reg.concrete_fields if not f.primary_key]

    status = f"r.{sql.column(reg, 'status')}"
    kind = " ".join(f"WHEN {sql.literal(s)} THEN {sql.literal(k)}" for s, k in _SIGNUP_KINDS.items())
    version = " ".join(
        f"WHEN {sql.literal(s)} THEN "
        + (f"r.{sql.column(reg, 'invite_sequence')}::text" if k in INVITE_KINDS else "'1'")
        for s, k in _SIGNUP_KINDS.items()
    )
    from_row = {
        "subject_id": f"r.{sql.column(reg, 'pk')}",
        "kind": f"CASE {status} {kind} END",
        "version": f"CASE {status} {version} END",
        "context": f"jsonb_build_object('status', {status}, "
        f"'waitlist_position', r.{sql.column(reg, 'waitlist_position')})",
    }
    note_columns = [f for f in note.concrete_fields if not f.primary_key]
    note_fields = [f for f in note_columns if f.name not in from_row]
    note_values = [from_row.get(f.name, "%s") for f in note_columns]
    insert = (
        f"WITH d AS ({decision}), "  # noqa: S608
        f"r AS (INSERT INTO {sql.table(reg)} ({sql.columns(reg_columns)}) "
        f"SELECT {', '.join(reg_values)} FROM d "
        f"RETURNING {sql.column(reg, 'pk')}, {sql.column(reg, 'status')}, "
        f"{sql.column(reg, 'waitlist_position')}, {sql.column(reg, 'invite_sequence')}), "
        f"n AS (INSERT INTO {sql.table(note)} ({sql.columns(note_columns)}) "
        f"SELECT {', '.join(note_values)} FROM r ON CONFLICT DO NOTHING RETURNING {sql.column(note, 'pk')}) "
        f"SELECT r.{sql.column(reg, 'pk')}, r.{sql.column(reg, 'status')}, "
        f"r.{sql.column(reg, 'waitlist_position')}, n.{sql.column(note, 'pk')} FROM r LEFT JOIN n ON TRUE"
    )
    return lock, insert, reg_fields, note_fields


def _registration_insert_pipelined(registration: Registration) -> None:
    lock, insert, reg_fields, note_fields = _signup_sql(connection.vendor, registration.attendance)
    # The outbox row as `_notify` builds it; kind, version and context come from the new row.
    notification = Notification(
        event_id=registration.event_id,
        recipient_email=registration.email,
        recipient_name=registration.full_name,
        language=registration.language,
        subject_type="registration",
    )
    params = [registration.event_id]
    params += [f.get_db_prep_save(f.pre_save(registration, True), connection) for f in reg_fields]
    params += [f.get_db_prep_save(f.pre_save(notification, True), connection) for f in note_fields]
    scope = transaction.atomic if connection.in_atomic_block else nullcontext
    with scope(), connection.wrap_database_errors:
        with sql.prepared_cursor() as lock_cursor, sql.prepared_cursor() as insert_cursor:
            with connection.connection.pipeline():
                lock_cursor.execute(lock, [registration.event_id])
                insert_cursor.execute(insert, params)
            row = insert_cursor.fetchone()  # after the pipeline's Sync: committed (or raised)
    if row is None:
        raise Event.DoesNotExist(f"Event {registration.event_id} does not exist.")
    registration.id, registration.status, registration.waitlist_position, notification_id = row
    registration._state.adding, registration._state.db = False, connection.alias
    if notification_id is not None:
        notification_dispatch_on_commit(notification_id)


@transaction.atomic
def _already_registered(registration: Registration, *, now: datetime) -> None:
    # Concurrent duplicates of one registration take turns here (a row lock), so the check
    # below and the write after it cannot interleave.
    Registration.objects.select_for_update().filter(pk=registration.pk).first()
    previous = Notification.objects.filter(
        kind=Notification.Kind.ALREADY_REGISTERED, recipient_email=registration.email
    )
    if previous.filter(created_at__gte=now - ALREADY_REGISTERED_WINDOW).exists():
        return
    # Version = how many were sent before: two concurrent duplicates compute the same number,
    # and the outbox's uniqueness keeps one row.
    sent_before = previous.filter(subject_type="registration", subject_id=registration.id).count()
    notification_enqueue(
        event_id=registration.event_id,
        kind=Notification.Kind.ALREADY_REGISTERED,
        recipient_email=registration.email,
        recipient_name=registration.full_name,
        language=registration.language,
        subject_type="registration",
        subject_id=registration.id,
        version=f"resend-{sent_before + 1}",
        context={"status": registration.status},
    )


# --- self-service and organiser decisions ------------------------------------------------------


def _locked(registration: Registration) -> tuple[Event, Registration]:
    """Lock the event (seats may move), then re-read the registration under that lock."""
    event = _lock_event(registration.event_id)
    current = Registration.objects.select_for_update().get(pk=registration.pk)
    return event, current


def _refresh(target: Registration, source: Registration) -> Registration:
    target.__dict__.update({k: v for k, v in source.__dict__.items() if k != "_state"})
    return target


@transaction.atomic
def registration_update(
    *,
    registration: Registration,
    timezone: str | None = None,
    language: str | None = None,
    attendance: str | None = None,
) -> Registration:
    """Self-service changes. Switching to in person takes a free seat or joins the waitlist;
    switching to online needs a free online place; a freed seat goes to the waitlist."""
    now = dj_timezone.now()
    if attendance is not None and attendance != registration.attendance:
        event, current = _locked(registration)
    else:
        event, current = None, Registration.objects.select_for_update().get(pk=registration.pk)
    if current.status in (Status.CANCELLED, Status.REJECTED):
        raise RegistrationInactive(f"This registration is {current.status}; it can no longer be changed.")
    fields = ["updated_at"]
    if timezone is not None:
        current.timezone = check_timezone(timezone)
        fields.append("timezone")
    if language is not None:
        current.language = language
        fields.append("language")
    if event is not None and attendance != current.attendance:
        if attendance == Attendance.ONLINE and not event.online_enabled:
            raise OnlineNotOffered(errors={"attendance": ["This event has no online attendance."]})
        usage = seat_usage(event.id)
        previous = current.status
        fields += ["attendance", "status", "waitlist_position"]
        current.attendance = attendance
        if current.status in SEAT_HOLDING:
            free = _free_seats(event, usage, attendance)
            if free is not None and free <= 0:
                if attendance == Attendance.ONLINE:
                    raise EventFull("No online places are left; your registration is unchanged.")
                current.status = Status.WAITLISTED
                current.waitlist_position = usage.last_position + 1
        current.save(update_fields=fields)
        if current.status == Status.WAITLISTED and previous != Status.WAITLISTED:
            _notify(current, Notification.Kind.WAITLISTED, waitlist_position=current.waitlist_position)
        _promote(event, now=now)
        current.refresh_from_db()
    else:
        current.save(update_fields=fields)
    return _refresh(registration, current)


@transaction.atomic
def registration_cancel(
    *, registration: Registration, by: str = "attendee", reason: str = ""
) -> Registration:
    """Cancel (by the attendee or an organiser). The badge stops verifying (status), the invite
    is withdrawn (SEQUENCE+1, METHOD:CANCEL in the message) and the seat goes to the waitlist."""
    event, current = _locked(registration)
    if current.status == Status.CANCELLED:
        raise AlreadyCancelled("This registration is already cancelled.")
    if current.status == Status.REJECTED:
        raise InvalidStatusTransition("A rejected registration cannot be cancelled.")
    now = dj_timezone.now()
    previous = current.status
    current.status = Status.CANCELLED
    current.cancelled_at = now
    current.waitlist_position = None
    current.invite_sequence += 1
    fields = ["status", "cancelled_at", "waitlist_position", "invite_sequence", "updated_at"]
    if reason:
        current.decision_reason = reason
        fields.append("decision_reason")
    current.save(update_fields=fields)
    _notify(current, Notification.Kind.CANCELLED, previous_status=previous, by=by, reason=reason)
    if previous in SEAT_HOLDING:
        _promote(event, now=now)
    elif previous == Status.WAITLISTED:
        _compact_waitlist(event.id)
    return _refresh(registration, current)


@transaction.atomic
def registration_approve(*, registration: Registration, reason: str = "") -> Registration:
    """pending_approval → confirmed. The seat was held while pending, so this never oversells."""
    _event, current = _locked(registration)
    if current.status != Status.PENDING_APPROVAL:
        raise InvalidStatusTransition(
            f"Only a pending registration can be approved (this one is {current.status})."
        )
    current.status = Status.CONFIRMED
    current.decision_reason = reason
    current.save(update_fields=["status", "decision_reason", "updated_at"])
    _notify(current, Notification.Kind.APPROVED)
    return _refresh(registration, current)


@transaction.atomic
def registration_reject(*, registration: Registration, reason: str = "") -> Registration:
    """pending_approval or waitlisted → rejected; a held seat goes to the waitlist."""
    event, current = _locked(registration)
    if current.status not in (Status.PENDING_APPROVAL, Status.WAITLISTED):
        raise InvalidStatusTransition(
            f"Only a pending or waitlisted registration can be rejected (this one is {current.status}); "
            "cancel a confirmed one instead."
        )
    now = dj_timezone.now()
    previous = current.status
    current.status = Status.REJECTED
    current.waitlist_position = None
    current.decision_reason = reason
    current.save(update_fields=["status", "waitlist_position", "decision_reason", "updated_at"])
    _notify(current, Notification.Kind.REJECTED, reason=reason)
    if previous in SEAT_HOLDING:
        _promote(event, now=now)
    else:
        _compact_waitlist(event.id)
    return _refresh(registration, current)


@transaction.atomic
def waitlist_promote(*, event: Event) -> list[Registration]:
    """Fill whatever seats are free from the waitlist (normally a no-op: every change that
    frees a seat promotes in its own transaction)."""
    locked = _lock_event(event.id)
    return _promote(locked, now=dj_timezone.now())


@transaction.atomic
def registration_capacity_change(
    *, event: Event, capacity: int, online_capacity: int | None | _Unchanged = UNCHANGED
) -> list[Registration]:
    """Set the in-person (and optionally online; None = unlimited) capacity and promote the
    waitlist into the new seats, in order. Lowering a capacity never unseats anyone.
    Returns the promoted registrations."""
    if capacity is None or capacity < 0:
        raise InvalidCapacity(errors={"capacity": ["Capacity must be zero or more."]})
    if online_capacity is not UNCHANGED and online_capacity is not None and online_capacity < 0:
        raise InvalidCapacity(errors={"online_capacity": ["Online capacity must be zero or more."]})
    now = dj_timezone.now()
    locked = _lock_event(event.id)
    changes: dict = {"capacity": capacity}
    if online_capacity is not UNCHANGED:
        changes["online_capacity"] = online_capacity
    # A targeted UPDATE: other fields of the event (edited elsewhere) are not overwritten.
    Event.objects.filter(pk=locked.pk).update(**changes, updated_at=now)
    for name, value in changes.items():
        setattr(locked, name, value)
        setattr(event, name, value)
    return _promote(locked, now=now)
