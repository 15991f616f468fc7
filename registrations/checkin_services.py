"""Check-in writes: scan a badge (or check someone in by id), undo a check-in.

The scan path is built to be cheap and safe under duplicates (pretix `services/checkin.py`):
- the signature is checked before any database work (garbage costs one INSERT, the scan row);
- the registration and its open entry are read in one statement; a partial unique index allows
  one open entry per registration, so the same badge at two gates at once gets exactly one `ok`
  (the loser is rolled back, decides again and answers `already_checked_in`);
- the scan row is written last in the same transaction; (event, nonce) is unique, so a replayed
  nonce rolls the whole attempt back and is answered from the original row;
- nothing slow (email, rendering) happens here.

A scan answer is: SELECT registration (+ open entry), INSERT check-in, INSERT scan, in SQL
written here (see `_read_sql`); the rare paths (replays, exits, undo) use the ORM.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config import sql
from config.problems import ApplicationError, Conflict, NotFound
from config.sql import column as _col
from config.sql import table as _table
from registrations.badge_tokens import InvalidBadgeToken, verify_badge_token
from registrations.models import CheckIn, EventRole, Registration, Scan
from sessions.models import Event

Result = Scan.Result

# HTTP status per result: 400 for a token that is not ours, 403 for a valid badge that must not
# enter, 409 for a state conflict (already inside / not inside).
RESULT_STATUS = {
    Result.OK: 201,
    Result.INVALID: 400,
    Result.WRONG_EVENT: 403,
    Result.REVOKED: 403,
    Result.NOT_CONFIRMED: 403,
    Result.ONLINE_ONLY: 403,
    Result.ALREADY_CHECKED_IN: 409,
    Result.NOT_CHECKED_IN: 409,
}

RESULT_DETAIL = {
    Result.OK: "Welcome.",
    Result.INVALID: "This is not a valid badge (unreadable, altered, or signed with an unknown key).",
    Result.WRONG_EVENT: "This badge is for another event.",
    Result.REVOKED: "This badge has been revoked (registration cancelled or rejected, or badge reissued).",
    Result.NOT_CONFIRMED: "This registration is not confirmed (pending approval or on the waitlist).",
    Result.ONLINE_ONLY: "This person is registered to attend online.",
    Result.ALREADY_CHECKED_IN: "Already checked in.",
    Result.NOT_CHECKED_IN: "Not checked in: cannot record an exit.",
}

_REGISTRATION_FIELDS = (
    "id",
    "event_id",
    "full_name",
    "organisation",
    "category",
    "attendance",
    "status",
    "badge_counter",
)


class ExitNotAllowed(ApplicationError):
    code = "exit_not_allowed"
    title = "Exits are not recorded on this event"


class AlreadyUndone(Conflict):
    code = "already_undone"
    title = "This check-in was already undone"


class CheckInNotFound(NotFound):
    code = "checkin_not_found"
    title = "No such check-in"


class RegistrationNotFound(NotFound):
    code = "registration_not_found"
    title = "No such registration on this event"


@dataclass(frozen=True)
class ScanOutcome:
    result: str
    registration: Registration | None
    # The check-in this scan created (ok) or ran into (already_checked_in).
    checkin: CheckIn | None
    scan_id: int
    direction: str = CheckIn.Direction.IN
    replayed: bool = False

    @property
    def http_status(self) -> int:
        return RESULT_STATUS[self.result]


def _code_prefix(code: str) -> str:
    """The start of what was scanned, ASCII-escaped: a refused code may hold anything."""
    return code[:40].encode("ascii", "backslashreplace").decode("ascii")[:40]


def _check_direction(event: Event, direction: str) -> None:
    if direction == CheckIn.Direction.OUT and event.checkin_policy != Event.CheckinPolicy.REENTRY:
        raise ExitNotAllowed("This event is single entry: only entries are recorded.")


def _replay(*, event: Event, nonce: str) -> ScanOutcome:
    scan = Scan.objects.select_related("registration", "checkin").get(event=event, nonce=nonce)
    return ScanOutcome(
        result=scan.result,
        registration=scan.registration,
        checkin=scan.checkin,
        scan_id=scan.id,
        direction=scan.direction,
        replayed=True,
    )


def _record_refusal(
    *,
    event: Event,
    result: str,
    gate: str,
    nonce: str | None,
    code: str,
    scanned_at: datetime | None,
    direction: str,
    user,
) -> ScanOutcome:
    """A scan refused before any registration is read (invalid, wrong_event): one INSERT."""
    try:
        with transaction.atomic():
            scan_id = _sql_insert(
                _S,
                _SCAN_FIELDS,
                _scan_values(
                    event_id=event.id,
                    registration_id=None,
                    checkin_id=None,
                    result=result,
                    direction=direction,
                    manual=False,
                    gate=gate,
                    nonce=nonce,
                    code=code,
                    user_id=_user_id(user),
                    now=timezone.now(),
                    scanned_at=scanned_at,
                ),
            )
    except IntegrityError:
        if not nonce:
            raise
        return _replay(event=event, nonce=nonce)
    return ScanOutcome(result=result, registration=None, checkin=None, scan_id=scan_id, direction=direction)


# The scan path is written in SQL: the ORM costs ~0.8 ms of CPU per query to build and compile
# here, raw statements ~0.1 ms, and a door rush is CPU-bound. Table and column names come from
# the models' metadata (so S608 does not apply: every value is a parameter); the statements
# are portable (PostgreSQL, SQLite).
_R = Registration._meta
_C = CheckIn._meta
_S = Scan._meta


def _loaded(meta, names: tuple[str, ...]) -> list[str]:
    """`names` in the model's field order, as Model.from_db wants them."""
    return [f.attname for f in meta.concrete_fields if f.attname in names]


_REGISTRATION_LOADED = _loaded(_R, _REGISTRATION_FIELDS)


def _registration_and_entry_columns(vendor: str) -> str:
    """Registration `r` and its open entry `c`, as `_registration_from_row` reads them."""
    cols = ", ".join(f"r.{_col(_R, name)}" for name in _REGISTRATION_LOADED)
    return f"{cols}, c.{_col(_C, 'id')}, c.{_col(_C, 'created_at')}, c.{_col(_C, 'gate')}"


def _registration_from_row(row) -> Registration:
    count = len(_REGISTRATION_LOADED)
    registration = Registration.from_db(connection.alias, _REGISTRATION_LOADED, row[:count])
    registration.open_checkin_id, open_at, registration.open_checkin_gate = row[count:]
    registration.open_checkin_at = _aware(open_at)
    return registration


@lru_cache(maxsize=8)
def _read_sql(vendor: str) -> str:
    return (
        f"SELECT {_registration_and_entry_columns(vendor)} "  # noqa: S608
        f"FROM {_table(_R)} r LEFT JOIN {_table(_C)} c "
        f"ON c.{_col(_C, 'registration')} = r.{_col(_R, 'id')} AND c.{_col(_C, 'is_open')} = %s "
        f"WHERE r.{_col(_R, 'id')} = %s"
    )


@lru_cache(maxsize=16)
def _insert_sql(vendor: str, meta, fields: tuple[str, ...]) -> str:
    cols = ", ".join(_col(meta, name) for name in fields)
    marks = ", ".join(["%s"] * len(fields))
    returning = f" RETURNING {_col(meta, 'id')}" if connection.features.can_return_columns_from_insert else ""
    return f"INSERT INTO {_table(meta)} ({cols}) VALUES ({marks}){returning}"  # noqa: S608


_CHECKIN_FIELDS = (
    "event",
    "registration",
    "direction",
    "is_open",
    "closes",
    "gate",
    "created_at",
    "scanned_at",
    "created_by",
)
_SCAN_FIELDS = (
    "event",
    "registration",
    "checkin",
    "result",
    "direction",
    "manual",
    "gate",
    "nonce",
    "code_prefix",
    "scanned_by",
    "created_at",
    "scanned_at",
)


def _scan_values(
    *,
    event_id: int,
    registration_id: int | None,
    checkin_id: int | None,
    result: str,
    direction: str,
    manual: bool,
    gate: str,
    nonce: str | None,
    code: str,
    user_id: int | None,
    now: datetime,
    scanned_at: datetime | None,
) -> list:
    """A scan row's values in `_SCAN_FIELDS` order."""
    return [
        event_id,
        registration_id,
        checkin_id,
        result,
        direction,
        manual,
        gate,
        nonce or "",
        _code_prefix(code),
        user_id,
        _db_datetime(now),
        _db_datetime(scanned_at),
    ]


def _sql_insert(meta, fields: tuple[str, ...], values: list) -> int:
    with sql.prepared_cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor, meta, fields), values)
        if connection.features.can_return_columns_from_insert:
            return cursor.fetchone()[0]
        return cursor.lastrowid


def _db_datetime(value: datetime | None):
    return None if value is None else connection.ops.adapt_datetimefield_value(value)


def _aware(value) -> datetime | None:
    """A datetime read by a raw cursor (SQLite hands back text) → aware UTC."""
    if value is None or isinstance(value, datetime) and timezone.is_aware(value):
        return value
    if isinstance(value, str):
        value = parse_datetime(value)
    return timezone.make_aware(value, UTC) if timezone.is_naive(value) else value


def _user_id(user) -> int | None:
    return user.pk if user is not None and user.is_authenticated else None


def _registration_with_open_entry(*, event: Event, registration_id: int) -> Registration | None:
    """The registration with its open entry (if any), read in one statement, no lock.

    At most one open entry exists (unique index), so the LEFT JOIN gives at most one row.
    """
    with sql.prepared_cursor() as cursor:
        cursor.execute(_read_sql(connection.vendor), [True, registration_id])
        row = cursor.fetchone()
    if row is None:
        return None
    registration = _registration_from_row(row)
    return registration if registration.event_id == event.id else None


def _decide(
    *, registration: Registration | None, counter: int | None, direction: str
) -> tuple[str, CheckIn | None]:
    """The result for a registration in its current state; its open entry if any."""
    if registration is None:
        return Result.REVOKED, None  # signed by us, but the registration is gone
    if registration.status in (Registration.Status.CANCELLED, Registration.Status.REJECTED):
        return Result.REVOKED, None
    if counter is not None and counter != registration.badge_counter:
        return Result.REVOKED, None  # an older (reissued) badge
    if registration.status != Registration.Status.CONFIRMED:
        return Result.NOT_CONFIRMED, None
    if registration.attendance != Registration.Attendance.IN_PERSON:
        return Result.ONLINE_ONLY, None
    open_entry = None
    if registration.open_checkin_id is not None:
        open_entry = CheckIn(
            id=registration.open_checkin_id,
            event_id=registration.event_id,
            registration_id=registration.id,
            direction=CheckIn.Direction.IN,
            created_at=registration.open_checkin_at,
            gate=registration.open_checkin_gate,
            is_open=True,
        )
    if direction == CheckIn.Direction.IN and open_entry is not None:
        return Result.ALREADY_CHECKED_IN, open_entry
    if direction == CheckIn.Direction.OUT and open_entry is None:
        return Result.NOT_CHECKED_IN, None
    return Result.OK, open_entry


class _LostRace(Exception):
    """Another gate changed this person's state between our read and our write: decide again."""


class CheckinContention(Conflict):
    code = "checkin_contention"
    title = "This badge is being scanned elsewhere right now; scan again"


_ATTEMPTS = 3


def _perform(
    *,
    event: Event,
    registration_id: int,
    counter: int | None,
    gate: str,
    nonce: str | None,
    code: str,
    scanned_at: datetime | None,
    direction: str,
    user,
) -> ScanOutcome:
    # Optimistic: read, decide, write. The partial unique index on open entries is the arbiter;
    # whoever loses the race is rolled back and decides again on the committed state (which
    # READ COMMITTED shows to the next statement), so it answers `already_checked_in`.
    for _attempt in range(_ATTEMPTS):
        try:
            with transaction.atomic():
                registration = _registration_with_open_entry(event=event, registration_id=registration_id)
                if registration is None and counter is None:
                    raise RegistrationNotFound()  # by id: nothing is recorded for a wrong id
                result, checkin = _decide(registration=registration, counter=counter, direction=direction)
                now = timezone.now()
                if result == Result.OK:
                    if direction == CheckIn.Direction.OUT:
                        closed = CheckIn.objects.filter(id=checkin.id, is_open=True).update(is_open=False)
                        if not closed:
                            raise _LostRace()
                    checkin = CheckIn(
                        event_id=event.id,
                        registration_id=registration.id,
                        direction=direction,
                        is_open=direction == CheckIn.Direction.IN,
                        closes_id=checkin.id if checkin is not None else None,
                        gate=gate,
                        created_at=now,
                        scanned_at=scanned_at,
                        created_by_id=_user_id(user),
                    )
                    checkin.id = _sql_insert(
                        _C,
                        _CHECKIN_FIELDS,
                        [
                            checkin.event_id,
                            checkin.registration_id,
                            checkin.direction,
                            checkin.is_open,
                            checkin.closes_id,
                            gate,
                            _db_datetime(now),
                            _db_datetime(scanned_at),
                            checkin.created_by_id,
                        ],
                    )
                    checkin._state.adding = False
                scan_id = _sql_insert(
                    _S,
                    _SCAN_FIELDS,
                    _scan_values(
                        event_id=event.id,
                        registration_id=registration.id if registration is not None else None,
                        checkin_id=checkin.id if checkin is not None else None,
                        result=result,
                        direction=direction,
                        manual=counter is None,
                        gate=gate,
                        nonce=nonce,
                        code=code,
                        user_id=_user_id(user),
                        now=now,
                        scanned_at=scanned_at,
                    ),
                )
        except IntegrityError:
            # Either the nonce was seen before (answer from the original scan row), or another
            # gate opened an entry first (decide again). This attempt is rolled back either way.
            if nonce:
                try:
                    return _replay(event=event, nonce=nonce)
                except Scan.DoesNotExist:
                    pass
            continue
        except _LostRace:
            continue
        return ScanOutcome(
            result=result, registration=registration, checkin=checkin, scan_id=scan_id, direction=direction
        )
    raise CheckinContention()


def checkin_perform(
    *,
    event: Event,
    code: str,
    gate: str = "",
    nonce: str | None = None,
    scanned_at: datetime | None = None,
    direction: str = CheckIn.Direction.IN,
    user=None,
) -> ScanOutcome:
    """Scan a badge. Every outcome is recorded as a Scan row and returned, never raised."""
    _check_direction(event, direction)
    common = {"gate": gate, "nonce": nonce, "code": code, "scanned_at": scanned_at, "direction": direction}
    try:
        payload = verify_badge_token(code)
    except InvalidBadgeToken:
        return _record_refusal(event=event, result=Result.INVALID, user=user, **common)
    if payload.event_id != event.id:
        return _record_refusal(event=event, result=Result.WRONG_EVENT, user=user, **common)
    return _perform(
        event=event, registration_id=payload.registration_id, counter=payload.counter, user=user, **common
    )


def checkin_perform_manual(
    *,
    event: Event,
    registration_id: int,
    gate: str = "",
    nonce: str | None = None,
    scanned_at: datetime | None = None,
    direction: str = CheckIn.Direction.IN,
    user=None,
) -> ScanOutcome:
    """Check someone in by registration id (found by name search: no badge at hand)."""
    _check_direction(event, direction)
    return _perform(
        event=event,
        registration_id=registration_id,
        counter=None,
        gate=gate,
        nonce=nonce or "",
        code="",
        scanned_at=scanned_at,
        direction=direction,
        user=user,
    )


class ReenteredSince(Conflict):
    code = "reentered_since"
    title = "This exit cannot be undone: the person has entered again since"


@transaction.atomic
def checkin_undo(*, event: Event, checkin_id: int, user=None) -> CheckIn:
    """Undo a check-in (a mistaken scan): the row stays, marked undone, with who and when.

    Undoing an entry closes it; undoing an exit re-opens the entry it closed.
    """
    checkin = CheckIn.objects.select_for_update().filter(id=checkin_id, event_id=event.id).first()
    if checkin is None:
        raise CheckInNotFound()
    if checkin.undone_at is not None:
        raise AlreadyUndone()
    checkin.undone_at = timezone.now()
    checkin.undone_by = user
    checkin.is_open = False
    checkin.save(update_fields=["undone_at", "undone_by", "is_open"])
    if checkin.direction == CheckIn.Direction.OUT and checkin.closes_id is not None:
        try:
            with transaction.atomic():
                CheckIn.objects.filter(id=checkin.closes_id, undone_at__isnull=True).update(is_open=True)
        except IntegrityError:
            raise ReenteredSince()
    return checkin


# --- the door-rush path: one statement for an entry ---------------------------------------------
#
# A scan with an API token is the request a door rush repeats thousands of times. On PostgreSQL
# an entry costs one statement, its own transaction (autocommit): it authorises the token on the
# event, reads the registration with its open entry, and, when that row is plainly admissible,
# writes the check-in and its scan row (data-modifying CTEs, so all or nothing). Any other scan
# (a refusal, a rescan) reads the same way, is decided in Python by `_decide`, and writes its
# scan row in a second statement. The statement's test is only a shortcut: it admits no row
# that `_decide` would refuse, and whatever it passes over `_decide` still sees.
# The partial unique index and the nonce index stay the arbiters, as on the general path:
# whatever this path does not answer itself (a refused token, a bad signature, a replayed nonce,
# a lost race, exits, offline uploads) is left to `checkin_perform`, which has the full rules.


class NotHandledHere(Exception):
    """The fast path does not answer this scan; the general path will (nothing was written)."""


_SCAN_ROLES = (EventRole.Role.ORGANISER, EventRole.Role.CHECKIN)


@lru_cache(maxsize=4)
def _token_scan_context_sql(vendor: str) -> str:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user, token, role, event = get_user_model()._meta, Token._meta, EventRole._meta, Event._meta
    roles = ", ".join(sql.literal(name) for name in _SCAN_ROLES)
    return (
        f"SELECT u.{_col(user, 'pk')}, e.{_col(event, 'pk')}, "  # noqa: S608
        f"{_registration_and_entry_columns(vendor)} "
        f"FROM {_table(token)} t "
        f"JOIN {_table(user)} u ON u.{_col(user, 'pk')} = t.{_col(token, 'user')} "
        f"AND u.{_col(user, 'is_active')} "
        f"JOIN {_table(event)} e ON e.{_col(event, 'slug')} = %s "
        # By primary key only (its event is compared below): a prepared statement's generic plan
        # must not pick the event index and walk all of an event's registrations.
        f"LEFT JOIN {_table(_R)} r ON r.{_col(_R, 'id')} = %s "
        f"LEFT JOIN {_table(_C)} c ON c.{_col(_C, 'registration')} = r.{_col(_R, 'id')} "
        f"AND c.{_col(_C, 'is_open')} "
        f"WHERE t.{_col(token, 'pk')} = %s "
        f"AND EXISTS (SELECT 1 FROM {_table(role)} er "
        f"WHERE er.{_col(role, 'event')} = e.{_col(event, 'pk')} "
        f"AND er.{_col(role, 'user')} = u.{_col(user, 'pk')} "
        f"AND er.{_col(role, 'role')} IN ({roles}))"
    )


# The context row of a token scan: `_token_scan_context_sql`'s columns, named for the CTE.
_CONTEXT_COLUMNS = (
    "user_id",
    "event_id",
    *(f"r_{name}" for name in _REGISTRATION_LOADED),
    "c_id",
    "c_created_at",
    "c_gate",
)


# What the one-statement entry writes, by column: a placeholder takes a parameter (in this
# order), anything else is SQL: over the context row `ctx` for the check-in, over the new
# check-in `entry` for its scan row (which repeats the entry's event, person, gate, time, staff).
# Constants are written into the statement: psycopg adapts every parameter on every scan.
_ENTRY_CHECKIN = {
    "event": "ctx.event_id",
    "registration": "ctx.r_id",
    "direction": sql.literal(CheckIn.Direction.IN),
    "is_open": sql.literal(True),
    "closes": "NULL",
    "gate": "%s",
    "created_at": "%s",
    "scanned_at": "NULL",
    "created_by": "ctx.user_id",
}
_ENTRY_SCAN = {
    "event": "entry.{event}",
    "registration": "entry.{registration}",
    "checkin": "entry.{id}",
    "result": sql.literal(Result.OK),
    "direction": "entry.{direction}",
    "manual": sql.literal(False),
    "gate": "entry.{gate}",
    "nonce": "%s",
    "code_prefix": "%s",
    "scanned_by": "entry.{created_by}",
    "created_at": "entry.{created_at}",
    "scanned_at": "NULL",
}
# A rescan's scan row, written by the same statement when the person is already in: over the
# context row `ctx`, whose open entry it points at.
_RESCAN_SCAN = {
    "event": "ctx.event_id",
    "registration": "ctx.r_id",
    "checkin": "ctx.c_id",
    "result": sql.literal(Result.ALREADY_CHECKED_IN),
    "direction": sql.literal(CheckIn.Direction.IN),
    "manual": sql.literal(False),
    "gate": "%s",
    "nonce": "%s",
    "code_prefix": "%s",
    "scanned_by": "ctx.user_id",
    "created_at": "%s",
    "scanned_at": "NULL",
}
# The registration status and attendance the one-statement entry admits (see `_decide`).
_ENTRY_ADMITS = {"status": Registration.Status.CONFIRMED, "attendance": Registration.Attendance.IN_PERSON}


@lru_cache(maxsize=4)
def _token_scan_sql(vendor: str) -> str:
    """The context read; for a plainly admissible entry the check-in and its scan row; for the
    rescan of someone already in, its `already_checked_in` scan row.

    Parameters: the context's (slug, registration id, token); the check-in's (gate, time); the
    entry test's (the badge's event id and counter); the scan row's (nonce, code prefix); the
    rescan's scan row's (gate, nonce, code prefix, time) and its test's (event id, counter).
    Returns the context row, then the new entry scan's id and check-in id, then the rescan's
    scan id (NULL when nothing was written)."""
    checkin_cols = ", ".join(_col(_C, name) for name in _CHECKIN_FIELDS)
    checkin_values = ", ".join(_ENTRY_CHECKIN[name] for name in _CHECKIN_FIELDS)
    returned = ("id", "event", "registration", "direction", "gate", "created_at", "created_by")
    entry_cols = {name: _col(_C, name) for name in returned}
    scan_cols = ", ".join(_col(_S, name) for name in _ENTRY_SCAN)
    scan_values = ", ".join(value.format(**entry_cols) for value in _ENTRY_SCAN.values())
    admits = " AND ".join(f"ctx.r_{name} = {sql.literal(value)}" for name, value in _ENTRY_ADMITS.items())
    # The badge's event and current counter, a confirmed in-person registration of that event.
    admissible = (
        f"ctx.event_id = %s AND ctx.r_event_id = ctx.event_id AND ctx.r_badge_counter = %s AND {admits}"
    )
    rescan_cols = ", ".join(_col(_S, name) for name in _RESCAN_SCAN)
    rescan_values = ", ".join(_RESCAN_SCAN.values())
    return (
        f"WITH ctx ({', '.join(_CONTEXT_COLUMNS)}) AS ({_token_scan_context_sql(vendor)}), "  # noqa: S608
        # `_decide`'s `ok` for an entry, in SQL: admissible, no open entry.
        f"entry AS (INSERT INTO {_table(_C)} ({checkin_cols}) SELECT {checkin_values} FROM ctx "
        f"WHERE {admissible} AND ctx.c_id IS NULL "
        f"RETURNING {', '.join(entry_cols.values())}), "
        f"scan AS (INSERT INTO {_table(_S)} ({scan_cols}) SELECT {scan_values} FROM entry "
        f"RETURNING {_col(_S, 'id')}, {_col(_S, 'checkin')}), "
        # `_decide`'s `already_checked_in` for an entry: admissible, an open entry.
        f"rescan AS (INSERT INTO {_table(_S)} ({rescan_cols}) SELECT {rescan_values} FROM ctx "
        f"WHERE {admissible} AND ctx.c_id IS NOT NULL RETURNING {_col(_S, 'id')}) "
        f"SELECT ctx.*, scan.{_col(_S, 'id')}, scan.{_col(_S, 'checkin')}, rescan.{_col(_S, 'id')} "
        "FROM ctx LEFT JOIN scan ON TRUE LEFT JOIN rescan ON TRUE"
    )


def checkin_scan_by_token(
    *, slug: str, api_token: str, code: str, gate: str, nonce: str | None
) -> ScanOutcome:
    """Scan a badge (an entry, scanned now) for the holder of an API token: one statement for
    an entry or a rescan, two for a refusal.

    Raises NotHandledHere, having written nothing, for whatever `checkin_perform` must answer.
    """
    if connection.vendor != "postgresql":
        raise NotHandledHere()
    try:
        payload = verify_badge_token(code)
    except InvalidBadgeToken:
        raise NotHandledHere() from None
    direction = CheckIn.Direction.IN
    now = timezone.now()

    # Outside a transaction (a web request) each statement is its own; inside one (a test, a
    # caller's block) a savepoint keeps a refused INSERT from breaking the enclosing transaction.
    statement_scope = transaction.atomic if connection.in_atomic_block else nullcontext
    at, code_prefix = _db_datetime(now), _code_prefix(code)
    try:
        with statement_scope(), sql.prepared_cursor() as cursor:
            cursor.execute(
                _token_scan_sql(connection.vendor),
                [slug, payload.registration_id, api_token]
                + [gate, at]
                + [payload.event_id, payload.counter]
                + [nonce or "", code_prefix]
                + [gate, nonce or "", code_prefix, at]
                + [payload.event_id, payload.counter],
            )
            row = cursor.fetchone()
    except IntegrityError:
        # A replayed nonce, or another gate opened an entry first: the statement wrote nothing.
        raise NotHandledHere() from None
    if row is None:  # unknown token, inactive user, no role on this event, or no such event
        raise NotHandledHere()
    user_id, event_id = row[:2]
    if event_id != payload.event_id or row[2] is None:
        # Another event's badge, or signed by us for a registration that is gone: the general
        # path records `wrong_event` or `revoked`.
        raise NotHandledHere()
    registration = _registration_from_row(row[2:-3])
    if registration.event_id != event_id:
        raise NotHandledHere()
    scan_id, checkin_id, rescan_id = row[-3:]
    if scan_id is not None:
        checkin = _new_entry(checkin_id, registration, gate=gate, now=now, user_id=user_id)
        return ScanOutcome(result=Result.OK, registration=registration, checkin=checkin, scan_id=scan_id)

    result, open_entry = _decide(registration=registration, counter=payload.counter, direction=direction)
    if rescan_id is not None:
        # The statement recorded `already_checked_in`; `_decide` says the same of the same row.
        return ScanOutcome(result=result, registration=registration, checkin=open_entry, scan_id=rescan_id)
    if result == Result.OK:
        # Only if the statement's test and `_decide` ever part: `_decide` is the rule, and the
        # general path applies it.
        raise NotHandledHere()
    values = _scan_values(
        event_id=payload.event_id,
        registration_id=payload.registration_id,
        checkin_id=open_entry.id if open_entry is not None else None,
        result=result,
        direction=direction,
        manual=False,
        gate=gate,
        nonce=nonce,
        code=code,
        user_id=user_id,
        now=now,
        scanned_at=None,
    )
    try:
        with statement_scope():
            scan_id = _sql_insert(_S, _SCAN_FIELDS, values)
    except IntegrityError:
        raise NotHandledHere() from None  # a replayed nonce: the general path answers it
    return ScanOutcome(result=result, registration=registration, checkin=open_entry, scan_id=scan_id)


def _new_entry(checkin_id: int, registration: Registration, *, gate: str, now, user_id: int) -> CheckIn:
    checkin = CheckIn(
        id=checkin_id,
        event_id=registration.event_id,
        registration_id=registration.id,
        direction=CheckIn.Direction.IN,
        is_open=True,
        gate=gate,
        created_at=now,
        created_by_id=user_id,
    )
    checkin._state.adding = False
    return checkin
