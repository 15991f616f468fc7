"""Load the demo event (idempotent): `python manage.py seed_demo [--date YYYY-MM-DD]`."""

from __future__ import annotations

from datetime import date, datetime, time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from registrations.models import EventRole
from sessions import demo
from sessions.models import Event, Room, Session, SessionSpeaker, Speaker
from sessions.services import agenda_publish
from sessions.timezones import get_zone, make_aware_strict

DEMO_PASSWORD = "convene-demo"  # noqa: S105  (development only, see _ensure_users)
DEMO_USERS = [
    ("organiser@convene.localhost", EventRole.Role.ORGANISER),
    ("checkin@convene.localhost", EventRole.Role.CHECKIN),
]


def next_occurrence(month: int, day: int, zone_name: str) -> date:
    today = timezone.now().astimezone(get_zone(zone_name)).date()
    candidate = date(today.year, month, day)
    return candidate if candidate >= today else date(today.year + 1, month, day)


class Command(BaseCommand):
    help = "Create the demo event, its agenda (published as version 1) and demo staff users."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Event date, YYYY-MM-DD (default: the next 12 September)")
        parser.add_argument("--quiet-tokens", action="store_true", help="Do not print API tokens")

    def handle(self, *args, **options):
        spec = demo.EVENT
        if options["date"]:
            try:
                day = date.fromisoformat(options["date"])
            except ValueError:
                raise CommandError("--date must be YYYY-MM-DD")
        else:
            day = next_occurrence(*spec["month_day"], spec["timezone"])

        with transaction.atomic():
            event = Event.objects.filter(slug=spec["slug"]).first()
            if event is None:
                event = self._create_event(day)
                self.stdout.write(f"Created demo event '{event.slug}' on {day.isoformat()}.")
            else:
                self.stdout.write(f"Demo event '{event.slug}' already present; left as it is.")
            tokens = self._ensure_users(event)

        if not options["quiet_tokens"]:
            for email, role, key in tokens:
                self.stdout.write(f"  {role:<10} {email:<32} Authorization: Token {key}")
            if settings.DEBUG:
                self.stdout.write(f"  Scanner page /checkin/: either address, password '{DEMO_PASSWORD}'")

    def _local(self, day: date, hhmm: str) -> datetime:
        naive = datetime.combine(day, time.fromisoformat(hhmm))
        return make_aware_strict(naive, demo.EVENT["timezone"])

    def _create_event(self, day: date) -> Event:
        spec = demo.EVENT
        event = Event.objects.create(
            slug=spec["slug"],
            title=spec["title"],
            description=spec["description"],
            venue=spec["venue"],
            timezone=spec["timezone"],
            starts_at=self._local(day, spec["local_start"]),
            ends_at=self._local(day, spec["local_end"]),
            capacity=spec["capacity"],
            webcast_url=spec["webcast_url"],
        )
        rooms = {
            name: Room.objects.create(event=event, name=name, position=i) for i, name in enumerate(demo.ROOMS)
        }
        room = rooms[demo.ROOMS[0]]
        speakers = {
            key: Speaker.objects.create(event=event, timezone=spec["timezone"], **fields)
            for key, fields in demo.SPEAKERS.items()
        }
        for kind, title, start, end, people in demo.SESSIONS:
            session = Session.objects.create(
                event=event,
                kind=kind,
                title=title,
                room=room,
                starts_at=self._local(day, start),
                ends_at=self._local(day, end),
                online_url=spec["webcast_url"],
            )
            for position, (key, role) in enumerate(people):
                SessionSpeaker.objects.create(
                    session=session, speaker=speakers[key], role=role, position=position
                )
        agenda_publish(event=event, comment="First published agenda.")
        return event

    def _ensure_users(self, event: Event) -> list[tuple[str, str, str]]:
        User = get_user_model()
        result = []
        for email, role in DEMO_USERS:
            user, created = User.objects.get_or_create(username=email, defaults={"email": email})
            if created:
                # A known password only in development, for the scanner page's login.
                if settings.DEBUG:
                    user.set_password(DEMO_PASSWORD)
                else:
                    user.set_unusable_password()
                user.save()
            EventRole.objects.get_or_create(user=user, event=event, role=role)
            token, _ = Token.objects.get_or_create(user=user)
            result.append((email, role, token.key))
        return result
