"""create_staff --event SLUG --role organiser|checkin EMAIL [--password PW]: a staff user with a
role on one event, and its API token (printed; the only place it is shown)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from registrations.models import EventRole
from registrations.validators import normalise_email
from sessions.models import Event


class Command(BaseCommand):
    help = "Give EMAIL a role on an event (creating the user if needed) and print its API token."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--event", required=True, help="Event slug")
        parser.add_argument("--role", required=True, choices=EventRole.Role.values)
        parser.add_argument(
            "--password",
            help="Also set a password, for the scanner page's and the admin's session login "
            "(organisers get admin access to their events' registrations).",
        )
        parser.add_argument("--rotate-token", action="store_true", help="Replace an existing token")

    @transaction.atomic
    def handle(
        self, *args, email: str, event: str, role: str, password: str | None, rotate_token: bool, **options
    ):
        try:
            address = normalise_email(email).email
        except ValueError as exc:
            raise CommandError(f"Invalid e-mail address: {exc}")
        event_obj = Event.objects.filter(slug=event).first()
        if event_obj is None:
            raise CommandError(f"No event with slug '{event}'.")
        User = get_user_model()
        user = User.objects.filter(username__iexact=address).first()
        if user is None:
            user = User.objects.create_user(username=address, email=address)
        if password:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages))
            user.set_password(password)
        if role == EventRole.Role.ORGANISER:
            user.is_staff = True  # the admin shows organisers their own events only
        user.save()
        EventRole.objects.get_or_create(user=user, event=event_obj, role=role)
        if rotate_token:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
