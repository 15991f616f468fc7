"""The worker's shortcuts against the stock paths they stand for: the calendar layout cached per
event, the date texts and shared template parts cached per event and language, the cached
header check, the generator that writes a body in one piece and the envelope handed to the SMTP
backend pre-parsed. Each writes the bytes the stock path writes, for every kind, language and
script; and a changed event, time or sequence never gets a stale invite."""

from __future__ import annotations

import email
import email.policy
import itertools
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.generator import BytesGenerator
from email.utils import parseaddr
from io import BytesIO
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend
from django.core.mail.message import SafeMIMEText
from django.template import Context, Template
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from notifications import formatting, ical
from notifications import messages as notification_messages
from notifications.formatting import format_when_parts, format_when_parts_uncached
from notifications.ical import CalendarItem, Party, build_calendar, build_calendar_uncached
from notifications.messages import CalendarEmail, _BytesGeneratorWritingBodiesWhole, build_message
from notifications.models import Notification
from notifications.templatetags.shared_parts import SharedIncludeNode
from tests.factories import RegistrationFactory
from tests.notifications.test_messages import (
    REGISTRATION_KINDS,
    _event,
    _notification,
    _published_event,
)
from tests.support.processes import free_port

LANGUAGES = ["en", "fr", "es", "ar", "zh", "ru"]
NAMES = {
    "en": 'Ada "the chair" Lovelace, PhD',
    "fr": "Amélie Poulain-Ngọc",
    "es": "José Ñúñez de la Peña",
    "ar": "نادية حداد",
    "zh": "陈伟",
    "ru": "Олег Петров-Водкин",
}
# Folds in the subject, the calendar's name and summary, and the alarm's description.
LONG_TITLE = "Un mañana mejor — تعاون الجنوب 南南合作 — Сотрудничество Юг-Юг; a, b\\c " * 3
NOW = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
START = datetime(2030, 9, 12, 14, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")


# --- Calendars -----------------------------------------------------------------------------------


def _item(**changes) -> CalendarItem:
    fields = dict(
        uid="event-0000@convene.example.org",
        sequence=3,
        summary=LONG_TITLE,
        starts_at=START,
        ends_at=START + timedelta(hours=3),
        description="Line one\nLine two; with a comma, a backslash \\ and 南南合作\n\nAgenda",
        location="United Nations Headquarters, New York",
        url="https://webtv.example.org/live",
    )
    return CalendarItem(**{**fields, **changes})


def _calendar(**changes) -> dict:
    arguments = dict(
        method="REQUEST",
        items=[_item()],
        tzid="America/New_York",
        now=NOW,
        organizer=Party(email="events@convene.localhost", name="Convene, UN; Events"),
        attendee=Party(email="nadia@example.org", name=NAMES["ar"]),
        alarm_minutes_before=30,
        calendar_name=LONG_TITLE,
    )
    return {**arguments, **changes}


def _both_ways(arguments: dict) -> tuple[bytes, bytes]:
    return build_calendar(**arguments), build_calendar_uncached(**arguments)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("method", ["REQUEST", "CANCEL", "PUBLISH"])
def test_cached_calendar_is_what_icalendar_writes_for_each_attendee(method, language):
    ical._calendar_layout.cache_clear()
    first = _calendar(method=method, attendee=Party(email="a@example.org", name=NAMES[language]))
    # The next attendee of the same event takes the layout from the cache.
    second = _calendar(
        method=method,
        attendee=Party(email=f"{language}.b@例え.jp", name=NAMES[language] + " " + LONG_TITLE),
        now=NOW + timedelta(seconds=1),
    )

    cached_first, uncached_first = _both_ways(first)
    cached_second, uncached_second = _both_ways(second)

    assert cached_first == uncached_first
    assert cached_second == uncached_second
    assert ical._calendar_layout.cache_info().hits >= 1


@pytest.mark.parametrize(
    "changes",
    [
        {"attendee": None},
        {"organizer": None},
        {"alarm_minutes_before": None},
        {"calendar_name": ""},
        {"items": []},
        {"items": [_item(), _item(uid="session-1@convene.example.org", summary="Panel", sequence=0)]},
        # Offsets other than UTC, a zone with a half-hour offset, an item given in another zone.
        {"tzid": "Asia/Kolkata", "items": [_item(starts_at=START.astimezone(ZoneInfo("Asia/Tokyo")))]},
        {"tzid": "UTC"},
        {"items": [_item(description="", location="", url="", status="tentative")]},
    ],
    ids=lambda changes: "-".join(changes) or "all",
)
def test_cached_calendar_is_what_icalendar_writes_in_every_shape(changes):
    cached, uncached = _both_ways(_calendar(**changes))
    again, _uncached = _both_ways(_calendar(**changes))

    assert cached == uncached
    assert again == uncached


@pytest.mark.parametrize(
    "changes",
    [
        {"summary": "A new title"},
        {"starts_at": START + timedelta(minutes=30)},
        {"ends_at": START + timedelta(hours=4)},
        {"sequence": 4},
        {"description": "Another description"},
        {"location": "Conference Room 4"},
        {"url": "https://webtv.example.org/other"},
        {"status": "TENTATIVE"},
        {"uid": "event-0001@convene.example.org"},
    ],
    ids=lambda changes: "-".join(changes),
)
def test_a_changed_event_gets_a_fresh_invite(changes):
    before, _uncached = _both_ways(_calendar())
    arguments = _calendar(items=[_item(**changes)])

    after, uncached_after = _both_ways(arguments)

    assert after == uncached_after
    assert after != before


@pytest.mark.parametrize(
    "changes",
    [
        {"tzid": "Europe/Paris"},
        {"method": "CANCEL"},
        {"organizer": Party(email="other@convene.localhost", name="Other")},
        {"alarm_minutes_before": 15},
        {"calendar_name": "Another name"},
    ],
    ids=lambda changes: "-".join(changes),
)
def test_a_changed_calendar_gets_a_fresh_invite(changes):
    before, _uncached = _both_ways(_calendar())

    after, uncached_after = _both_ways(_calendar(**changes))

    assert after == uncached_after
    assert after != before


def test_the_two_times_of_a_fall_back_hour_get_their_own_invites():
    # 01:30 happens twice in New York on 3 November 2024: local times that compare equal.
    first = datetime(2024, 11, 3, 1, 30, tzinfo=NEW_YORK)
    second = first.replace(fold=1)
    earlier = _calendar(items=[_item(starts_at=first, ends_at=first + timedelta(hours=2))])
    later = _calendar(items=[_item(starts_at=second, ends_at=second + timedelta(hours=2))])

    cached_earlier, uncached_earlier = _both_ways(earlier)
    cached_later, uncached_later = _both_ways(later)

    assert cached_earlier == uncached_earlier
    assert cached_later == uncached_later
    assert cached_later != cached_earlier


def test_the_time_zone_covers_the_years_of_the_items_own_zones():
    # 31 December 2024 in New York is 2025 in UTC: the VTIMEZONE starts from 2023 either way.
    evening = datetime(2024, 12, 31, 20, 0, tzinfo=NEW_YORK)

    cached, uncached = _both_ways(_calendar(items=[_item(starts_at=evening, ends_at=evening)]))

    assert cached == uncached


def test_the_stamp_is_written_to_the_second_as_icalendar_writes_it():
    for microsecond in (0, 1, 999999):
        arguments = _calendar(now=NOW.replace(microsecond=microsecond).astimezone(NEW_YORK))

        cached, uncached = _both_ways(arguments)

        assert cached == uncached
        assert b"DTSTAMP:20300102T030405Z\r\n" in cached


# --- Date texts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_cached_date_texts_are_what_babel_writes(language):
    ranges = [
        (START, START + timedelta(hours=3)),
        (START, START + timedelta(hours=12)),  # crosses midnight in Tokyo
        (datetime(2024, 11, 3, 5, 30, tzinfo=UTC), datetime(2024, 11, 3, 6, 30, tzinfo=UTC)),  # fall-back
    ]
    zones = [None, "America/New_York", "Africa/Dakar", "Asia/Tokyo", "Asia/Kathmandu", "Pacific/Kiritimati"]
    with translation.override(language):
        for (starts_at, ends_at), viewer_zone in itertools.product(ranges, zones):
            arguments = dict(venue_zone="America/New_York", viewer_zone=viewer_zone, language=language)

            cached = format_when_parts(starts_at, ends_at, **arguments)
            again = format_when_parts(starts_at, ends_at, **arguments)

            assert cached == again == format_when_parts_uncached(starts_at, ends_at, **arguments)


def test_cached_date_texts_follow_the_active_translation():
    arguments = dict(venue_zone="America/New_York", viewer_zone="Asia/Tokyo", language="en")
    texts = {}
    for active in ("en", "fr"):
        with translation.override(active):
            texts[active] = format_when_parts(START, START + timedelta(hours=3), **arguments)
            assert texts[active] == format_when_parts_uncached(START, START + timedelta(hours=3), **arguments)

    assert texts["en"] != texts["fr"]  # "your time" / "votre heure" around the same dates


def test_cached_date_texts_tell_the_two_times_of_a_fall_back_hour_apart():
    first = datetime(2024, 11, 3, 1, 30, tzinfo=NEW_YORK)
    arguments = dict(venue_zone="America/New_York", viewer_zone="Europe/London", language="en")
    with translation.override("en"):
        earlier = format_when_parts(first, first + timedelta(hours=1), **arguments)
        later = format_when_parts(
            first.replace(fold=1), first.replace(fold=1) + timedelta(hours=1), **arguments
        )

    assert earlier == format_when_parts_uncached(first, first + timedelta(hours=1), **arguments)
    assert later != earlier


# --- Shared template parts -------------------------------------------------------------------------


def _rendered_twice(source: str, context: dict) -> tuple[str, str]:
    """`source` with its shared parts cached (rendered twice: the second time from the cache),
    and with them as plain includes."""
    page = Template("{% load shared_parts %}" + source)
    page.render(Context(context))
    cached = page.render(Context(context))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SharedIncludeNode, "render", _plain_include)
        plain = page.render(Context(context))
    return cached, plain


WHEN_PART = '{% include_shared "notifications/email/_when.txt" when online venue webcast_url %}'
WHEN_HTML_PART = (
    '{% include_shared "notifications/email/_when.html" when when_parts online venue webcast_url align %}'
)
WHEN = dict(when="12 September", online=False, venue="UN <Headquarters> & Co", webcast_url="")


def test_a_shared_part_is_rendered_in_the_active_language():
    texts = {}
    for language in ("en", "fr"):
        with translation.override(language):
            texts[language], plain = _rendered_twice(WHEN_PART, WHEN)
            assert texts[language] == plain

    assert texts["en"] != texts["fr"]


def test_a_shared_part_is_escaped_as_its_page_is():
    pages = {}
    for autoescape in ("on", "off"):
        with translation.override("en"):
            source = f"{{% autoescape {autoescape} %}}{WHEN_HTML_PART}{{% endautoescape %}}"
            pages[autoescape], plain = _rendered_twice(source, WHEN)
            assert pages[autoescape] == plain

    assert "UN &lt;Headquarters&gt; &amp; Co" in pages["on"]
    assert "UN <Headquarters> & Co" in pages["off"]


def test_a_shared_part_is_rendered_again_for_other_values():
    online = {**WHEN, "online": True, "webcast_url": "https://webtv.example.org/live"}
    with translation.override("en"):
        first, _plain = _rendered_twice(WHEN_PART, WHEN)
        second, plain = _rendered_twice(WHEN_PART, online)

    assert second == plain
    assert second != first


# --- Writing a message ----------------------------------------------------------------------------


@given(text=st.text(alphabet=st.sampled_from("ab é南\r\n\t.="), max_size=300))
def test_the_whole_body_generator_writes_what_the_line_by_line_one_writes(text):
    part = SafeMIMEText(text, "plain", "utf-8")

    def written(generator_class) -> bytes:
        out = BytesIO()
        generator_class(out, mangle_from_=False).flatten(part, linesep="\r\n")
        return out.getvalue()

    assert written(_BytesGeneratorWritingBodiesWhole) == written(BytesGenerator)


class _StockCalendarEmail(CalendarEmail):
    """The message as it was built before the shortcuts: the From header from `from_email`, the
    envelope parsed from the addresses, Django's own classes and generator for the outer part."""

    _create_message = EmailMultiAlternatives._create_message
    recipients = EmailMultiAlternatives.recipients

    def __init__(self, *, headers, **kwargs):
        kwargs["from_email"] = settings.DEFAULT_FROM_EMAIL
        super().__init__(headers={k: v for k, v in headers.items() if k != "From"}, **kwargs)


@pytest.fixture
def fixed_clock(monkeypatch):
    """DTSTAMP, Date and the MIME boundaries made the same in both builds of a message."""
    monkeypatch.setattr(notification_messages, "_now", lambda: NOW)
    monkeypatch.setattr("django.core.mail.message.formatdate", lambda **kw: "Wed, 02 Jan 2030 03:04:05 -0000")

    def boundaries():
        counter = itertools.count()
        # Only the boundaries: the module's own `secrets`, not the one every other module uses.
        fake = SimpleNamespace(token_hex=lambda n: f"{next(counter):0{2 * n}x}")
        monkeypatch.setattr(notification_messages, "secrets", fake)

    return boundaries


def _plain_include(node, context) -> str:
    # What `{% include %}` does: the part sees the whole context, and is rendered every time.
    part = context.template.engine.get_template(node.template_name)
    with context.push():
        return part.render(context)


@pytest.fixture
def stock():
    """Within `with stock():`, messages are built without any of the shortcuts."""

    @contextmanager
    def stock_paths():
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(notification_messages, "CalendarEmail", _StockCalendarEmail)
            patch.setattr(notification_messages, "build_calendar", build_calendar_uncached)
            patch.setattr(notification_messages, "format_when_parts", format_when_parts_uncached)
            patch.setattr(formatting, "format_when_parts", format_when_parts_uncached)
            patch.setattr(SharedIncludeNode, "render", _plain_include)
            yield

    return stock_paths


def _written(notification, boundaries) -> tuple[bytes, object]:
    boundaries()
    message = build_message(notification)
    return message.message().as_bytes(linesep="\r\n"), message


def _registration_notification(
    kind: str, language: str, title: str = LONG_TITLE, attendance: str = "in_person"
) -> Notification:
    status, _method, _badge = REGISTRATION_KINDS[kind]
    if kind == "agenda_update":
        event, *_rest, version = _published_event()
        event.title = title
        event.save()
        notification_version = version.number
    else:
        event, notification_version = _event(title=title, description="Line one\nLine two"), 1
    registration = RegistrationFactory(
        event=event,
        full_name=NAMES[language],
        organisation="Ministère <du> Plan",
        language=language,
        timezone="Asia/Tokyo",
        attendance=attendance,
        status=status,
        waitlist_position=3 if status == "waitlisted" else None,
        invite_sequence=1 if status == "cancelled" else 0,
        decision_reason="Capacity reserved for delegations" if status == "rejected" else "",
    )
    return _notification(registration, kind=kind, version=notification_version)


@pytest.mark.django_db
@pytest.mark.parametrize("attendance", ["in_person", "online"])
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(REGISTRATION_KINDS))
def test_every_kind_and_language_is_written_as_the_stock_path_writes_it(
    kind, language, attendance, fixed_clock, stock
):
    notification = _registration_notification(kind, language, attendance=attendance)

    fast, _message = _written(notification, fixed_clock)
    with stock():
        slow, _message = _written(notification, fixed_clock)

    assert fast == slow


@pytest.mark.django_db
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("subject_type", ["session", "speaker"])
def test_speaker_invites_are_written_as_the_stock_path_writes_them(
    subject_type, language, fixed_clock, stock
):
    event, _opening, panel, speaker, _version = _published_event()
    speaker.language, speaker.name = language, NAMES[language]
    speaker.save()
    notification = Notification.objects.create(
        event=event,
        kind="speaker_invite",
        recipient_email=speaker.email,
        recipient_name=speaker.name,
        language=language,
        subject_type=subject_type,
        subject_id=panel.id if subject_type == "session" else speaker.id,
        version="1",
    )

    fast, _message = _written(notification, fixed_clock)
    with stock():
        slow, _message = _written(notification, fixed_clock)

    assert fast == slow


def _invite_of(written: bytes) -> str:
    parsed = email.message_from_bytes(written, policy=email.policy.default)
    (part,) = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
    return part.get_content()


@pytest.mark.django_db
def test_a_moved_retitled_event_reaches_the_next_confirmation(fixed_clock, stock):
    event = _event(title="The first title")
    first = _notification(RegistrationFactory(event=event, language="fr"))
    before, _message = _written(first, fixed_clock)
    event.title = "The second title"
    event.starts_at += timedelta(hours=1)
    event.ends_at += timedelta(hours=1)
    event.sequence += 1
    event.save()
    second = _notification(RegistrationFactory(event=event, language="fr"))

    after, _message = _written(second, fixed_clock)
    with stock():
        slow, _message = _written(second, fixed_clock)

    assert after == slow
    invite = _invite_of(after)
    assert "SUMMARY:The second title" in invite
    assert "DTSTART;TZID=America/New_York:20300912T110000" in invite
    assert "SEQUENCE:1" in invite
    assert "The first title" not in invite
    assert "SEQUENCE:0" in _invite_of(before)


class _Envelopes:
    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.received.append((envelope.mail_from, envelope.rcpt_tos, envelope.original_content))
        return "250 OK"


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "ar", "zh"])
def test_the_smtp_server_receives_the_same_envelope_and_data(language, fixed_clock, stock):
    notification = _registration_notification("confirmation", language)
    handler = _Envelopes()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        _fast, message = _written(notification, fixed_clock)
        with stock():
            _slow, stock_message = _written(notification, fixed_clock)
        for each in (message, stock_message):
            fixed_clock()  # the same boundaries for both
            with EmailBackend(host="127.0.0.1", port=port) as backend:
                assert backend.send_messages([each]) == 1
    finally:
        controller.stop()

    (fast_envelope, stock_envelope) = handler.received
    assert fast_envelope == stock_envelope
    assert fast_envelope[:2] == (parseaddr(settings.DEFAULT_FROM_EMAIL)[1], [notification.recipient_email])


@pytest.mark.django_db
def test_a_row_without_an_address_still_has_no_recipients(fixed_clock, stock):
    notification = _registration_notification("confirmation", "en")
    notification.recipient_email = ""
    notification.save()

    _fast, message = _written(notification, fixed_clock)
    with stock():
        _slow, stock_message = _written(notification, fixed_clock)

    assert message.recipients() == stock_message.recipients() == []
