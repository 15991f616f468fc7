"""factory_boy factories for the whole suite."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone as dj_timezone
from rest_framework.authtoken.models import Token

from registrations import manage_tokens
from registrations.models import EventRole, Registration
from sessions.models import Event, Room, Session, Speaker


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    slug = factory.Sequence(lambda n: f"event-{n}")
    title = factory.Sequence(lambda n: f"Event {n}")
    venue = "United Nations Headquarters, New York"
    timezone = "America/New_York"
    starts_at = factory.LazyFunction(lambda: (dj_timezone.now() + timedelta(days=30)).replace(microsecond=0))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=3))
    capacity = 100
    webcast_url = "https://webtv.example.org/live"


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    event = factory.SubFactory(EventFactory)
    name = factory.Sequence(lambda n: f"Room {n}")


class SpeakerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Speaker

    event = factory.SubFactory(EventFactory)
    name = factory.Sequence(lambda n: f"Speaker {n}")
    email = factory.Sequence(lambda n: f"speaker{n}@example.org")
    title = "Director"
    organisation = "UNOSSC"
    timezone = "Europe/Geneva"
    language = "en"


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Session

    event = factory.SubFactory(EventFactory)
    title = factory.Sequence(lambda n: f"Session {n}")
    kind = Session.Kind.PANEL
    starts_at = factory.LazyAttribute(lambda o: o.event.starts_at)
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(minutes=30))


class RegistrationFactory(factory.django.DjangoModelFactory):
    """A registration row as a service would write it. Use the services to test the rules."""

    class Meta:
        model = Registration

    event = factory.SubFactory(EventFactory)
    full_name = factory.Sequence(lambda n: f"Attendee {n}")
    email = factory.Sequence(lambda n: f"attendee{n}@example.org")
    email_normalized = factory.LazyAttribute(lambda o: o.email.strip().lower())
    organisation = "Ministry of Planning"
    country = "SN"
    category = Registration.Category.MEMBER_STATE
    attendance = Registration.Attendance.IN_PERSON
    timezone = "Africa/Dakar"
    language = "fr"
    consent_at = factory.LazyFunction(dj_timezone.now)
    status = Registration.Status.CONFIRMED
    manage_token_salt = factory.LazyFunction(manage_tokens.new_salt)
    manage_token_hash = factory.LazyAttribute(
        lambda o: manage_tokens.token_hash(manage_tokens.token_for_salt(o.manage_token_salt))
    )


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}@example.org")
    email = factory.LazyAttribute(lambda o: o.username)


def staff_token(*, event: Event, role: str) -> str:
    """A user with `role` on `event`; returns the API token key."""
    user = UserFactory()
    EventRole.objects.create(user=user, event=event, role=role)
    return Token.objects.create(user=user).key
