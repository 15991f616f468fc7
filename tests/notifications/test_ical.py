"""The pure iCalendar builder, read back by parsers that share no code with it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from notifications.ical import CalendarItem, Party, build_calendar, event_uid, session_uid
from tests.sessions.ical_parsers import (
    defined_tzids,
    parse_with_icaljs,
    parse_with_libical,
    parse_with_vobject,
    referenced_tzids,
    unfold,
)

NOW = datetime(2024, 9, 1, 12, 0, 5, tzinfo=UTC)


def _item(start: datetime, minutes: int = 60, **kw) -> CalendarItem:
    fields = {
        "uid": session_uid(uuid.uuid4(), "convene.example.org"),
        "sequence": 0,
        "summary": "Opening of the high-level panel",
    }
    fields.update(kw)
    return CalendarItem(starts_at=start, ends_at=start + timedelta(minutes=minutes), **fields)


def test_uids_name_the_kind_and_the_host():
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert (
        session_uid(value, "convene.example.org")
        == "session-12345678-1234-5678-1234-567812345678@convene.example.org"
    )
    assert event_uid(str(value), "h.example") == "event-12345678-1234-5678-1234-567812345678@h.example"


def test_build_calendar_uses_crlf_and_folds_at_75_octets():
    long_title = "Coopération Sud-Sud et triangulaire — 南南合作 — التعاون فيما بين بلدان الجنوب " * 3
    data = build_calendar(
        method="PUBLISH",
        items=[_item(datetime(2024, 9, 12, 14, tzinfo=UTC), summary=long_title, description="a\nb, c; d")],
        tzid="America/New_York",
        now=NOW,
    )

    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    physical = data.split(b"\r\n")[:-1]
    assert max(len(line) for line in physical) <= 75
    assert any(line.startswith(b" ") for line in physical)  # the long title really was folded
    assert parse_with_vobject(data)["events"][0]["summary"] == long_title
    assert parse_with_vobject(data)["events"][0]["description"] == "a\nb, c; d"


def test_build_calendar_header_has_prodid_version_and_method():
    data = build_calendar(method="request", items=[_item(NOW)], tzid="UTC", now=NOW)
    lines = unfold(data)

    assert lines[0] == "BEGIN:VCALENDAR"
    assert "VERSION:2.0" in lines
    assert any(line.startswith("PRODID:") for line in lines)
    assert "METHOD:REQUEST" in lines


@pytest.mark.parametrize(
    "tzid",
    ["America/New_York", "Asia/Kathmandu", "America/Santiago", "Pacific/Chatham", "Australia/Lord_Howe"],
)
def test_every_tzid_has_its_vtimezone_with_the_rules(tzid):
    items = [_item(datetime(2024, 9, 12, 14, tzinfo=UTC)), _item(datetime(2024, 12, 12, 14, tzinfo=UTC))]
    data = build_calendar(method="PUBLISH", items=items, tzid=tzid, now=NOW)

    assert referenced_tzids(data) == {tzid}
    assert defined_tzids(data) == {tzid}
    calendar = icalendar.Calendar.from_ical(data)
    (vtimezone,) = calendar.walk("VTIMEZONE")
    kinds = {component.name for component in vtimezone.subcomponents}
    zone = ZoneInfo(tzid)
    if zone.utcoffset(datetime(2024, 1, 1)) != zone.utcoffset(datetime(2024, 7, 1)):
        assert kinds == {"STANDARD", "DAYLIGHT"}
    else:
        assert "STANDARD" in kinds


# Instants chosen around the rules that break calendars: New York's spring-forward and
# fall-back days (including both 01:30s of the fold), Santiago's September 2024 change,
# Kathmandu's +05:45 and Lord Howe's half-hour DST.
INSTANTS = [
    ("America/New_York", datetime(2024, 9, 12, 14, 0, tzinfo=UTC), 180),
    ("America/New_York", datetime(2024, 3, 10, 6, 30, tzinfo=UTC), 90),  # 01:30 EST → 04:00 EDT
    ("America/New_York", datetime(2024, 11, 3, 5, 30, tzinfo=UTC), 30),  # the first 01:30 (EDT)
    ("America/New_York", datetime(2024, 11, 3, 6, 30, tzinfo=UTC), 30),  # the second 01:30 (EST)
    ("America/Santiago", datetime(2024, 9, 12, 14, 0, tzinfo=UTC), 60),
    ("America/Santiago", datetime(2024, 9, 8, 3, 30, tzinfo=UTC), 60),
    ("Asia/Kathmandu", datetime(2024, 9, 12, 14, 0, tzinfo=UTC), 60),
    ("Australia/Lord_Howe", datetime(2024, 10, 5, 15, 0, tzinfo=UTC), 120),
    ("Pacific/Chatham", datetime(2024, 9, 12, 14, 0, tzinfo=UTC), 60),
]


@pytest.mark.parametrize(("tzid", "start", "minutes"), INSTANTS)
def test_every_parser_reads_the_same_utc_instants(tzid, start, minutes):
    item = _item(start, minutes)
    data = build_calendar(method="REQUEST", items=[item], tzid=tzid, now=NOW)
    expected = (int(start.timestamp()), int(start.timestamp()) + minutes * 60)

    (ours,) = icalendar.Calendar.from_ical(data).walk("VEVENT")
    by_icalendar = (int(ours.start.timestamp()), int(ours.end.timestamp()))
    (by_vobject,) = parse_with_vobject(data)["events"]
    (by_icaljs,) = parse_with_icaljs(data)["events"]
    (by_libical,) = parse_with_libical(data)["events"]

    assert by_icalendar == expected
    assert (by_vobject["start_utc"], by_vobject["end_utc"]) == expected
    assert (by_icaljs["start_utc"], by_icaljs["end_utc"]) == expected
    assert (by_libical["start_utc"], by_libical["end_utc"]) == expected
    assert by_icaljs["uid"] == by_vobject["uid"] == by_libical["uid"] == item.uid


def test_times_are_written_in_the_event_zone():
    data = build_calendar(
        method="PUBLISH",
        items=[_item(datetime(2024, 9, 12, 14, tzinfo=UTC), 180)],
        tzid="America/New_York",
        now=NOW,
    )
    lines = unfold(data)
    assert "DTSTART;TZID=America/New_York:20240912T100000" in lines
    assert "DTEND;TZID=America/New_York:20240912T130000" in lines


def test_request_has_organizer_attendee_sequence_stamp_and_alarm():
    item = _item(datetime(2024, 9, 12, 14, tzinfo=UTC), sequence=3, location="Conference Room 4, UNHQ")
    data = build_calendar(
        method="REQUEST",
        items=[item],
        tzid="America/New_York",
        now=datetime(2024, 9, 1, 8, 0, 5, tzinfo=ZoneInfo("America/New_York")),
        organizer=Party(email="events@convene.example.org", name="Convene"),
        attendee=Party(email="amina@example.org", name="Amina Diallo"),
        alarm_minutes_before=30,
    )
    (vevent,) = icalendar.Calendar.from_ical(data).walk("VEVENT")
    lines = unfold(data)

    assert str(vevent["UID"]) == item.uid
    assert vevent["SEQUENCE"] == 3
    assert "DTSTAMP:20240901T120005Z" in lines
    assert str(vevent["ORGANIZER"]) == "mailto:events@convene.example.org"
    assert vevent["ORGANIZER"].params["CN"] == "Convene"
    attendee = vevent["ATTENDEE"]
    assert str(attendee) == "mailto:amina@example.org"
    assert dict(attendee.params) == {
        "CN": "Amina Diallo",
        "ROLE": "REQ-PARTICIPANT",
        "PARTSTAT": "NEEDS-ACTION",
        "RSVP": "FALSE",
    }
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert str(vevent["LOCATION"]) == "Conference Room 4, UNHQ"
    (alarm,) = vevent.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert "TRIGGER:-PT30M" in lines


def test_cancel_marks_every_vevent_cancelled_without_alarm():
    items = [
        _item(datetime(2024, 9, 12, 14, tzinfo=UTC), sequence=2),
        _item(datetime(2024, 9, 12, 15, tzinfo=UTC)),
    ]
    data = build_calendar(
        method="CANCEL",
        items=items,
        tzid="America/New_York",
        now=NOW,
        organizer=Party(email="events@convene.example.org"),
        attendee=Party(email="amina@example.org"),
        alarm_minutes_before=30,
    )
    parsed = parse_with_vobject(data)

    assert parsed["method"] == "CANCEL"
    assert [e["status"] for e in parsed["events"]] == ["CANCELLED", "CANCELLED"]
    assert [e["sequence"] for e in parsed["events"]] == [2, 0]
    assert b"VALARM" not in data
    assert [e["status"] for e in parse_with_icaljs(data)["events"]] == ["CANCELLED", "CANCELLED"]


def test_the_ambiguous_first_0130_is_written_in_utc_the_rest_in_the_zone():
    first = datetime(2024, 11, 3, 5, 30, tzinfo=UTC)  # 01:30 EDT, the first of two 01:30s
    data = build_calendar(method="PUBLISH", items=[_item(first, 90)], tzid="America/New_York", now=NOW)
    lines = unfold(data)
    assert "DTSTART:20241103T053000Z" in lines
    assert "DTEND;TZID=America/New_York:20241103T020000" in lines  # 02:00 EST exists once


def test_calendar_name_is_written():
    data = build_calendar(
        method="PUBLISH", items=[], tzid="Europe/Paris", now=NOW, calendar_name="South-South"
    )
    assert "X-WR-CALNAME:South-South" in unfold(data)
    assert defined_tzids(data) == {"Europe/Paris"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "REPLY"}, "method"),
        ({"now": datetime(2024, 9, 1, 12)}, "now"),
        ({"items": [_item(datetime(2024, 9, 12, 14))]}, "aware"),
    ],
)
def test_build_calendar_refuses_bad_input(kwargs, message):
    arguments = {"method": "PUBLISH", "items": [], "tzid": "UTC", "now": NOW, **kwargs}
    with pytest.raises(ValueError, match=message):
        build_calendar(**arguments)


def test_vtimezone_goes_before_the_first_vevent_even_with_tricky_names():
    tricky = "Agenda BEGIN:VEVENT"
    data = build_calendar(
        method="PUBLISH",
        items=[_item(datetime(2024, 9, 12, 14, tzinfo=UTC), summary=tricky)],
        tzid="America/New_York",
        now=NOW,
        calendar_name=tricky,
    )
    lines = unfold(data)

    assert lines.index("BEGIN:VTIMEZONE") < lines.index("BEGIN:VEVENT")
    assert lines.count("BEGIN:VTIMEZONE") == 1
    assert f"X-WR-CALNAME:{tricky}" in lines
    assert parse_with_vobject(data)["events"][0]["summary"] == tricky
    assert [c.name for c in icalendar.Calendar.from_ical(data).subcomponents] == ["VTIMEZONE", "VEVENT"]
