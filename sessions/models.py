"""The agenda: events, rooms, speakers, draft sessions and frozen published versions.

Every datetime is stored in UTC; `Event.timezone` is the IANA zone of the venue, used only
at the edges (parsing local input, rendering output).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q


class Event(models.Model):
    class CheckinPolicy(models.TextChoices):
        SINGLE = "single", "Single entry"
        REENTRY = "reentry", "Entries and exits"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    venue = models.CharField(max_length=300, blank=True)
    timezone = models.CharField(max_length=64, help_text="IANA time zone of the venue")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    is_published = models.BooleanField(default=True)
    # In-person seats; online attendance has its own optional limit (null = unlimited).
    capacity = models.PositiveIntegerField(default=0)
    online_capacity = models.PositiveIntegerField(null=True, blank=True)
    online_enabled = models.BooleanField(default=True)
    webcast_url = models.URLField(blank=True)
    approval_required = models.BooleanField(default=False)
    registration_opens_at = models.DateTimeField(null=True, blank=True)
    registration_closes_at = models.DateTimeField(null=True, blank=True)
    checkin_policy = models.CharField(
        max_length=10, choices=CheckinPolicy.choices, default=CheckinPolicy.SINGLE
    )
    # Calendar SEQUENCE of the event-level invite sent to attendees.
    sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="event_ends_after_start"),
        ]

    def __str__(self) -> str:
        return self.title


class Room(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="rooms")
    name = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["event", "name"], name="room_unique_name_per_event")]

    def __str__(self) -> str:
        return self.name


class Speaker(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="speakers")
    name = models.CharField(max_length=200)
    title = models.CharField(max_length=300, blank=True, help_text="Function, e.g. 'Director, UNOSSC'")
    organisation = models.CharField(max_length=300, blank=True)
    email = models.EmailField(blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    language = models.CharField(max_length=5, default="en")
    bio = models.TextField(blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Session(models.Model):
    """A session of the draft agenda. Publishing freezes the draft into an AgendaVersion."""

    class Kind(models.TextChoices):
        OPENING = "opening", "Opening"
        KEYNOTE = "keynote", "Keynote"
        PANEL = "panel", "Panel"
        DIALOGUE = "dialogue", "Dialogue"
        BREAK = "break", "Break"
        CLOSING = "closing", "Closing"
        OTHER = "other", "Other"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="sessions")
    # Calendar UID "session-<uid>@host": stable forever, across publishes and edits.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OTHER)
    room = models.ForeignKey(Room, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    online_url = models.URLField(blank=True)
    speakers = models.ManyToManyField(Speaker, through="SessionSpeaker", related_name="sessions")

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="session_ends_after_start"),
        ]

    def __str__(self) -> str:
        return self.title


class SessionSpeaker(models.Model):
    class Role(models.TextChoices):
        SPEAKER = "speaker", "Speaker"
        MODERATOR = "moderator", "Moderator"
        CHAIR = "chair", "Chair"

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="session_speakers")
    speaker = models.ForeignKey(Speaker, on_delete=models.CASCADE, related_name="session_speakers")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.SPEAKER)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "speaker"], name="session_speaker_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.speaker} ({self.role})"


class AgendaVersion(models.Model):
    """A published agenda, frozen: `sessions` is the snapshot the public sees and invites carry.

    Each snapshot entry: uid, sequence, title, description, kind, room, starts_at, ends_at (UTC
    ISO 8601), online_url, speakers [{id, name, title, organisation, role}].

    `event_snapshot` freezes what of the event itself the published agenda shows (title, venue,
    starts_at, ends_at, sequence), so `diff["event_changed"]` can say when the event moved.
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="agenda_versions")
    number = models.PositiveIntegerField()
    comment = models.TextField(blank=True)
    published_at = models.DateTimeField()
    sessions = models.JSONField(default=list)
    diff = models.JSONField(default=dict, blank=True)
    event_snapshot = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["event", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["event", "number"], name="agenda_version_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.event.slug} v{self.number}"
