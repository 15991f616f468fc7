"""iCalendar (RFC 5545) and iTIP (RFC 5546) documents, built from plain data.

A pure builder: no database, no settings. The agenda feeds (METHOD:PUBLISH) and the email invites
(METHOD:REQUEST / CANCEL) both come from `build_calendar`, so a session has one UID and one
rendering everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
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
    # The range covers the items' years with a year of margin: every rule they fall under.
    component = icalendar.Timezone.from_tzinfo(
        ZoneInfo(tzid), tzid=tzid, first_date=date(first_year, 1, 1), last_date=date(last_year, 12, 31)
    )
    return component.to_ical()


def _timezone_block(tzid: str, items: Sequence[CalendarItem], now: datetime) -> bytes:
    years = [moment.year for item in items for moment in (item.starts_at, item.ends_at)] or [now.year]
    return _vtimezone(tzid, min(years) - 1, max(years) + 1)


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
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
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

    stamp = now.astimezone(UTC)
    for item in items:
        if item.starts_at.tzinfo is None or item.ends_at.tzinfo is None:
            raise ValueError(f"{item.uid}: starts_at and ends_at must be timezone-aware")
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
            vevent.add(
                "attendee",
                _party(
                    "attendee",
                    attendee,
                    ROLE="REQ-PARTICIPANT",
                    PARTSTAT="NEEDS-ACTION",
                    RSVP="FALSE",
                ),
            )
        if alarm_minutes_before is not None and method != "CANCEL":
            alarm = icalendar.Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", item.summary)
            alarm.add("trigger", timedelta(minutes=-int(alarm_minutes_before)))
            vevent.add_component(alarm)
        calendar.add_component(vevent)
    return _splice_timezone(calendar.to_ical(), _timezone_block(tzid, items, now))
