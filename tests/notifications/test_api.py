"""Organisers' outbox API and the admin's retry action."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from notifications.models import Notification
from registrations.models import EventRole
from tests.factories import EventFactory, RegistrationFactory, staff_token

pytestmark = pytest.mark.django_db


def _row(event, status, kind=Notification.Kind.CONFIRMATION, **fields) -> Notification:
    registration = RegistrationFactory(event=event)
    return Notification.objects.create(
        event=event,
        kind=kind,
        recipient_email=registration.email,
        subject_type="registration",
        subject_id=registration.id,
        status=status,
        **fields,
    )


@pytest.fixture
def event():
    return EventFactory()


@pytest.fixture
def organiser(api_client, event):
    api_client.credentials(
        HTTP_AUTHORIZATION="Token " + staff_token(event=event, role=EventRole.Role.ORGANISER)
    )
    return api_client


def test_notifications_list_filters_by_status_and_kind(organiser, event):
    failed = _row(event, Notification.Status.FAILED, last_error="smtp 550: 5.1.1 No such user")
    _row(event, Notification.Status.SENT)
    reminder = _row(event, Notification.Status.FAILED, kind=Notification.Kind.REMINDER)
    _row(EventFactory(), Notification.Status.FAILED)  # another event's

    by_status = organiser.get(f"/api/v1/events/{event.slug}/notifications/?status=failed")
    by_both = organiser.get(f"/api/v1/events/{event.slug}/notifications/?status=failed&kind=confirmation")

    assert by_status.status_code == 200
    assert by_status.json()["count"] == 2
    assert sorted(r["id"] for r in by_status.json()["results"]) == sorted([failed.id, reminder.id])
    [only] = by_both.json()["results"]
    assert only["id"] == failed.id
    assert only["last_error"] == "smtp 550: 5.1.1 No such user"
    assert "context" not in only


def test_notifications_list_is_paginated(organiser, event):
    for _ in range(55):
        _row(event, Notification.Status.SENT)

    first = organiser.get(f"/api/v1/events/{event.slug}/notifications/").json()
    second = organiser.get(f"/api/v1/events/{event.slug}/notifications/?page=2").json()

    assert (first["count"], len(first["results"]), len(second["results"])) == (55, 50, 5)
    assert first["next"] is not None


def test_notifications_list_bad_filter_is_a_validation_problem(organiser, event):
    response = organiser.get(f"/api/v1/events/{event.slug}/notifications/?status=lost")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "validation_error"
    assert "status" in response.json()["errors"]


def test_notifications_list_only_for_this_events_organisers(api_client, event):
    anonymous = api_client.get(f"/api/v1/events/{event.slug}/notifications/")
    api_client.credentials(
        HTTP_AUTHORIZATION="Token " + staff_token(event=EventFactory(), role=EventRole.Role.ORGANISER)
    )
    other_organiser = api_client.get(f"/api/v1/events/{event.slug}/notifications/")
    api_client.credentials(
        HTTP_AUTHORIZATION="Token " + staff_token(event=event, role=EventRole.Role.CHECKIN)
    )
    checkin_staff = api_client.get(f"/api/v1/events/{event.slug}/notifications/")

    assert anonymous.status_code == 401
    assert other_organiser.status_code == 403
    assert checkin_staff.status_code == 403


def test_notification_retry_failed_row_is_pending_again(organiser, event):
    failed = _row(event, Notification.Status.FAILED, attempts=10, last_error="gave up")

    response = organiser.post(f"/api/v1/events/{event.slug}/notifications/{failed.id}/retry/")

    failed.refresh_from_db()
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    assert (failed.status, failed.attempts) == (Notification.Status.PENDING, 0)


def test_notification_retry_of_a_sent_row_is_a_conflict(organiser, event):
    sent = _row(event, Notification.Status.SENT)

    response = organiser.post(f"/api/v1/events/{event.slug}/notifications/{sent.id}/retry/")

    sent.refresh_from_db()
    assert response.status_code == 409
    assert response.json()["code"] == "notification_not_failed"
    assert sent.status == Notification.Status.SENT


def test_notification_retry_of_another_events_row_is_not_found(organiser, event):
    elsewhere = _row(EventFactory(), Notification.Status.FAILED)

    response = organiser.post(f"/api/v1/events/{event.slug}/notifications/{elsewhere.id}/retry/")

    elsewhere.refresh_from_db()
    assert response.status_code == 404
    assert elsewhere.status == Notification.Status.FAILED


def test_admin_retry_action_requeues_failed_rows_only(client, event):
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    client.force_login(admin)
    failed = _row(event, Notification.Status.FAILED, attempts=3)
    sent = _row(event, Notification.Status.SENT)

    response = client.post(
        "/admin/notifications/notification/",
        {"action": "retry_failed", "_selected_action": [failed.id, sent.id]},
    )

    failed.refresh_from_db()
    sent.refresh_from_db()
    assert response.status_code == 302
    assert failed.status == Notification.Status.PENDING
    assert sent.status == Notification.Status.SENT
