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

    # Indexed by the constraints and the (event, status, attendance) index, all led by event:
    # a sign-up writes every index of this table, so none is repeated.
    event = models.ForeignKey(
        "agenda.Event", on_delete=models.PROTECT, related_name="registrations", db_index=False
    )
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
    status = models.CharField(max_length=20, choices=Status.choices)
    waitlist_position = models.PositiveIntegerField(null=True, blank=True)
    # The manage token is HMAC(SECRET_KEY, salt): never stored, re-derived by the worker that
    # mails it (registrations/manage_tokens.py). Its SHA-256 is what a request is looked up by.
    manage_token_salt = models.CharField(max_length=32, editable=False)
    # Unique by a constraint (below), not `unique=True`, which would add a LIKE index a hash
    # is never searched by.
    manage_token_hash = models.CharField(max_length=64, editable=False)
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
            models.UniqueConstraint(fields=["manage_token_hash"], name="registration_unique_manage_token"),
            models.UniqueConstraint(
                fields=["event", "waitlist_position"],
                condition=Q(status="waitlisted"),
                name="registration_unique_waitlist_position",
            ),
        ]
        indexes = [models.Index(fields=["event", "status", "attendance"])]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.event_id})"


# Statuses that hold a seat (in person, or online when that is limited): pending approval
# holds one too, so approving never oversells.
SEAT_HOLDING_STATUSES = (Registration.Status.CONFIRMED, Registration.Status.PENDING_APPROVAL)


class SeatCount(models.Model):
    """How many registrations of an event have each (attendance, status).

    Kept by database triggers on the registration table (migration 0002), never by Python code:
    every write of a registration, from any code path (services, admin, a bulk update, SQL by
    hand), moves its count in the same transaction. The seat decision under the event lock
    then reads a few rows instead of counting all of an event's registrations, which took
    15-25 ms at 20,000 registrations and serialised every sign-up behind it.
    """

    event = models.ForeignKey("agenda.Event", on_delete=models.CASCADE, related_name="+", db_index=False)
    attendance = models.CharField(max_length=10)
    status = models.CharField(max_length=20)
    total = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "attendance", "status"], name="seat_count_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.attendance} {self.status}: {self.total}"


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


# --- Check-in (owned by the check-in part; see registrations/checkin_services.py) -----------


class CheckIn(models.Model):
    """One passage through a gate: an entry, or an exit on events that allow re-entry.

    `is_open` marks the entry a person is inside on (not undone, and on re-entry events not yet
    followed by an exit). At most one open entry per registration, enforced by a partial unique
    index: the same badge at two gates at once cannot give two `ok`s, whatever the code path.
    """

    class Direction(models.TextChoices):
        IN = "in", "Entry"
        OUT = "out", "Exit"

    # Indexed by `checkin_event_time` (event first).
    event = models.ForeignKey(
        "agenda.Event", on_delete=models.CASCADE, related_name="checkins", db_index=False
    )
    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="checkins")
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.IN)
    gate = models.CharField(max_length=100, blank=True)
    # Server time of the decision; `scanned_at` is what an offline scanner says it saw.
    created_at = models.DateTimeField()
    scanned_at = models.DateTimeField(null=True, blank=True)
    # Few indexes: every scan inserts here, and nothing looks rows up by these.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    is_open = models.BooleanField(default=False)
    # On an exit: the entry it closed (undoing the exit re-opens it).
    closes = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    # Undo keeps the row (and who undid it when): the record stays complete.
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["registration"], condition=Q(is_open=True), name="checkin_one_open_entry"
            ),
            models.CheckConstraint(
                condition=Q(is_open=False) | Q(direction="in", undone_at__isnull=True),
                name="checkin_open_is_active_entry",
            ),
        ]
        indexes = [models.Index(fields=["event", "created_at"], name="checkin_event_time")]

    def __str__(self) -> str:
        return f"{self.direction} {self.registration_id} @ {self.gate}"


class Scan(models.Model):
    """Every scan answer, failed ones too: who, where, when (server and client time), the result.

    (event, nonce) is unique: a replayed offline scan is answered from this row, not redone.
    """

    class Result(models.TextChoices):
        OK = "ok", "OK"
        INVALID = "invalid", "Invalid"
        WRONG_EVENT = "wrong_event", "Wrong event"
        REVOKED = "revoked", "Revoked"
        NOT_CONFIRMED = "not_confirmed", "Not confirmed"
        ONLINE_ONLY = "online_only", "Online only"
        ALREADY_CHECKED_IN = "already_checked_in", "Already checked in"
        NOT_CHECKED_IN = "not_checked_in", "Not checked in"

    # (event, created_at) and (event, nonce) lead with the event: no index of its own.
    event = models.ForeignKey("agenda.Event", on_delete=models.CASCADE, related_name="scans", db_index=False)
    registration = models.ForeignKey(
        Registration, on_delete=models.SET_NULL, null=True, blank=True, related_name="scans"
    )
    # The check-in this scan created (ok) or ran into (already_checked_in).
    checkin = models.ForeignKey(
        CheckIn, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    result = models.CharField(max_length=20, choices=Result.choices)
    direction = models.CharField(
        max_length=3, choices=CheckIn.Direction.choices, default=CheckIn.Direction.IN
    )
    manual = models.BooleanField(default=False, help_text="Checked in by id (search), not by badge")
    gate = models.CharField(max_length=100, blank=True)
    nonce = models.CharField(max_length=64, blank=True, help_text="Client id of the scan; empty: none")
    # The first characters of what was scanned, for investigating refusals (no personal data in it).
    code_prefix = models.CharField(max_length=40, blank=True)
    scanned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField()
    scanned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "nonce"], condition=~Q(nonce=""), name="scan_unique_nonce_per_event"
            )
        ]
        indexes = [models.Index(fields=["event", "created_at"], name="scan_event_time")]

    def __str__(self) -> str:
        return f"{self.result} {self.registration_id} @ {self.gate}"
