"""Attendees and the people who run an event."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Registration(models.Model):
    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval", "Pending approval"
        CONFIRMED = "confirmed", "Confirmed"
        WAITLISTED = "waitlisted", "Waitlisted"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    class Attendance(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        ONLINE = "online", "Online"

    class Category(models.TextChoices):
        MEMBER_STATE = "member_state", "Member State"
        UN_SYSTEM = "un_system", "UN system"
        PRIVATE_SECTOR = "private_sector", "Private sector"
        CIVIL_SOCIETY = "civil_society", "Civil society"
        ACADEMIA = "academia", "Academia"
        MEDIA = "media", "Media"
        OTHER = "other", "Other"

    event = models.ForeignKey("agenda.Event", on_delete=models.PROTECT, related_name="registrations")
    full_name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    # Trimmed and lower-cased: what uniqueness per event is decided on.
    email_normalized = models.CharField(max_length=254, editable=False)
    organisation = models.CharField(max_length=300, blank=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    category = models.CharField(max_length=20, choices=Category.choices)
    attendance = models.CharField(max_length=10, choices=Attendance.choices)
    timezone = models.CharField(max_length=64)
    language = models.CharField(max_length=5, default="en")
    accessibility_needs = models.TextField(blank=True, max_length=2000)
    consent_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, db_index=True)
    waitlist_position = models.PositiveIntegerField(null=True, blank=True)
    # The manage token is HMAC(SECRET_KEY, salt): never stored, re-derived by the worker that
    # mails it (registrations/manage_tokens.py). Its SHA-256 is what a request is looked up by.
    manage_token_salt = models.CharField(max_length=32, editable=False)
    manage_token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # Bumped when a badge is reissued: older badges stop verifying server-side.
    badge_counter = models.PositiveIntegerField(default=1)
    # Calendar SEQUENCE of this attendee's invite (grows on updates and on cancellation).
    invite_sequence = models.PositiveIntegerField(default=0)
    decision_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "email_normalized"], name="registration_unique_email_per_event"
            ),
            models.UniqueConstraint(
                fields=["event", "waitlist_position"],
                condition=Q(status="waitlisted"),
                name="registration_unique_waitlist_position",
            ),
        ]
        indexes = [models.Index(fields=["event", "status", "attendance"])]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.event_id})"


class EventRole(models.Model):
    """Who may do what on one event: organisers everything, check-in staff scanning and stats."""

    class Role(models.TextChoices):
        ORGANISER = "organiser", "Organiser"
        CHECKIN = "checkin", "Check-in staff"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="event_roles")
    event = models.ForeignKey("agenda.Event", on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "event", "role"], name="event_role_unique")]

    def __str__(self) -> str:
        return f"{self.user} {self.role} @ {self.event_id}"
