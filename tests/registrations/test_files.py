"""The attendee's files by manage token, read back with independent parsers (zxing-cpp for
the QR code, vobject for the invite)."""

from __future__ import annotations

import io

import pytest
import vobject
import zxingcpp
from PIL import Image

from registrations import manage_tokens, services
from registrations.badge_tokens import verify_badge_token
from tests.factories import EventFactory
from tests.registrations.conftest import signup_payload

pytestmark = pytest.mark.django_db


def token_for(registration) -> str:
    return manage_tokens.token_for_salt(registration.manage_token_salt)


def test_badge_png_decodes_to_a_valid_badge_token_for_this_registration(client):
    event = EventFactory()
    registration = services.registration_create(event=event, **signup_payload())

    response = client.get(
        f"/api/v1/registrations/{token_for(registration)}/badge.png", HTTP_ACCEPT="image/png"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "no-store" in response["Cache-Control"]
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.content)))
    assert len(decoded) == 1
    payload = verify_badge_token(decoded[0].text)
    assert (payload.event_id, payload.registration_id, payload.counter) == (event.id, registration.id, 1)


def test_no_badge_for_waitlisted_or_online(client):
    event = EventFactory(capacity=1)
    services.registration_create(event=event, **signup_payload(email="a@example.org"))
    waitlisted = services.registration_create(event=event, **signup_payload(email="b@example.org"))
    online = services.registration_create(
        event=event, **signup_payload(email="c@example.org", attendance="online")
    )

    for registration in (waitlisted, online):
        response = client.get(f"/api/v1/registrations/{token_for(registration)}/badge.png")
        assert response.status_code == 409
        assert response.json()["code"] == "no_badge"


def test_badge_pdf_is_a_pdf(client):
    event = EventFactory()
    registration = services.registration_create(event=event, **signup_payload(full_name="Amina Diallo"))

    response = client.get(f"/api/v1/registrations/{token_for(registration)}/badge.pdf")

    if response.status_code == 503:
        pytest.skip("badge fonts not installed on this machine")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")


def test_invite_ics_request_then_cancel_with_same_uid_and_higher_sequence(client):
    event = EventFactory(title="A Better Tomorrow with South-South Cooperation")
    registration = services.registration_create(event=event, **signup_payload())
    token = token_for(registration)

    before = client.get(f"/api/v1/registrations/{token}/invite.ics")
    client.post(f"/api/v1/registrations/{token}/cancel/")
    after = client.get(f"/api/v1/registrations/{token}/invite.ics")

    assert before.status_code == after.status_code == 200
    assert before["Content-Type"].startswith("text/calendar")
    request = vobject.readOne(before.content.decode())
    cancel = vobject.readOne(after.content.decode())
    assert (request.method.value, cancel.method.value) == ("REQUEST", "CANCEL")
    assert (
        request.vevent.uid.value
        == cancel.vevent.uid.value
        == f"event-{event.uid}@" + request.vevent.uid.value.split("@")[1]
    )
    assert int(cancel.vevent.sequence.value) > int(request.vevent.sequence.value)
    assert request.vevent.summary.value == event.title
    assert request.vevent.attendee.value.lower() == "mailto:amina@example.org"


def test_manage_view_links_to_the_files(client):
    event = EventFactory()
    registration = services.registration_create(event=event, **signup_payload())
    token = token_for(registration)

    links = client.get(f"/api/v1/registrations/{token}/").json()["links"]

    assert set(links) == {"badge_png", "badge_pdf", "invite_ics"}
    assert links["invite_ics"].endswith(f"/api/v1/registrations/{token}/invite.ics")
