"""build_message: every kind renders from the database at send time, as real MIME that clients
parse, with the invite (iTIP) and the badge; checked through a real SMTP server on loopback."""

from __future__ import annotations

import email
import email.policy
import io
from datetime import UTC, datetime, timedelta

import pytest
import vobject
from django.conf import settings
from django.core.cache import cache
from django.core.mail import get_connection
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from notifications.messages import MessageObsolete, build_message
from notifications.models import Notification
from registrations.badge_tokens import verify_badge_token
from registrations.manage_tokens import manage_url, token_for_salt
from tests.factories import EventFactory, RegistrationFactory

pytestmark = pytest.mark.django_db

EVENT_START = datetime(2030, 9, 12, 14, 0, tzinfo=UTC)  # 10:00 in New York (EDT)
EVENT_END = EVENT_START + timedelta(hours=3)


def _event(**kwargs):
    defaults = dict(
        title="A Better Tomorrow with South-South Cooperation",
        venue="United Nations Headquarters, New York",
        timezone="America/New_York",
        starts_at=EVENT_START,
        ends_at=EVENT_END,
        webcast_url="https://webtv.example.org/live",
    )
    return EventFactory(**{**defaults, **kwargs})


def _notification(registration, kind="confirmation", version=None, **kwargs) -> Notification:
    return Notification.objects.create(
        event=registration.event,
        kind=kind,
        recipient_email=registration.email,
        recipient_name=registration.full_name,
        language=registration.language,
        subject_type="registration",
        subject_id=registration.id,
        version=str(version if version is not None else registration.invite_sequence),
        **kwargs,
    )


def parse(message) -> email.message.EmailMessage:
    """The bytes a mail server receives, parsed back by the standard library."""
    return email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)


def subject_of(parsed) -> str:
    # Django folds a non-ASCII subject onto a continuation line: the unfolded value starts
    # with the folding white space, which readers ignore (RFC 5322 §2.2.3).
    return str(parsed["Subject"]).strip()


def parts_by_type(parsed) -> dict[str, list]:
    found: dict[str, list] = {}
    for part in parsed.walk():
        found.setdefault(part.get_content_type(), []).append(part)
    return found


def attachment_names(parsed) -> list[str]:
    return sorted(part.get_filename() for part in parsed.iter_attachments() if part.get_filename())


def decode_qr(png: bytes) -> str:
    import zxingcpp

    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1
    return results[0].text


def test_confirmation_in_english_has_text_html_invite_and_badge():
    event = _event()
    registration = RegistrationFactory(
        event=event,
        full_name="Amina Diallo",
        language="en",
        timezone="Australia/Sydney",
        email="amina@example.org",
    )

    message = build_message(_notification(registration))
    parsed = parse(message)

    assert (
        subject_of(parsed) == "Your registration is confirmed: A Better Tomorrow with South-South Cooperation"
    )
    assert parsed["To"].addresses[0].addr_spec == "amina@example.org"
    assert parsed.get_content_type() == "multipart/mixed"
    types = parts_by_type(parsed)
    alternative = types["multipart/alternative"][0]
    assert [p.get_content_type() for p in alternative.iter_parts()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    calendar_part = types["text/calendar"][0]
    assert calendar_part.get_param("method") == "REQUEST"
    assert calendar_part.get_content_charset() == "utf-8"
    assert attachment_names(parsed) == ["badge.png", "invite.ics"]

    text = types["text/plain"][0].get_content()
    assert "Dear Amina Diallo," in text
    # Venue time and the attendee's own time, computed independently: 14:00 UTC = 10:00 EDT = 00:00 AEST.
    venue = "Thursday 12 September, 10:00–13:00 New York (EDT)"
    viewer = "Friday 13 September, 00:00–03:00 your time (Sydney)"
    assert f"{venue} · {viewer}" in text
    assert manage_url(token_for_salt(registration.manage_token_salt)) in text

    ics = calendar_part.get_content()
    invite = vobject.readOne(ics)
    assert invite.method.value == "REQUEST"
    vevent = invite.vevent
    assert vevent.uid.value == f"event-{event.uid}@{settings.PUBLIC_HOST}"
    assert vevent.dtstart.value.astimezone(UTC) == EVENT_START
    assert vevent.dtend.value.astimezone(UTC) == EVENT_END
    assert vevent.attendee.value == "mailto:amina@example.org"
    assert vevent.attendee.params["RSVP"] == ["FALSE"]
    assert vevent.valarm.trigger.value == -timedelta(minutes=30)

    png = next(p for p in parsed.iter_attachments() if p.get_filename() == "badge.png").get_content()
    payload = verify_badge_token(decode_qr(png))
    assert (payload.event_id, payload.registration_id, payload.counter) == (
        event.id,
        registration.id,
        registration.badge_counter,
    )


@pytest.mark.parametrize("language", ["en", "ar", "zh"])
def test_confirmation_delivered_over_smtp_keeps_mime_parameters(smtp_server, language):
    registration = RegistrationFactory(
        event=_event(), language=language, email="smtp@example.org", full_name="فاطمة 王小明"
    )
    built = parse(build_message(_notification(registration)))

    with get_connection() as connection:
        build_message(_notification(registration, version=9), connection=connection).send()

    (received,) = smtp_server.inbox.to("smtp@example.org")
    assert subject_of(received) == subject_of(built)
    assert received["To"].addresses[0].display_name == "فاطمة 王小明"
    text = parts_by_type(received)["text/plain"][0].get_content().replace("\r\n", "\n")  # SMTP: CRLF
    assert text == parts_by_type(built)["text/plain"][0].get_content()
    calendar_part = parts_by_type(received)["text/calendar"][0]
    assert calendar_part.get_param("method") == "REQUEST"
    assert vobject.readOne(calendar_part.get_content()).vevent.dtstart.value.astimezone(UTC) == EVENT_START
    assert attachment_names(received) == ["badge.png", "invite.ics"]
    png = next(p for p in received.iter_attachments() if p.get_filename() == "badge.png").get_content()
    assert verify_badge_token(decode_qr(png)).registration_id == registration.id


def test_confirmation_for_a_cancelled_registration_is_obsolete():
    registration = RegistrationFactory(event=_event(), status="cancelled")

    with pytest.raises(MessageObsolete):
        build_message(_notification(registration))


@override_settings(BADGE_PDF_IN_EMAIL=False)
def test_confirmation_online_attendee_gets_webcast_link_not_badge():
    registration = RegistrationFactory(event=_event(), attendance="online", language="en")

    parsed = parse(build_message(_notification(registration)))

    assert attachment_names(parsed) == ["invite.ics"]
    text = parts_by_type(parsed)["text/plain"][0].get_content()
    assert "https://webtv.example.org/live" in text
    vevent = vobject.readOne(parts_by_type(parsed)["text/calendar"][0].get_content()).vevent
    assert vevent.location.value == "https://webtv.example.org/live"


# --- Every kind, every language -----------------------------------------------------------------

LANGUAGES = ["en", "fr", "es", "ar", "zh", "ru"]
REGISTRATION_KINDS = {
    # kind: (status at send time, iTIP method of the attached invite or None, carries a badge)
    "confirmation": ("confirmed", "REQUEST", True),
    "waitlisted": ("waitlisted", None, False),
    "promoted": ("confirmed", "REQUEST", True),
    "pending_approval": ("pending_approval", None, False),
    "approved": ("confirmed", "REQUEST", True),
    "rejected": ("rejected", None, False),
    "cancelled": ("cancelled", "CANCEL", False),
    "already_registered": ("confirmed", None, False),
    "agenda_update": ("confirmed", "REQUEST", False),
    "reminder": ("confirmed", None, True),
}
CONFIRMATION_SUBJECTS = {
    "en": "Your registration is confirmed: {title}",
    "fr": "Votre inscription est confirmée : {title}",
    "es": "Su inscripción está confirmada: {title}",
    "ar": "تم تأكيد تسجيلك: {title}",
    "zh": "您的报名已确认：{title}",
    "ru": "Ваша регистрация подтверждена: {title}",
}
# 14:00 UTC in Dakar (UTC+0, the attendee) and New York (EDT, the venue), per language.
VENUE_TIME = {
    "en": "10:00–13:00 New York (EDT)",
    "fr": "10:00\u2009–\u200913:00, heure de New York (EDT)",  # CLDR: thin spaces around the dash
    "es": "10:00–13:00, hora de Nueva York (EDT)",
    "ar": "10:00–13:00 بتوقيت نيويورك (EDT)",
    "zh": "纽约时间",
    "ru": "по времени города Нью-Йорк (EDT)",
}
VIEWER_TIME = {
    "en": "14:00–17:00 your time (Dakar)",
    "fr": "14:00\u2009–\u200917:00, votre heure (Dakar)",
    "es": "14:00–17:00, su hora (Dakar)",
    "ar": "14:00–17:00 بتوقيتك (داكار)",
    "zh": "您的当地时间（达喀尔）9月12日星期四 14:00–17:00",
    "ru": "14:00—17:00 по вашему времени (Дакар)",
}


def _published_event():
    """An event with a published agenda, then a second publish that moved one session."""
    from sessions.services import agenda_publish
    from tests.factories import RoomFactory, SessionFactory, SpeakerFactory

    event = _event()
    room = RoomFactory(event=event, name="Conference Room 4")
    opening = SessionFactory(event=event, title="Opening", room=room, starts_at=EVENT_START)
    panel = SessionFactory(
        event=event, title="Panel", room=room, starts_at=EVENT_START + timedelta(minutes=30)
    )
    speaker = SpeakerFactory(event=event, name="Chen Wei", language="zh", timezone="Asia/Shanghai")
    panel.session_speakers.create(speaker=speaker, role="moderator")
    agenda_publish(event=event)
    panel.starts_at = EVENT_START + timedelta(hours=1)
    panel.ends_at = panel.starts_at + timedelta(minutes=45)
    panel.save()
    version = agenda_publish(event=event)
    return event, opening, panel, speaker, version


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(REGISTRATION_KINDS))
def test_registration_kind_renders_in_language(kind, language):
    status, method, has_badge = REGISTRATION_KINDS[kind]
    if kind == "agenda_update":
        event, *_rest, version = _published_event()
        notification_version = version.number
    else:
        event, notification_version = _event(), 1
    registration = RegistrationFactory(
        event=event,
        full_name="Nadia <b>Haddad</b> & Co",
        organisation="Ministère <du> Plan",
        language=language,
        timezone="Africa/Dakar",
        status=status,
        waitlist_position=3 if status == "waitlisted" else None,
        invite_sequence=1 if status == "cancelled" else 0,
        decision_reason="Capacity reserved for delegations" if status == "rejected" else "",
    )
    notification = _notification(registration, kind=kind, version=notification_version)

    parsed = parse(build_message(notification))

    subject = subject_of(parsed)
    assert "\n" not in subject and "\r" not in subject
    assert event.title in subject
    if kind == "confirmation":
        assert subject == CONFIRMATION_SUBJECTS[language].format(title=event.title)
    types = parts_by_type(parsed)
    text = types["text/plain"][0].get_content()
    html = types["text/html"][0].get_content()
    assert types["text/plain"][0].get_content_charset() == "utf-8"
    # The raw name in the text part, escaped in HTML.
    assert "Nadia <b>Haddad</b> & Co" in text
    assert "Nadia &lt;b&gt;Haddad&lt;/b&gt; &amp; Co" in html
    assert "<b>Haddad</b>" not in html
    direction = "rtl" if language == "ar" else "ltr"
    assert f'<html lang="{language}" dir="{direction}">' in html
    assert parsed["Content-Language"] == language
    if kind not in {"rejected", "cancelled"}:
        assert VENUE_TIME[language] in text
        assert VIEWER_TIME[language] in text
    if kind == "waitlisted":
        assert "3" in text

    if method is None:
        assert "text/calendar" not in types
    else:
        (calendar_part,) = types["text/calendar"]
        assert calendar_part.get_param("method") == method
        assert calendar_part.get_content_charset() == "utf-8"
        invite = vobject.readOne(calendar_part.get_content())
        assert invite.method.value == method
        assert invite.vevent.uid.value == f"event-{event.uid}@{settings.PUBLIC_HOST}"
        assert invite.vevent.dtstart.value.astimezone(UTC) == EVENT_START
    expected_files = (["badge.png"] if has_badge else []) + (["invite.ics"] if method else [])
    assert attachment_names(parsed) == sorted(expected_files)


def test_every_language_gives_a_different_subject():
    event = _event()
    subjects = set()
    for position, language in enumerate(LANGUAGES, start=1):
        registration = RegistrationFactory(
            event=event, language=language, status="waitlisted", waitlist_position=position
        )
        subjects.add(subject_of(parse(build_message(_notification(registration, kind="waitlisted")))))
    assert len(subjects) == len(LANGUAGES)


def test_subject_stays_one_line_when_the_title_holds_line_breaks():
    event = _event(title="Panel\r\nBcc: victim@example.org")
    registration = RegistrationFactory(event=event, language="en")

    raw = build_message(_notification(registration)).message().as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)

    assert subject_of(parsed) == "Your registration is confirmed: Panel Bcc: victim@example.org"
    assert parsed["Bcc"] is None
    headers = raw.split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in headers


def test_cancellation_cancels_the_same_uid_with_a_higher_sequence():
    from tests.sessions.ical_parsers import parse_with_vobject

    event = _event()
    registration = RegistrationFactory(event=event, language="en")
    confirmation = parse(build_message(_notification(registration)))
    registration.status = "cancelled"
    registration.invite_sequence = 1
    registration.save()

    cancellation = parse(build_message(_notification(registration, kind="cancelled")))

    before = parse_with_vobject(parts_by_type(confirmation)["text/calendar"][0].get_content().encode())
    after = parse_with_vobject(parts_by_type(cancellation)["text/calendar"][0].get_content().encode())
    assert after["method"] == "CANCEL"
    assert after["events"][0]["uid"] == before["events"][0]["uid"]
    assert after["events"][0]["sequence"] > before["events"][0]["sequence"]
    assert after["events"][0]["status"] == "CANCELLED"
    assert parts_by_type(cancellation)["text/calendar"][0].get_param("method") == "CANCEL"


def test_invite_gives_the_same_instant_in_independent_parsers():
    from tests.sessions.ical_parsers import icaljs_available, parse_with_icaljs, parse_with_vobject

    registration = RegistrationFactory(event=_event(), language="en", timezone="Asia/Kathmandu")
    ics = parts_by_type(parse(build_message(_notification(registration))))["text/calendar"][0].get_content()

    readers = [parse_with_vobject]
    if icaljs_available():
        readers.append(parse_with_icaljs)
    for reader in readers:
        event = reader(ics.encode())["events"][0]
        assert (event["start_utc"], event["end_utc"]) == (
            int(EVENT_START.timestamp()),
            int(EVENT_END.timestamp()),
        ), reader.__name__


def test_agenda_update_has_higher_sequence_and_lists_the_change():
    event, _opening, panel, _speaker, version = _published_event()
    registration = RegistrationFactory(event=event, language="en", timezone="America/New_York")
    before_sequence = registration.invite_sequence + event.sequence  # what a first invite carried (v0)

    parsed = parse(build_message(_notification(registration, kind="agenda_update", version=version.number)))

    text = parts_by_type(parsed)["text/plain"][0].get_content()
    # Moved from 10:30 to 11:00 New York time; the attendee is in New York: one time only.
    assert "New time for Panel: Thursday 12 September, 11:00–11:45 New York (EDT)." in text
    assert "your time" not in text
    invite = vobject.readOne(parts_by_type(parsed)["text/calendar"][0].get_content())
    assert int(invite.vevent.sequence.value) > before_sequence
    assert invite.method.value == "REQUEST"


def test_agenda_update_for_waitlisted_attendee_sends_no_invite():
    event, *_rest, version = _published_event()
    registration = RegistrationFactory(event=event, status="waitlisted", waitlist_position=1, language="en")

    parsed = parse(build_message(_notification(registration, kind="agenda_update", version=version.number)))

    assert "text/calendar" not in parts_by_type(parsed)
    assert attachment_names(parsed) == []


def test_speaker_invite_one_vevent_per_session_in_speaker_language_and_zone():
    from tests.sessions.ical_parsers import parse_with_vobject

    event, _opening, panel, speaker, version = _published_event()
    notification = Notification.objects.create(
        event=event,
        kind="speaker_invite",
        recipient_email=speaker.email,
        recipient_name=speaker.name,
        language=speaker.language,
        subject_type="session",
        subject_id=panel.id,
        version="1",
    )

    parsed = parse(build_message(notification))

    assert subject_of(parsed) == f"您在{event.title}的会议：Panel"
    text = parts_by_type(parsed)["text/plain"][0].get_content()
    # 15:00 UTC: 11:00 in New York, 23:00 in Shanghai.
    assert "纽约时间 9月12日星期四 11:00–11:45（EDT）" in text
    assert "您的当地时间（上海）9月12日星期四 23:00–23:45" in text
    assert "主持人" in text  # the role, translated
    calendar = parse_with_vobject(parts_by_type(parsed)["text/calendar"][0].get_content().encode())
    assert calendar["method"] == "REQUEST"
    (session_event,) = calendar["events"]
    panel_entry = next(s for s in version.sessions if s["id"] == panel.id)
    assert session_event["uid"] == f"session-{panel.uid}@{settings.PUBLIC_HOST}"
    assert session_event["sequence"] == panel_entry["sequence"] == 1
    assert session_event["start_utc"] == int((EVENT_START + timedelta(hours=1)).timestamp())


def test_speaker_invite_for_removed_session_cancels_with_higher_sequence():
    from sessions.services import agenda_publish
    from tests.sessions.ical_parsers import parse_with_vobject

    event, _opening, panel, speaker, version = _published_event()
    last_sequence = next(s for s in version.sessions if s["id"] == panel.id)["sequence"]
    panel_id, panel_uid = panel.id, panel.uid
    panel.delete()
    agenda_publish(event=event)
    notification = Notification.objects.create(
        event=event,
        kind="speaker_invite",
        recipient_email=speaker.email,
        language="en",
        subject_type="session",
        subject_id=panel_id,
        version=str(last_sequence + 1),
    )

    parsed = parse(build_message(notification))

    calendar = parse_with_vobject(parts_by_type(parsed)["text/calendar"][0].get_content().encode())
    assert calendar["method"] == "CANCEL"
    assert calendar["events"][0]["uid"] == f"session-{panel_uid}@{settings.PUBLIC_HOST}"
    assert calendar["events"][0]["sequence"] == last_sequence + 1
    assert subject_of(parsed).startswith("已取消：Panel")


def test_reminder_online_attendee_gets_link_and_no_attachments():
    registration = RegistrationFactory(event=_event(), attendance="online", language="es")

    parsed = parse(build_message(_notification(registration, kind="reminder")))

    assert attachment_names(parsed) == []
    assert "https://webtv.example.org/live" in parts_by_type(parsed)["text/plain"][0].get_content()


def test_already_registered_repeats_the_manage_link_and_status():
    registration = RegistrationFactory(
        event=_event(), language="en", status="waitlisted", waitlist_position=2
    )

    parsed = parse(build_message(_notification(registration, kind="already_registered")))

    text = parts_by_type(parsed)["text/plain"][0].get_content()
    assert manage_url(token_for_salt(registration.manage_token_salt)) in text
    assert "Status of your registration: on the waiting list." in text


def test_message_for_a_deleted_registration_is_obsolete():
    registration = RegistrationFactory(event=_event())
    notification = _notification(registration)
    notification.subject_id = registration.id + 1000

    with pytest.raises(MessageObsolete):
        build_message(notification)


def test_confirmation_for_a_name_without_glyphs_still_sends_the_qr():
    registration = RegistrationFactory(event=_event(), full_name="Ada \U0001f680", language="en")

    parsed = parse(build_message(_notification(registration)))

    assert attachment_names(parsed) == ["badge.png", "invite.ics"]


def test_speaker_subject_gets_one_vevent_per_session_they_speak_in():
    from sessions.services import agenda_publish
    from tests.sessions.ical_parsers import parse_with_vobject

    event, opening, panel, speaker, _version = _published_event()
    opening.session_speakers.create(speaker=speaker, role="chair")
    version = agenda_publish(event=event)
    notification = Notification.objects.create(
        event=event,
        kind="speaker_invite",
        recipient_email=speaker.email,
        language="zh",
        subject_type="speaker",
        subject_id=speaker.id,
        version=str(version.number),
    )

    parsed = parse(build_message(notification))

    calendar = parse_with_vobject(parts_by_type(parsed)["text/calendar"][0].get_content().encode())
    by_uid = {e["uid"]: e for e in calendar["events"]}
    assert sorted(by_uid) == sorted(f"session-{s.uid}@{settings.PUBLIC_HOST}" for s in (opening, panel))
    sequences = {s["uid"]: s["sequence"] for s in version.sessions}
    for session in (opening, panel):
        assert (
            by_uid[f"session-{session.uid}@{settings.PUBLIC_HOST}"]["sequence"] == sequences[str(session.uid)]
        )


def test_waitlisted_message_after_promotion_is_obsolete():
    registration = RegistrationFactory(event=_event(), status="confirmed")

    with pytest.raises(MessageObsolete):
        build_message(_notification(registration, kind="waitlisted"))


def test_organisation_is_escaped_in_html_and_message_has_stable_message_id():
    registration = RegistrationFactory(event=_event(title="R&D <Summit>"), language="en")
    notification = _notification(registration)

    first = parse(build_message(notification))
    second = parse(build_message(notification))

    html = parts_by_type(first)["text/html"][0].get_content()
    assert "R&amp;D &lt;Summit&gt;" in html and "<Summit>" not in html
    assert subject_of(first) == "Your registration is confirmed: R&D <Summit>"
    assert (
        first["Message-ID"]
        == second["Message-ID"]
        == (f"<notification-{notification.pk}.{notification.version}@{settings.PUBLIC_HOST}>")
    )


def test_the_printable_badge_is_a_link_that_serves_the_pdf(client):
    registration = RegistrationFactory(event=_event(), language="fr")

    parsed = parse(build_message(_notification(registration)))

    assert attachment_names(parsed) == ["badge.png", "invite.ics"]
    url = manage_url(token_for_salt(registration.manage_token_salt)) + "badge.pdf"
    assert f"Badge imprimable (PDF) : {url}" in parts_by_type(parsed)["text/plain"][0].get_content()
    assert f'href="{url}"' in parts_by_type(parsed)["text/html"][0].get_content()
    cache.clear()  # the manage endpoints' throttle counts this test client's earlier requests
    response = client.get(url.removeprefix(settings.PUBLIC_BASE_URL))
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    assert response.content.startswith(b"%PDF-")


@override_settings(BADGE_PDF_IN_EMAIL=True)
def test_with_the_pdf_attached_the_email_says_so_and_links_nothing():
    registration = RegistrationFactory(event=_event(), language="en")

    parsed = parse(build_message(_notification(registration)))

    assert attachment_names(parsed) == ["badge.pdf", "badge.png", "invite.ics"]
    text = parts_by_type(parsed)["text/plain"][0].get_content()
    assert "printed (badge.pdf)" in text and "Printable badge (PDF):" not in text
    pdf = next(p for p in parsed.iter_attachments() if p.get_filename() == "badge.pdf").get_content()
    assert pdf.startswith(b"%PDF-")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", ["confirmation", "cancelled", "agenda_update"])
def test_messages_are_written_byte_for_byte_as_compat32_writes_them(kind, language):
    # The message policy writes short one-line ASCII headers directly; whatever it writes must be
    # what the standard compat32 folding writes, for every kind and script.
    status, *_rest = REGISTRATION_KINDS[kind]
    if kind == "agenda_update":
        event, *_rest, version = _published_event()
        notification_version = version.number
    else:
        event, notification_version = _event(title="Un mañana mejor — تعاون الجنوب 南南合作 " * 2), 1
    registration = RegistrationFactory(
        event=event,
        full_name='Nguyễn Thị  Hồng, "the chair" <x@example.org>',
        organisation="Ministère du Plan",
        language=language,
        status=status,
        invite_sequence=1 if status == "cancelled" else 0,
    )
    message = build_message(_notification(registration, kind=kind, version=notification_version)).message()

    written = message.as_bytes(linesep="\r\n")
    message.policy = email.policy.compat32
    assert written == message.as_bytes(linesep="\r\n")


@given(
    name=st.sampled_from(["Subject", "Content-Type", "X-Entry"]),
    value=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=90),
)
def test_the_short_header_path_writes_what_compat32_folding_writes(name, value):
    from notifications.messages import _MESSAGE_POLICY

    policy = _MESSAGE_POLICY.clone(linesep="\r\n")
    assert policy.fold_binary(name, value) == email.policy.compat32.clone(linesep="\r\n").fold_binary(
        name, value
    )
