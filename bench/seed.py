"""Data the scenarios need, written straight through the ORM of the bench database."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token

from registrations import manage_tokens
from registrations.models import EventRole, Registration
from sessions.models import Event


def make_event(*, slug: str, capacity: int, starts_in: timedelta = timedelta(days=30), **extra) -> Event:
    starts_at = (timezone.now() + starts_in).replace(microsecond=0)
    return Event.objects.create(
        slug=slug,
        title=f"Bench {slug}",
        venue="United Nations Headquarters, New York",
        timezone="America/New_York",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=5),
        capacity=capacity,
        webcast_url="https://webtv.example.org/live",
        **extra,
    )


def staff_token(*, event: Event, role: str, name: str) -> str:
    user, _ = get_user_model().objects.get_or_create(username=name, defaults={"email": name})
    EventRole.objects.get_or_create(user=user, event=event, role=role)
    return Token.objects.get_or_create(user=user)[0].key


def confirmed_registrations(*, event: Event, count: int, prefix: str) -> list[Registration]:
    """`count` confirmed in-person registrations, as the sign-up service would leave them."""
    now = timezone.now()
    rows = []
    for i in range(count):
        salt = manage_tokens.new_salt()
        email = f"{prefix}{i}@bench.example.org"
        rows.append(
            Registration(
                event=event,
                full_name=f"Bench Attendee {i}",
                email=email,
                email_normalized=email,
                organisation="Ministry of Planning",
                country="SN",
                category=Registration.Category.MEMBER_STATE,
                attendance=Registration.Attendance.IN_PERSON,
                timezone="Africa/Dakar",
                language="fr" if i % 2 else "en",
                consent_at=now,
                status=Registration.Status.CONFIRMED,
                manage_token_salt=salt,
                manage_token_hash=manage_tokens.token_hash(manage_tokens.token_for_salt(salt)),
            )
        )
    Registration.objects.bulk_create(rows, batch_size=500)
    return list(Registration.objects.filter(event=event, email__startswith=prefix).order_by("id"))


def confirmation_of(registration: Registration) -> dict:
    """The outbox fields of a registration's confirmation, as the sign-up service writes them."""
    from notifications.models import Notification

    return {
        "event_id": registration.event_id,
        "kind": Notification.Kind.CONFIRMATION,
        "recipient_email": registration.email,
        "recipient_name": registration.full_name,
        "language": registration.language,
        "subject_type": "registration",
        "subject_id": registration.id,
        "version": str(registration.invite_sequence),
    }
