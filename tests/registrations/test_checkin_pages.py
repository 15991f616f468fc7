"""The scanner page's server side: login, the event picker, the static decoder."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders

from registrations.models import EventRole
from tests.factories import EventFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_scanner_page_requires_login(client):
    response = client.get("/checkin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/checkin/login/?next=/checkin/")


def test_scanner_page_lists_only_events_with_a_role(client):
    mine, other = EventFactory(title="Mine"), EventFactory(title="Not mine")
    user = UserFactory()
    EventRole.objects.create(user=user, event=mine, role=EventRole.Role.CHECKIN)
    client.force_login(user)

    page = client.get("/checkin/").content.decode()

    assert f'value="{mine.slug}"' in page
    assert other.slug not in page
    assert "jsQR.js" in page


def test_scanner_page_login_then_back_to_the_scanner(client):
    event = EventFactory()
    user = UserFactory(username="door@example.org")
    user.set_password("door-staff-password")
    user.save()
    EventRole.objects.create(user=user, event=event, role=EventRole.Role.CHECKIN)

    wrong = client.post("/checkin/login/", {"username": "door@example.org", "password": "nope"})
    response = client.post(
        "/checkin/login/",
        {"username": "door@example.org", "password": "door-staff-password", "next": "/checkin/?rescan_ms=5"},
    )

    assert (response.status_code, response["Location"]) == (302, "/checkin/?rescan_ms=5")
    assert wrong.status_code == 200  # the form again, with the error
    assert 'class="form-error"' in wrong.content.decode()


def test_scanner_page_without_a_role_says_so(client):
    client.force_login(UserFactory())

    page = client.get("/checkin/").content.decode()

    assert "You have no check-in role on any event" in page


def test_jsqr_and_scanner_assets_are_static_files():
    assert finders.find("jsQR.js")  # from node_modules (make jsdeps), not copied into the repo
    assert finders.find("checkin/scanner.js")
    assert finders.find("checkin/scanner.css")
