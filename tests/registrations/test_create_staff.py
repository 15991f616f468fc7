from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from registrations.models import EventRole
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def create_staff(*args) -> str:
    out = io.StringIO()
    call_command("create_staff", *args, stdout=out)
    return out.getvalue().strip()


def test_create_staff_prints_a_token_that_works_for_that_event_only(api_client):
    event, other = EventFactory(), EventFactory()

    key = create_staff("--event", event.slug, "--role", "organiser", "Lead@Example.org")

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get(f"/api/v1/events/{event.slug}/registrations/").status_code == 200
    assert api_client.get(f"/api/v1/events/{other.slug}/registrations/").status_code == 403
    user = get_user_model().objects.get(username="Lead@example.org")
    assert list(EventRole.objects.filter(user=user).values_list("role", flat=True)) == ["organiser"]
    assert user.is_staff


def test_create_staff_checkin_role_and_password(api_client):
    event = EventFactory()

    key = create_staff(
        "--event", event.slug, "--role", "checkin", "door@example.org", "--password", "long-Door-pass-42"
    )
    again = create_staff("--event", event.slug, "--role", "checkin", "door@example.org")

    assert key == again
    user = get_user_model().objects.get(username="door@example.org")
    assert user.check_password("long-Door-pass-42")
    assert not user.is_staff
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get(f"/api/v1/events/{event.slug}/registrations/").status_code == 403


def test_create_staff_refuses_unknown_event_and_bad_email():
    with pytest.raises(CommandError):
        create_staff("--event", "nope", "--role", "organiser", "a@example.org")
    event = EventFactory()
    with pytest.raises(CommandError):
        create_staff("--event", event.slug, "--role", "organiser", "not an email")
