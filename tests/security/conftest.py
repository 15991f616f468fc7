"""One small world of objects shared by the security tests: two events, their staff, two
registrations with known manage tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from registrations import manage_tokens
from registrations.models import CheckIn, EventRole, Registration
from sessions.models import Event, Room, Session, Speaker
from sessions.services import agenda_publish
from tests.factories import (
    EventFactory,
    RegistrationFactory,
    RoomFactory,
    SessionFactory,
    SpeakerFactory,
    staff_token,
)


@dataclass
class World:
    event: Event
    other_event: Event
    organiser_token: str
    other_organiser_token: str
    checkin_token: str
    registration: Registration
    manage_token: str
    other_registration: Registration
    other_manage_token: str
    checkin_token_other: str
    session: Session
    speaker: Speaker
    room: Room


def _token_of(registration: Registration) -> str:
    return manage_tokens.token_for_salt(registration.manage_token_salt)


@pytest.fixture
def world(db) -> World:
    event = EventFactory(slug="sec-event", capacity=50)
    other = EventFactory(slug="sec-other", capacity=50)
    room = RoomFactory(event=event)
    speaker = SpeakerFactory(event=event)
    session = SessionFactory(
        event=event, room=room, starts_at=event.starts_at, ends_at=event.starts_at + timedelta(minutes=30)
    )
    session.speakers.add(speaker)
    registration = RegistrationFactory(event=event)
    other_registration = RegistrationFactory(event=event)
    CheckIn.objects.create(event=event, registration=registration, gate="Main", created_at=event.starts_at)
    agenda_publish(event=event)
    return World(
        event=event,
        other_event=other,
        organiser_token=staff_token(event=event, role=EventRole.Role.ORGANISER),
        other_organiser_token=staff_token(event=other, role=EventRole.Role.ORGANISER),
        checkin_token=staff_token(event=event, role=EventRole.Role.CHECKIN),
        registration=registration,
        manage_token=_token_of(registration),
        other_registration=other_registration,
        other_manage_token=_token_of(other_registration),
        checkin_token_other=staff_token(event=other, role=EventRole.Role.CHECKIN),
        session=session,
        speaker=speaker,
        room=room,
    )


@pytest.fixture
def wsgi_keeps_test_connection():
    """The raw WSGI handler closes "old" database connections at request start and end; inside a
    test transaction that would close the test's own connection. Django's test client does the
    same disconnect."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
