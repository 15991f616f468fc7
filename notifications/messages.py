"""What Convene sends: one outbox row → one email (HTML + text, invite, badge), at send time.

`build_message` reloads what the row is about (a registration, a session for a speaker) and
renders it as it is *now*: current language, zone, status, manage link, agenda. The calendar
invite comes from `notifications.ical` and the badge from `notifications.badges` (pure
builders); the QR token from `registrations.badge_tokens`.

A row whose message is no longer true (a confirmation for a registration cancelled since, a
subject that was deleted) raises `MessageObsolete`: the sender marks it done without sending.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.generator import NLCRE, BytesGenerator
from email.mime.multipart import MIMEMultipart
from email.policy import Compat32
from email.utils import parseaddr
from functools import lru_cache
from io import BytesIO
from smtplib import quoteaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import SafeMIMEMultipart, forbid_multi_line_headers, sanitize_address
from django.template.loader import render_to_string
from django.utils import timezone as dj_timezone
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from notifications import badges
from notifications.formatting import format_when, format_when_parts, is_rtl, zone_city
from notifications.ical import CalendarItem, Party, build_calendar, event_uid, session_uid
from notifications.models import Notification
from sessions.timezones import is_valid_timezone

Kind = Notification.Kind
logger = logging.getLogger("convene.notifications")

LANGUAGES = tuple(code for code, _name in settings.LANGUAGES)
ALARM_MINUTES = 30

# Kinds that carry the attendee's event-level invite, and with which iTIP method.
INVITE_METHOD = {
    Kind.CONFIRMATION: "REQUEST",
    Kind.PROMOTED: "REQUEST",
    Kind.APPROVED: "REQUEST",
    Kind.AGENDA_UPDATE: "REQUEST",
    Kind.CANCELLED: "CANCEL",
}
# Kinds whose message still makes sense only while the registration has this status.
REQUIRED_STATUS = {
    Kind.CONFIRMATION: {"confirmed"},
    Kind.PROMOTED: {"confirmed"},
    Kind.APPROVED: {"confirmed"},
    Kind.WAITLISTED: {"waitlisted"},
    Kind.PENDING_APPROVAL: {"pending_approval"},
    Kind.REJECTED: {"rejected"},
    Kind.CANCELLED: {"cancelled"},
    Kind.AGENDA_UPDATE: {"confirmed", "waitlisted"},
    Kind.REMINDER: {"confirmed"},
}
# Kinds that carry the entry badge (in-person attendees only).
BADGE_KINDS = {Kind.CONFIRMATION, Kind.PROMOTED, Kind.APPROVED, Kind.REMINDER}

STATUS_LABELS = {
    "pending_approval": gettext_lazy("waiting for the organisers' approval"),
    "confirmed": gettext_lazy("confirmed"),
    "waitlisted": gettext_lazy("on the waiting list"),
    "rejected": gettext_lazy("not accepted"),
    "cancelled": gettext_lazy("cancelled"),
}
CATEGORY_LABELS = {
    "member_state": gettext_lazy("Member State"),
    "un_system": gettext_lazy("UN system"),
    "private_sector": gettext_lazy("Private sector"),
    "civil_society": gettext_lazy("Civil society"),
    "academia": gettext_lazy("Academia"),
    "media": gettext_lazy("Media"),
    "other": gettext_lazy("Participant"),
}
# The colour band on the printed badge: door staff tell categories apart from afar.
CATEGORY_COLOURS = {
    "member_state": "#1F5FA8",
    "un_system": "#009EDB",
    "private_sector": "#6A3D9A",
    "civil_society": "#2E8B3E",
    "academia": "#B8860B",
    "media": "#C0392B",
    "other": "#555555",
}
ROLE_LABELS = {
    "speaker": gettext_lazy("speaker"),
    "moderator": gettext_lazy("moderator"),
    "chair": gettext_lazy("chair"),
}


class MessageObsolete(Exception):
    """The row's message is no longer true (subject gone, status changed): do not send it."""


class _Compat32WritingShortHeadersAsTheyAre(Compat32):
    """The compat32 policy Django's messages carry, without the folding machinery for a header
    that needs none: ASCII, one line, short enough. For those `email.header.Header` gives the
    value back unchanged, after work that took a sixth of the time of writing a message with
    its seven parts and thirty-odd headers. Every other header is folded by compat32 itself."""

    def _fold(self, name, value, sanitize):
        if (
            isinstance(value, str)
            and value.isascii()
            and "\r" not in value
            and "\n" not in value
            and value == value.strip()
            and "  " not in value
            and len(name) + 2 + len(value) <= (self.max_line_length or 78)
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


_MESSAGE_POLICY = _Compat32WritingShortHeadersAsTheyAre()


class _BytesGeneratorWritingBodiesWhole(BytesGenerator):
    """The standard generator, writing each body with one call instead of two per line: the
    same bytes (its lines joined with the line end it would write after each), at a fraction
    of the calls for a message of some two hundred lines."""

    def _write_lines(self, lines):
        if lines:
            # The regular expression only where a CR needs it: most bodies end lines with LF alone.
            self.write(NLCRE.sub(self._NL, lines) if "\r" in lines else lines.replace("\n", self._NL))


@lru_cache(maxsize=256)
def _checked_header(name: str, value: str, encoding: str) -> tuple[str, str]:
    # Django's check also encodes the value: for a non-ASCII subject the email package weighs
    # quoted-printable against base64 character by character. Every attendee of an event in one
    # language has the same subject.
    return forbid_multi_line_headers(name, value, encoding)


class _OutgoingMessage(SafeMIMEMultipart):
    """The outermost part of a message, as Django builds it, with the header check cached and
    the generator above. Django sets the message's headers on this part, and `as_bytes` on it
    is what the SMTP backend sends."""

    def __setitem__(self, name, val):
        name, val = _checked_header(name, str(val), self.encoding)
        MIMEMultipart.__setitem__(self, name, val)

    def as_bytes(self, unixfrom=False, linesep="\n"):
        out = BytesIO()
        _BytesGeneratorWritingBodiesWhole(out, mangle_from_=False).flatten(
            self, unixfrom=unixfrom, linesep=linesep
        )
        return out.getvalue()


class CalendarEmail(EmailMultiAlternatives):
    """An email whose calendar alternative carries the iTIP method as a MIME parameter
    (`text/calendar; method=REQUEST; charset=utf-8`): Outlook shows an invite only then.

    `envelope_to`, when set, holds the bare addresses of `to` for RCPT TO."""

    envelope_to: list[str] | None = None

    def recipients(self):
        if self.envelope_to is None:
            return super().recipients()
        # As (name, address) pairs, which Django's SMTP backend takes as they are: a string it
        # parses again with the header parser. RCPT TO holds the address alone: the same envelope.
        return [("", address) for address in self.envelope_to if address]

    def message(self, *args, **kwargs):
        message = super().message(*args, **kwargs)
        # The generator writes every part with the policy of the message it starts from.
        message.policy = _MESSAGE_POLICY
        for part in message.walk():
            if part.is_multipart() and part.get_boundary() is None:
                # Left unset, the generator draws a boundary and compiles a regular expression
                # with it to prove no line of the body holds it: a quarter of the time it
                # takes to write the message. "=_" cannot occur in base64 or quoted-printable text,
                # and 128 random bits cannot be guessed into a name or a title.
                part.set_boundary(f"=_{secrets.token_hex(16)}")
        return message

    def _create_message(self, msg):
        outermost = super()._create_message(msg)
        if type(outermost) is SafeMIMEMultipart:  # always, with the HTML alternative
            outermost.__class__ = _OutgoingMessage  # a subclass without state of its own
        return outermost

    def _create_mime_attachment(self, content, mimetype):
        base, _sep, params = mimetype.partition(";")
        part = super()._create_mime_attachment(content, base.strip())
        for param in filter(None, (p.strip() for p in params.split(";"))):
            key, _eq, value = param.partition("=")
            part.set_param(key.strip(), value.strip(), requote=False)
        return part


@dataclass
class Attachment:
    filename: str
    content: bytes
    mimetype: str


@dataclass
class Draft:
    kind: str
    language: str
    context: dict
    calendar: bytes | None = None
    calendar_method: str = ""
    attachments: list[Attachment] = field(default_factory=list)


def build_message(notification: Notification, *, connection=None, subjects=None) -> EmailMultiAlternatives:
    """Render the email for one outbox row, reading its subject from the database now (or, in
    a chunk, from the chunk's `selectors.MessageSubjects`, read when the chunk started)."""
    from notifications.selectors import MessageSubjects

    builder = _SUBJECT_BUILDERS.get(notification.subject_type)
    if builder is None:
        raise MessageObsolete(f"unknown subject type {notification.subject_type!r}")
    draft = builder(notification, subjects if subjects is not None else MessageSubjects())
    return _assemble(notification, draft, connection=connection)


def language_for(code: str | None) -> str:
    code = (code or "").split("-")[0].lower()
    return code if code in LANGUAGES else settings.LANGUAGE_CODE


def template_names(kind: str) -> tuple[str, str, str]:
    base = f"notifications/{kind}"
    return f"{base}/subject.txt", f"{base}/body.txt", f"{base}/body.html"


def render_parts(kind: str, language: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) for `kind` in `language`. The subject is one line, always."""
    subject_name, text_name, html_name = template_names(kind)
    with translation.override(language):
        context = {
            **context,
            "lang": language,
            "dir": "rtl" if is_rtl(language) else "ltr",
            "align": "right" if is_rtl(language) else "left",
        }
        subject = render_to_string(subject_name, context)
        context["subject"] = _one_line(subject)
        text = render_to_string(text_name, context)
        html = render_to_string(html_name, context)
    return _one_line(subject), _tidy_text(text), html


def _one_line(text: str) -> str:
    # No CR/LF can reach a header, whatever a name or a title holds.
    return " ".join(text.split())[:250]


def _multiline(text: str) -> str:
    # iCalendar TEXT escapes LF; a bare CR would break the content line.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _tidy_text(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _assemble(notification: Notification, draft: Draft, *, connection) -> EmailMultiAlternatives:
    subject, text, html = render_parts(draft.kind, draft.language, draft.context)
    to_name = _one_line(notification.recipient_name or draft.context.get("name", ""))
    recipient = _address(to_name, notification.recipient_email)
    message = CalendarEmail(
        subject=subject,
        body=text,
        from_email=_envelope_sender(settings.DEFAULT_FROM_EMAIL),
        to=[recipient],
        connection=connection,
        headers={
            "From": settings.DEFAULT_FROM_EMAIL,
            # Stable per row: a redelivered message is recognisably the same message.
            "Message-ID": f"<notification-{notification.pk}.{notification.version}@{settings.PUBLIC_HOST}>",
            "Content-Language": draft.language,
            "Auto-Submitted": "auto-generated",
        },
    )
    message.envelope_to = [notification.recipient_email]
    message.attach_alternative(html, "text/html")
    if draft.calendar is not None:
        ics = draft.calendar.decode("utf-8")
        message.attach_alternative(ics, f"text/calendar; method={draft.calendar_method}")
        # The same invite as a file, for clients that ignore the alternative (as Google sends it).
        message.attach("invite.ics", draft.calendar, "application/ics")
    for attachment in draft.attachments:
        message.attach(attachment.filename, attachment.content, attachment.mimetype)
    return message


@lru_cache(maxsize=8)
def _envelope_sender(from_email: str) -> str | tuple[str, str]:
    """`from_email` as Django's SMTP backend takes it without parsing it for every message: the
    pair ("", its address) when that gives the same MAIL FROM, else the string itself. The From
    header is set from the string (in the headers), so only the envelope sees this."""
    address = parseaddr(from_email)[1]
    if address and _mail_from(("", address)) == _mail_from(from_email):
        return ("", address)
    return from_email


def _mail_from(from_email: str | tuple[str, str]) -> str:
    # What smtplib writes after MAIL FROM: for what Django's backend hands it.
    return quoteaddr(sanitize_address(from_email, settings.DEFAULT_CHARSET))


def _address(name: str, email: str) -> str:
    from email.headerregistry import Address

    if not name:
        return email
    try:
        local, domain = email.rsplit("@", 1)
        return str(Address(display_name=name, username=local, domain=domain))
    except (ValueError, IndexError):
        return email


def _organizer() -> Party:
    return Party(email=settings.CALENDAR_ORGANIZER_EMAIL, name=settings.CALENDAR_ORGANIZER_NAME)


def _now() -> datetime:
    return dj_timezone.now().astimezone(UTC)


# --- Registrations --------------------------------------------------------------------------


def _registration_draft(notification: Notification, subjects) -> Draft:
    kind = notification.kind
    found = subjects.registration_with_agenda(registration_id=notification.subject_id)
    if found is None:
        raise MessageObsolete(f"registration {notification.subject_id} no longer exists")
    registration, latest = found
    required = REQUIRED_STATUS.get(kind)
    if required is not None and registration.status not in required:
        raise MessageObsolete(f"{kind} for a registration that is now {registration.status}")
    event = registration.event
    language = language_for(registration.language or notification.language)
    viewer_zone = registration.timezone if is_valid_timezone(registration.timezone) else None
    online = registration.attendance == "online"

    with translation.override(language):
        context = _event_context(event, language=language, viewer_zone=viewer_zone)
        context.update(
            name=registration.full_name,
            organisation=registration.organisation,
            online=online,
            status=registration.status,
            status_label=str(STATUS_LABELS.get(registration.status, registration.status)),
            waitlist_position=registration.waitlist_position,
            reason=registration.decision_reason,
            manage_url=_manage_url(registration),
            has_badge=kind in BADGE_KINDS and not online and registration.status == "confirmed",
        )
        draft = Draft(kind=kind, language=language, context=context)
        if kind == Kind.AGENDA_UPDATE:
            context["changes"] = _agenda_changes(event, notification.version, language, viewer_zone, subjects)
        if kind in {Kind.AGENDA_UPDATE, Kind.REMINDER} or kind in INVITE_METHOD:
            context["agenda"] = _agenda_lines(latest, event, language)

        method = INVITE_METHOD.get(kind)
        # A waitlisted attendee has no seat yet: an agenda update tells, but sends no invite.
        if method and registration.status in {"confirmed", "cancelled"}:
            draft.calendar = attendee_invite(
                registration,
                event,
                latest,
                method=method,
                email=notification.recipient_email,
                agenda=context["agenda"],
            )
            draft.calendar_method = method
            context["has_invite"] = True
        if context["has_badge"]:
            draft.attachments.extend(_badge_attachments(registration, event, language))
            context["has_badge_pdf"] = any(a.filename == "badge.pdf" for a in draft.attachments)
            # Not attached (BADGE_PDF_IN_EMAIL off): the printable badge is a link away.
            context["badge_pdf_url"] = f"{context['manage_url']}badge.pdf"
    return draft


def _manage_url(registration) -> str:
    from registrations.manage_tokens import manage_url, token_for_salt

    return manage_url(token_for_salt(registration.manage_token_salt))


def _event_context(event, *, language: str, viewer_zone: str | None) -> dict:
    when = format_when_parts(
        event.starts_at, event.ends_at, venue_zone=event.timezone, viewer_zone=viewer_zone, language=language
    )
    return {
        "event_title": event.title,
        "event_description": event.description,
        "venue": event.venue,
        "webcast_url": event.webcast_url,
        "when": " · ".join(when),
        "when_parts": when,
        "venue_city": zone_city(event.timezone, language),
        "event_url": f"{settings.PUBLIC_BASE_URL}/api/v1/events/{event.slug}/",
    }


def _invite_sequence(event, registration, latest) -> int:
    """The attendee's copy of the event-level invite changes when the event moves
    (Event.sequence), when the agenda it describes is republished (the version number), and
    when the registration is cancelled or restored (invite_sequence). The sum of three counters
    that only grow grows with each of them: every update supersedes the one before."""
    return int(event.sequence) + int(registration.invite_sequence) + (latest.number if latest else 0)


def attendee_invite(
    registration, event, latest, *, method: str, email: str, agenda: list[dict] | None = None
) -> bytes:
    """The attendee's event-level iTIP invite, as mailed (also served by the manage link's
    invite.ics, so a download and the e-mail carry the same UID and SEQUENCE). Call it inside
    `translation.override(<the attendee's language>)`; `agenda` is `_agenda_lines` of `latest`
    in that language, when the caller has it already."""
    online = registration.attendance == "online"
    lines = [event.title]
    if event.description:
        lines += ["", event.description]
    if online and event.webcast_url:
        lines += ["", _("Join online: %(url)s") % {"url": event.webcast_url}]
    if agenda is None:
        agenda = _agenda_lines(latest, event, language_for(translation.get_language()))
    if agenda:
        lines += ["", _("Agenda")] + [f"{item['when']}  {item['title']}" for item in agenda]
    if online and event.webcast_url:
        location = event.webcast_url
    else:
        location = event.venue
    item = CalendarItem(
        uid=event_uid(event.uid, settings.PUBLIC_HOST),
        sequence=_invite_sequence(event, registration, latest),
        summary=_one_line(event.title),
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        description=_multiline("\n".join(lines)),
        location=_one_line(location),
        url=event.webcast_url if online and event.webcast_url else "",
        status="CANCELLED" if method == "CANCEL" else "CONFIRMED",
    )
    return build_calendar(
        method=method,
        items=[item],
        tzid=event.timezone,
        now=_now(),
        organizer=_organizer(),
        attendee=Party(email=email, name=_one_line(registration.full_name)),
        alarm_minutes_before=ALARM_MINUTES,
        calendar_name=_one_line(event.title),
    )


def badge_data(registration, event, language: str, token: str) -> badges.BadgeData:
    with translation.override(language):
        zone_name = event.timezone
        return badges.BadgeData(
            token=token,
            full_name=registration.full_name,
            organisation=registration.organisation,
            category_label=str(CATEGORY_LABELS.get(registration.category, CATEGORY_LABELS["other"])),
            category_colour=CATEGORY_COLOURS.get(registration.category, CATEGORY_COLOURS["other"]),
            event_title=event.title,
            date_text=format_when(
                event.starts_at, event.ends_at, venue_zone=zone_name, viewer_zone=None, language=language
            ),
            venue=event.venue,
            attendance_label=_("In person"),
        )


def _badge_attachments(registration, event, language: str) -> list[Attachment]:
    from registrations.badge_tokens import badge_token_for

    token = badge_token_for(registration)
    attachments = [Attachment("badge.png", badges.qr_png(token), "image/png")]
    if getattr(settings, "BADGE_PDF_IN_EMAIL", True):
        try:
            pdf = badges.badge_pdf(badge_data(registration, event, language, token))
        except badges.MissingGlyphs as exc:
            # A name our fonts cannot draw: the QR still admits them; no badge with empty boxes.
            logger.warning(
                "badge PDF left out", extra={"registration_id": registration.id, "error": str(exc)}
            )
        except badges.FontsMissing as exc:
            # A broken install must not hold back confirmations: the PNG is what opens the door.
            logger.error("badge PDF left out", extra={"registration_id": registration.id, "error": str(exc)})
        else:
            attachments.append(Attachment("badge.pdf", pdf, "application/pdf"))
    return attachments


# --- The agenda -----------------------------------------------------------------------------


def _parse_utc(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _agenda_lines(version, event, language: str) -> list[dict]:
    if version is None:
        return []
    lines = []
    for entry in version.sessions:
        starts, ends = _parse_utc(entry["starts_at"]), _parse_utc(entry["ends_at"])
        lines.append(
            {
                "title": entry["title"],
                # Venue time with its city and zone letters: an agenda line is read on its own.
                "when": format_when(
                    starts, ends, venue_zone=event.timezone, viewer_zone=None, language=language
                ),
                "room": entry.get("room", ""),
                "speakers": ", ".join(s["name"] for s in entry.get("speakers", [])),
            }
        )
    return lines


def _agenda_changes(
    event, version_number: str, language: str, viewer_zone: str | None, subjects
) -> list[str]:
    """One sentence per change the published version made, in the recipient's language."""
    try:
        number = int(version_number)
    except (TypeError, ValueError):
        number = None
    version = (
        subjects.version(event=event, number=number)
        if number is not None
        else subjects.latest_version(event=event)
    )
    if version is None:
        return []
    previous = subjects.version_before(event=event, number=version.number)
    now_by_uid = {s["uid"]: s for s in version.sessions}
    before_by_uid = {s["uid"]: s for s in (previous.sessions if previous else [])}
    diff = version.diff or {}

    def when(entry: dict) -> str:
        return format_when(
            _parse_utc(entry["starts_at"]),
            _parse_utc(entry["ends_at"]),
            venue_zone=event.timezone,
            viewer_zone=viewer_zone,
            language=language,
        )

    changes: list[str] = []
    if diff.get("event_changed"):
        moved_to = format_when(
            event.starts_at,
            event.ends_at,
            venue_zone=event.timezone,
            viewer_zone=viewer_zone,
            language=language,
        )
        changes.append(_("The event itself has moved: it now takes place %(when)s.") % {"when": moved_to})
    for uid in diff.get("added", []):
        if uid in now_by_uid:
            entry = now_by_uid[uid]
            changes.append(
                _("New session: %(title)s, %(when)s.") % {"title": entry["title"], "when": when(entry)}
            )
    for uid in diff.get("moved", []):
        if uid in now_by_uid:
            entry = now_by_uid[uid]
            changes.append(
                _("New time for %(title)s: %(when)s.") % {"title": entry["title"], "when": when(entry)}
            )
    for uid in diff.get("retitled", []):
        if uid in now_by_uid and uid in before_by_uid:
            changes.append(
                _("“%(old)s” is now called “%(new)s”.")
                % {"old": before_by_uid[uid]["title"], "new": now_by_uid[uid]["title"]}
            )
    for uid in diff.get("room_changed", []):
        if uid in now_by_uid:
            entry = now_by_uid[uid]
            changes.append(
                _("%(title)s moves to another room: %(room)s.")
                % {"title": entry["title"], "room": entry.get("room") or "—"}
            )
    for uid in diff.get("speakers_changed", []):
        if uid in now_by_uid:
            entry = now_by_uid[uid]
            names = ", ".join(s["name"] for s in entry.get("speakers", [])) or "—"
            changes.append(_("Speakers of %(title)s: %(names)s.") % {"title": entry["title"], "names": names})
    for uid in diff.get("removed", []):
        if uid in before_by_uid:
            changes.append(_("Removed from the agenda: %(title)s.") % {"title": before_by_uid[uid]["title"]})
    return changes


# --- Speakers -------------------------------------------------------------------------------


def _speaker_draft(notification: Notification, _subjects) -> Draft:
    """A speaker's invite for one session: subject ("session", id) with the speaker found by
    `context["speaker_id"]` or by the recipient address; or subject ("speaker", id) for every
    session of theirs in the published agenda."""
    from sessions.models import AgendaVersion, Event, Speaker

    event = Event.objects.filter(pk=notification.event_id).first()
    if event is None:
        raise MessageObsolete("event gone")
    versions = list(AgendaVersion.objects.filter(event=event).order_by("-number")[:50])
    if not versions:
        raise MessageObsolete("no published agenda")
    latest = versions[0]

    if notification.subject_type == "speaker":
        speaker = Speaker.objects.filter(pk=notification.subject_id, event=event).first()
        session_ids = None
    else:
        speaker_id = (notification.context or {}).get("speaker_id")
        speakers = Speaker.objects.filter(event=event)
        speaker = (
            speakers.filter(pk=speaker_id).first()
            if speaker_id
            else speakers.filter(email__iexact=notification.recipient_email).order_by("id").first()
        )
        session_ids = {int(notification.subject_id)}
    if speaker is None:
        raise MessageObsolete("speaker gone")

    language = language_for(speaker.language or notification.language)
    viewer_zone = speaker.timezone if is_valid_timezone(speaker.timezone) else None

    def speaks_in(entry: dict) -> dict | None:
        return next((s for s in entry.get("speakers", []) if s["id"] == speaker.id), None)

    current = [e for e in latest.sessions if (session_ids is None or e["id"] in session_ids) and speaks_in(e)]
    cancelled: list[dict] = []
    if session_ids is not None and not current:
        # Removed from the agenda, or the speaker is no longer on it: cancel the copy they hold
        # (its last published state), with a SEQUENCE above the last one they received.
        entry = next((e for e in latest.sessions if e["id"] in session_ids), None)
        if entry is not None:
            cancelled.append({**entry, "sequence": entry["sequence"]})
        else:
            for version in versions[1:]:
                entry = next((e for e in version.sessions if e["id"] in session_ids), None)
                if entry is not None:
                    cancelled.append({**entry, "sequence": entry["sequence"] + 1})
                    break
        if not cancelled:
            raise MessageObsolete("session never published")

    with translation.override(language):
        context = _event_context(event, language=language, viewer_zone=viewer_zone)
        context["name"] = speaker.name
        context["sessions"] = [
            _session_context(e, event, language, viewer_zone, role=(speaks_in(e) or {}).get("role", ""))
            for e in (current or cancelled)
        ]
        context["cancelled"] = bool(cancelled)
        context["session_title"] = context["sessions"][0]["title"] if context["sessions"] else ""
        method = "CANCEL" if cancelled else "REQUEST"
        items = [_session_item(e, event, method=method) for e in (current or cancelled)]
        draft = Draft(kind=Kind.SPEAKER_INVITE, language=language, context=context)
        draft.calendar = build_calendar(
            method=method,
            items=items,
            tzid=event.timezone,
            now=_now(),
            organizer=_organizer(),
            attendee=Party(email=notification.recipient_email, name=_one_line(speaker.name)),
            alarm_minutes_before=ALARM_MINUTES,
            calendar_name=_one_line(event.title),
        )
        draft.calendar_method = method
        context["has_invite"] = True
    return draft


def _session_context(entry: dict, event, language: str, viewer_zone: str | None, *, role: str) -> dict:
    return {
        "title": entry["title"],
        "when": format_when(
            _parse_utc(entry["starts_at"]),
            _parse_utc(entry["ends_at"]),
            venue_zone=event.timezone,
            viewer_zone=viewer_zone,
            language=language,
        ),
        "room": entry.get("room", ""),
        "role": str(ROLE_LABELS.get(role, role)),
        "online_url": entry.get("online_url", ""),
        "speakers": ", ".join(s["name"] for s in entry.get("speakers", [])),
    }


def _session_item(entry: dict, event, *, method: str) -> CalendarItem:
    description = [event.title]
    if entry.get("description"):
        description += ["", entry["description"]]
    if entry.get("speakers"):
        description += ["", ", ".join(s["name"] for s in entry["speakers"])]
    if entry.get("online_url"):
        description += ["", entry["online_url"]]
    location = ", ".join(p for p in (entry.get("room", ""), event.venue) if p)
    return CalendarItem(
        uid=session_uid(entry["uid"], settings.PUBLIC_HOST),
        sequence=int(entry["sequence"]),
        summary=_one_line(entry["title"]),
        starts_at=_parse_utc(entry["starts_at"]),
        ends_at=_parse_utc(entry["ends_at"]),
        description=_multiline("\n".join(description)),
        location=_one_line(location),
        url=entry.get("online_url", ""),
        status="CANCELLED" if method == "CANCEL" else "CONFIRMED",
    )


_SUBJECT_BUILDERS = {
    "registration": _registration_draft,
    "session": _speaker_draft,
    "speaker": _speaker_draft,
}
