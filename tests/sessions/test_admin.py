"""The admin edits the draft directly: it must apply the same schedule rules as the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

from sessions.admin import SessionAdminForm
from sessions.models import Session
from tests.factories import EventFactory, RoomFactory

pytestmark = pytest.mark.django_db


def _form(event, room, start_offset: int, minutes: int) -> SessionAdminForm:
    start = event.starts_at + timedelta(minutes=start_offset)
    return SessionAdminForm(
        data={
            "event": event.id,
            "title": "Admin session",
            "kind": "panel",
            "room": room.id,
            "starts_at": start.strftime("%Y-%m-%d %H:%M:%S"),
            "ends_at": (start + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S"),
        }
    )


def test_admin_form_refuses_a_room_double_booking_and_accepts_a_free_slot():
    event = EventFactory()
    room = RoomFactory(event=event)
    start = event.starts_at
    Session.objects.create(
        event=event, title="Booked", room=room, starts_at=start, ends_at=start + timedelta(hours=1)
    )

    clash = _form(event, room, 30, 60)
    free = _form(event, room, 60, 30)

    assert not clash.is_valid()
    assert "is booked by session" in " ".join(clash.non_field_errors()), clash.errors
    assert free.is_valid(), free.errors


def test_admin_changelist_loads(client):
    admin_user = get_user_model().objects.create_superuser("admin@example.org", "admin@example.org", "pw")
    client.force_login(admin_user)
    EventFactory()
    for path in ("/admin/agenda/session/add/", "/admin/agenda/event/", "/admin/agenda/agendaversion/"):
        assert client.get(path).status_code == 200, path
