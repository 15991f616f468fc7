"""The admin: organisers see their own events' registrations; actions go through the services."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from notifications.models import Notification
from registrations import services
from registrations.models import EventRole, Registration
from tests.factories import EventFactory, RegistrationFactory
from tests.registrations.conftest import signup_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def organiser_client(client):
    def make(event):
        user = get_user_model().objects.create_user(username="org@example.org", password="x", is_staff=True)
        EventRole.objects.create(user=user, event=event, role=EventRole.Role.ORGANISER)
        client.force_login(user)
        return client

    return make


def test_organiser_sees_only_their_events_registrations(organiser_client):
    mine, theirs = EventFactory(), EventFactory()
    RegistrationFactory(event=mine, full_name="Mine Person")
    RegistrationFactory(event=theirs, full_name="Their Person")
    client = organiser_client(mine)

    page = client.get("/admin/registrations/registration/")

    assert page.status_code == 200
    assert "Mine Person" in page.content.decode()
    assert "Their Person" not in page.content.decode()


def test_admin_cancel_action_promotes_the_waitlist(organiser_client):
    event = EventFactory(capacity=1)
    seated = services.registration_create(event=event, **signup_payload(email="a@example.org"))
    waiting = services.registration_create(event=event, **signup_payload(email="b@example.org"))
    client = organiser_client(event)

    response = client.post(
        "/admin/registrations/registration/",
        {"action": "cancel", "_selected_action": [seated.id]},
    )

    assert response.status_code == 302
    assert Registration.objects.get(id=seated.id).status == "cancelled"
    assert Registration.objects.get(id=waiting.id).status == "confirmed"
    assert Notification.objects.filter(subject_id=waiting.id, kind="promoted").count() == 1


def test_admin_approve_action_refuses_what_the_service_refuses(organiser_client):
    event = EventFactory(approval_required=True)
    pending = services.registration_create(event=event, **signup_payload(email="a@example.org"))
    confirmed = RegistrationFactory(event=event)
    client = organiser_client(event)

    client.post(
        "/admin/registrations/registration/",
        {"action": "approve", "_selected_action": [pending.id, confirmed.id]},
    )

    assert Registration.objects.get(id=pending.id).status == "confirmed"
    assert Notification.objects.filter(subject_id=pending.id, kind="approved").count() == 1
    assert Notification.objects.filter(subject_id=confirmed.id).count() == 0


def test_organiser_cannot_open_another_events_registration(organiser_client):
    mine, theirs = EventFactory(), EventFactory()
    other = RegistrationFactory(event=theirs)
    client = organiser_client(mine)

    response = client.get(f"/admin/registrations/registration/{other.id}/change/")

    assert response.status_code in (302, 404)
