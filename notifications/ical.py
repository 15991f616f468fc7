"""iCalendar (RFC 5545) and iTIP (RFC 5546) documents, built from plain data.

A pure builder: no database, no settings. The agenda feeds (METHOD:PUBLISH) and the email invites
(METHOD:REQUEST / CANCEL) both come from `build_calendar`, so a session has one UID and one
rendering everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import icalendar

PRODID = "-//Convene//Convene agenda//EN"
METHODS = ("PUBLISH", "REQUEST", "CANCEL")


@dataclass(frozen=True)
class CalendarItem:
    uid: str
    sequence: int
    summary: str
    starts_at: datetime
    ends_at: datetime
    description: str = ""
    location: str = ""
    url: str = ""
    status: str = "CONFIRMED"


@dataclass(frozen=True)
class Party:
    email: str
    name: str = ""


def event_uid(uid: uuid.UUID | str, host: str) -> str:
    return f"event-{uid}@{host}"


def session_uid(uid: uuid.UUID | str, host: str) -> str:
    return f"session-{uid}@{host}"


@lru_cache(maxsize=256)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> bytes:
    # Computing the rules walks the zone's transitions, which is slow; a feed or a fan-out of
    # thousands of invites asks for the same few (zone, years) pairs, so the text is cached.
    component = icalendar.Timezone.from_tzinfo(
        ZoneInfo(tzid), tzid=tzid, first_date=date(first_year, 1, 1), last_date=date(last_year, 12, 31)
    )
    return component.to_ical()


def _splice_timezone(calendar: bytes, vtimezone: bytes) -> bytes:
    # The VTIMEZONE text is cached ready-made; parsing it back into a component for every invite
    # of a fan-out would double the cost of each. It goes before the first VEVENT, as RFC 5545
    # clients expect zones to be defined before they are used.
    # Matched with the CRLF before it: only a line that *is* BEGIN:VEVENT, never a value ending so.
    for marker in (b"\r\nBEGIN:VEVENT\r\n", b"\r\nEND:VCALENDAR\r\n"):
        head, found, tail = calendar.partition(marker)
        if found:
            return head + b"\r\n" + vtimezone + found[2:] + tail
    raise AssertionError("icalendar wrote a calendar without END:VCALENDAR")


def _wall_clock(moment: datetime, zone: ZoneInfo) -> datetime:
    """`moment` as local time in `zone` (DTSTART;TZID=...), unless that wall-clock time happens
    twice (the fall-back fold): RFC 5545 says such a time means the first occurrence, but
    parsers disagree (ical.js takes the second), so the instant is written in UTC instead."""
    local = moment.astimezone(zone)
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        return moment.astimezone(UTC)
    return local


def _party(prop: str, party: Party, **params: str) -> icalendar.vCalAddress:
    address = icalendar.vCalAddress(f"mailto:{party.email}")
    if party.name:
        address.params["CN"] = party.name
    for key, value in params.items():
        address.params[key] = value
    return address


def build_calendar(
    *,
    method: str,
    items: Sequence[CalendarItem],
    tzid: str,
    now: datetime,
    organizer: Party | None = None,
    attendee: Party | None = None,
    alarm_minutes_before: int | None = None,
    calendar_name: str = "",
) -> bytes:
    """One VCALENDAR with a VTIMEZONE for `tzid` and one VEVENT per item, as RFC 5545 bytes
    (CRLF line ends, lines folded at 75 octets)."""
    method = method.upper()
    _check(method, items, now)
    first_year, last_year = _year_range(items, now)
    layout = _calendar_layout(
        method,
        tuple(_in_utc(item) for item in items),
        tzid,
        organizer,
        attendee is not None,
        alarm_minutes_before,
        calendar_name,
        first_year,
        last_year,
    )
    own_lines = {_STAMP: _stamp_line(now.astimezone(UTC).replace(microsecond=0))}
    if attendee is not None:
        own_lines[_ATTENDEE] = _property_line("attendee", _attendee_address(attendee))
    return b"".join([own_lines.get(chunk, chunk) for chunk in layout])


def build_calendar_uncached(
    *,
    method: str,
    items: Sequence[CalendarItem],
    tzid: str,
    now: datetime,
    organizer: Party | None = None,
    attendee: Party | None = None,
    alarm_minutes_before: int | None = None,
    calendar_name: str = "",
) -> bytes:
    """What `build_calendar` returns, written by icalendar as one document for every call: the
    reference its cached layout is tested against."""
    method = method.upper()
    _check(method, items, now)
    calendar = _calendar_document(
        method=method,
        items=items,
        tzid=tzid,
        stamp=now.astimezone(UTC),
        organizer=organizer,
        attendee=attendee,
        alarm_minutes_before=alarm_minutes_before,
        calendar_name=calendar_name,
    )
    return _splice_timezone(calendar.to_ical(), _vtimezone(tzid, *_year_range(items, now)))


def _check(method: str, items: Sequence[CalendarItem], now: datetime) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    for item in items:
        if item.starts_at.tzinfo is None or item.ends_at.tzinfo is None:
            raise ValueError(f"{item.uid}: starts_at and ends_at must be timezone-aware")


def _year_range(items: Sequence[CalendarItem], now: datetime) -> tuple[int, int]:
    # The VTIMEZONE covers the items' years (as written in their own zones) with a year of
    # margin: every rule they fall under.
    years = [moment.year for item in items for moment in (item.starts_at, item.ends_at)] or [now.year]
    return min(years) - 1, max(years) + 1


def _in_utc(item: CalendarItem) -> CalendarItem:
    # The document depends on the instants only; in UTC, equal keys mean equal instants (two
    # local times in one zone compare equal across a fall-back fold even when they are not).
    if item.starts_at.tzinfo is UTC and item.ends_at.tzinfo is UTC:
        return item
    return replace(item, starts_at=item.starts_at.astimezone(UTC), ends_at=item.ends_at.astimezone(UTC))


# Where a layout takes the lines that differ between the invites of one fan-out.
_STAMP = object()
_ATTENDEE = object()
# Stand-ins for those lines while icalendar writes the rest: any value would do, since a line is
# recognised by its property, and every DTSTAMP (ATTENDEE) line carries the one stamp (attendee).
_STAND_IN_STAMP = datetime(2000, 1, 1, tzinfo=UTC)
_STAND_IN_ATTENDEE = Party(email="attendee@stand-in.invalid")


@lru_cache(maxsize=128)
def _calendar_layout(
    method: str,
    items: tuple[CalendarItem, ...],
    tzid: str,
    organizer: Party | None,
    has_attendee: bool,
    alarm_minutes_before: int | None,
    calendar_name: str,
    first_year: int,
    last_year: int,
) -> tuple[bytes | object, ...]:
    """The calendar icalendar writes for these arguments, as chunks of finished bytes with
    `_STAMP` and `_ATTENDEE` where those lines go. Every attendee of a fan-out gets the same
    document but for those two lines; writing it costs more than the rest of an invite, so
    it is written once per key. icalendar folds each content line on its own and places a
    property by its name alone, so lines written separately join into the same bytes. The key
    is every argument the chunks depend on: a changed event is a new key, never a stale invite."""
    calendar = _calendar_document(
        method=method,
        items=items,
        tzid=tzid,
        stamp=_STAND_IN_STAMP,
        organizer=organizer,
        attendee=_STAND_IN_ATTENDEE if has_attendee else None,
        alarm_minutes_before=alarm_minutes_before,
        calendar_name=calendar_name,
    )
    slots = {
        _property_line("dtstamp", _STAND_IN_STAMP): _STAMP,
        _property_line("attendee", _attendee_address(_STAND_IN_ATTENDEE)): _ATTENDEE,
    }
    lines = [line.to_ical() + b"\r\n" for line in calendar.content_lines() if line]
    lines = [slots.get(line, line) for line in lines]
    # The VTIMEZONE goes where `_splice_timezone` puts it in a whole document.
    marker = b"BEGIN:VEVENT\r\n" if b"BEGIN:VEVENT\r\n" in lines else b"END:VCALENDAR\r\n"
    at = lines.index(marker, 1)
    lines.insert(at, _vtimezone(tzid, first_year, last_year))
    chunks: list[bytes | object] = []
    for line in lines:
        if isinstance(line, bytes) and chunks and isinstance(chunks[-1], bytes):
            chunks[-1] += line
        else:
            chunks.append(line)
    return tuple(chunks)


@lru_cache(maxsize=8)
def _stamp_line(stamp: datetime) -> bytes:
    # DTSTAMP is written to the second (in UTC): a fan-out stamps its invites with the same
    # few seconds.
    return _property_line("dtstamp", stamp)


def _property_line(name: str, value) -> bytes:
    """One property as icalendar writes it in a document: encoded, folded, CRLF-terminated."""
    component = icalendar.Event()
    component.add(name, value)
    key = name.upper()
    return component.content_line(key, component[key]).to_ical() + b"\r\n"


def _attendee_address(attendee: Party) -> icalendar.vCalAddress:
    return _party("attendee", attendee, ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION", RSVP="FALSE")


def _calendar_document(
    *,
    method: str,
    items: Sequence[CalendarItem],
    tzid: str,
    stamp: datetime,
    organizer: Party | None,
    attendee: Party | None,
    alarm_minutes_before: int | None,
    calendar_name: str,
) -> icalendar.Calendar:
    """The VCALENDAR without its VTIMEZONE, as icalendar components."""
    zone = ZoneInfo(tzid)

    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    if calendar_name:
        calendar.add("x-wr-calname", calendar_name)
        calendar.add("name", calendar_name)
    calendar.add("x-wr-timezone", tzid)

    for item in items:
        vevent = icalendar.Event()
        vevent.add("uid", item.uid)
        vevent.add("dtstamp", stamp)
        vevent.add("sequence", int(item.sequence))
        vevent.add("dtstart", _wall_clock(item.starts_at, zone))
        vevent.add("dtend", _wall_clock(item.ends_at, zone))
        vevent.add("summary", item.summary)
        if item.description:
            vevent.add("description", item.description)
        if item.location:
            vevent.add("location", item.location)
        if item.url:
            vevent.add("url", item.url)
        status = "CANCELLED" if method == "CANCEL" else item.status.upper()
        vevent.add("status", status)
        vevent.add("transp", "TRANSPARENT" if status == "CANCELLED" else "OPAQUE")
        if organizer is not None:
            vevent.add("organizer", _party("organizer", organizer))
        if attendee is not None:
            vevent.add("attendee", _attendee_address(attendee))
        if alarm_minutes_before is not None and method != "CANCEL":
            alarm = icalendar.Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", item.summary)
            alarm.add("trigger", timedelta(minutes=-int(alarm_minutes_before)))
            vevent.add_component(alarm)
        calendar.add_component(vevent)
    return calendar
