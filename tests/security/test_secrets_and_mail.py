"""Secrets stay out of logs and error bodies; names cannot smuggle HTML or headers into email.

Everything goes through the public API and a real SMTP server on loopback: sign up, receive
the confirmation, use the manage link from it, make mistakes on purpose, and look at every log
line written meanwhile (formatted as production formats them) and every error body returned.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from django.conf import settings

from config.logging import JsonFormatter, RequestIdFilter
from notifications.models import Notification
from registrations.models import EventRole
from tests.factories import EventFactory, staff_token

pytestmark = pytest.mark.django_db

LOGGERS = ["", "django.request", "django.server", "celery", "convene"]
MANAGE_LINK = re.compile(r"/registrations/([A-Za-z0-9_\-]{32,})/")


@pytest.fixture
def captured_logs():
    """Every log record the configured loggers let through (production levels), formatted by
    the production JSON formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    loggers = [logging.getLogger(name) for name in LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    yield stream
    for logger in loggers:
        logger.removeHandler(handler)


def signup_payload(**overrides) -> dict:
    payload = {
        "full_name": "Amina Diallo",
        "email": "amina@example.org",
        "organisation": "Ministry of Planning",
        "country": "SN",
        "category": "member_state",
        "attendance": "in_person",
        "timezone": "Africa/Dakar",
        "language": "en",
        "consent": True,
        "accessibility_needs": "",
    }
    payload.update(overrides)
    return payload


def post_json(client, path: str, payload, **extra):
    return client.post(path, data=json.dumps(payload), content_type="application/json", **extra)


def deliver_all() -> None:
    from notifications.services import deliver_notifications

    ids = list(Notification.objects.filter(status="pending").values_list("id", flat=True))
    if ids:
        deliver_notifications(notification_ids=ids, claim_token="security-test")


def html_part(message) -> str:
    part = message.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else ""


def text_part(message) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def test_secrets_never_in_logs_or_error_bodies(client, smtp_server, captured_logs):
    event = EventFactory(capacity=10)
    organiser_key = staff_token(event=event, role=EventRole.Role.ORGANISER)
    checkin_key = staff_token(event=event, role=EventRole.Role.CHECKIN)
    bodies: list[tuple[int, str]] = []

    def keep(response):
        bodies.append((response.status_code, response.content.decode(errors="replace")))
        return response

    base = f"/api/v1/events/{event.slug}"
    signup = keep(post_json(client, f"{base}/registrations/", signup_payload()))
    assert signup.status_code == 201, signup.content
    keep(post_json(client, f"{base}/registrations/", signup_payload(email=" AMINA@example.org ")))
    deliver_all()

    mails = smtp_server.inbox.to("amina@example.org")
    assert len(mails) >= 1
    links = {m.group(1) for mail in mails for m in MANAGE_LINK.finditer(text_part(mail))}
    assert len(links) == 1, links
    (manage_token,) = links

    own = client.get(f"/api/v1/registrations/{manage_token}/")
    assert own.status_code == 200, own.content
    keep(
        client.patch(
            f"/api/v1/registrations/{manage_token}/",
            data=json.dumps({"timezone": "Mars/Olympus_Mons", "language": "xx"}),
            content_type="application/json",
        )
    )
    keep(client.get(f"/api/v1/registrations/{manage_token[:-1]}A/"))
    keep(client.get(f"/api/v1/registrations/{manage_token}x/"))
    keep(client.get(f"{base}/registrations/", HTTP_AUTHORIZATION=f"Token {organiser_key[:-1]}0"))
    keep(client.get(f"{base}/registrations/", HTTP_AUTHORIZATION=f"Token {checkin_key}"))
    keep(client.get(f"{base}/registrations/", HTTP_AUTHORIZATION=f"Token {manage_token}"))
    keep(
        post_json(
            client, f"{base}/checkins/", {"code": manage_token}, HTTP_AUTHORIZATION=f"Token {checkin_key}"
        )
    )
    keep(
        post_json(
            client,
            f"{base}/checkins/",
            {"code": "NOT A BADGE", "gate": "A", "nonce": "n-1"},
            HTTP_AUTHORIZATION=f"Token {checkin_key}",
        )
    )
    bundle = client.get(f"{base}/checkins/bundle/", HTTP_AUTHORIZATION=f"Token {checkin_key}")
    organiser_list = client.get(f"{base}/registrations/", HTTP_AUTHORIZATION=f"Token {organiser_key}")
    assert organiser_list.status_code == 200
    keep(post_json(client, f"/api/v1/registrations/{manage_token}/cancel/", {}))
    keep(post_json(client, f"/api/v1/registrations/{manage_token}/cancel/", {}))
    deliver_all()

    from registrations.badge_tokens import _keyring  # the key in force, configured or generated

    raw = _keyring().signing_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    private_b64 = base64.b64encode(raw).decode()
    secrets = {
        "manage token": manage_token,
        "organiser API token": organiser_key,
        "check-in API token": checkin_key,
        "SECRET_KEY": settings.SECRET_KEY,
        "badge signing key": private_b64,
    }
    logs = captured_logs.getvalue()
    assert logs.count("\n") > 5, "the run wrote log lines (else this test proves nothing)"
    error_bodies = [body for status, body in bodies if status >= 400]
    assert len(error_bodies) >= 6
    leaks = [
        f"{name} in {where}"
        for name, value in secrets.items()
        for where, text in [("logs", logs), *((f"error body {i}", b) for i, b in enumerate(error_bodies))]
        if value and value in text
    ]
    # The public sign-up answers never carry the manage token either (it travels by email).
    leaks += [f"manage token in sign-up answer {s}" for s, b in bodies[:2] if manage_token in b]
    if bundle.status_code == 200:
        leaks += ["badge signing key in the bundle"] if private_b64 in bundle.content.decode() else []
    assert leaks == [], [line for line in logs.splitlines() if manage_token in line][:3]


def test_server_error_log_line_of_a_manage_route_masks_the_token(captured_logs, rf):
    """Django logs every 5xx (a 503 when the database is away, say) on `django.request` at
    ERROR, with the request object attached: its repr holds the path, and so the token."""
    from django.http import HttpResponse
    from django.utils.log import log_response

    token = "bvmjnhMleP8TdpnbEGKwL-DU8UZiK2bi5ZnH6yEqWk0"
    request = rf.get(f"/api/v1/registrations/{token}/")
    log_response("Service Unavailable: %s", request.path, response=HttpResponse(status=503), request=request)

    logs = captured_logs.getvalue()
    assert "Service Unavailable" in logs
    assert token not in logs


HOSTILE_NAME = '<script>alert("x")</script> Ève & <b>Co</b>'
HOSTILE_ORG = '<img src=x onerror=alert(1)> "Ministry" & <a href="https://evil.example">x</a>'


def test_email_escapes_html_in_names_and_organisations(client, smtp_server):
    event = EventFactory(capacity=10)
    response = post_json(
        client,
        f"/api/v1/events/{event.slug}/registrations/",
        signup_payload(full_name=HOSTILE_NAME, organisation=HOSTILE_ORG, email="eve@example.org"),
    )
    assert response.status_code == 201, response.content
    deliver_all()

    (mail,) = smtp_server.inbox.to("eve@example.org")
    html = html_part(mail)
    assert html, "the confirmation has an HTML part"
    for raw in ("<script>", "<img src=x", '<a href="https://evil.example">', "<b>Co</b>"):
        assert raw not in html
    assert "&lt;script&gt;" in html
    # The text part carries the name as written (plain text has nothing to escape).
    assert "Ève" in text_part(mail)


@pytest.mark.parametrize(
    "field, value",
    [
        ("full_name", "Mallory\r\nBcc: victim@example.org"),
        ("full_name", "Mallory\nSubject: you won"),
        ("organisation", "Org\r\nBcc: victim@example.org"),
        ("email", "mallory@example.org\r\nBcc: victim@example.org"),
        ("email", "mallory@example.org>, victim@example.org"),
    ],
)
def test_headers_cannot_be_injected_through_signup_fields(client, smtp_server, field, value):
    event = EventFactory(capacity=10)
    payload = signup_payload(email="mallory@example.org")
    payload[field] = value
    response = post_json(client, f"/api/v1/events/{event.slug}/registrations/", payload)

    assert response.status_code in (201, 400), response.content
    if response.status_code == 400:
        assert response["Content-Type"].startswith("application/problem+json")
        assert field in response.json()["errors"]
        return
    deliver_all()
    messages = smtp_server.inbox.messages
    assert len(messages) == 1
    (mail,) = messages
    assert mail["Bcc"] is None
    assert "victim@example.org" not in str(mail["To"])
    assert "victim" not in str(mail["Subject"])
    for name, header in mail.items():
        assert "\n" not in str(header) and "\r" not in str(header), (name, header)


def test_calendar_invite_cannot_be_injected_through_names(client, smtp_server):
    """Quotes, semicolons, colons and commas in a name stay inside the CN parameter: the invite
    still has exactly one attendee, the right one, as read by an independent parser."""
    import icalendar
    import vobject

    event = EventFactory(capacity=10)
    name = 'Eve "Boss"; ROLE=CHAIR: mailto:victim@example.org, Org'
    response = post_json(
        client,
        f"/api/v1/events/{event.slug}/registrations/",
        signup_payload(full_name=name, organisation='ACME; "x":y', email="eve.ics@example.org"),
    )
    assert response.status_code == 201, response.content
    deliver_all()

    (mail,) = smtp_server.inbox.to("eve.ics@example.org")
    calendars = [
        part.get_payload(decode=True)
        for part in mail.walk()
        if part.get_content_type() in ("text/calendar", "application/ics")
    ]
    assert calendars, "the confirmation carries an invite"
    for raw in calendars:
        parsed = vobject.readOne(raw.decode())
        (vevent,) = parsed.vevent_list
        attendees = vevent.contents.get("attendee", [])
        assert [a.value.lower() for a in attendees] == ["mailto:eve.ics@example.org"]
        # Double quotes travel RFC 6868-encoded (^'), which vobject leaves as it is.
        (cn,) = attendees[0].params["CN"]
        assert cn.replace("^'", '"').replace("^n", "\n").replace("^^", "^") == name
        assert "ROLE" not in attendees[0].params or attendees[0].params["ROLE"] != ["CHAIR"]
        cal = icalendar.Calendar.from_ical(raw)
        (ev,) = cal.walk("VEVENT")
        assert str(ev["ATTENDEE"]).lower() == "mailto:eve.ics@example.org"
