"""The outbox: one row per message to send, written in the transaction that causes it."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Notification(models.Model):
    class Kind(models.TextChoices):
        CONFIRMATION = "confirmation", "Confirmation"
        WAITLISTED = "waitlisted", "Waitlisted"
        PROMOTED = "promoted", "Promoted from the waitlist"
        PENDING_APPROVAL = "pending_approval", "Pending approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        ALREADY_REGISTERED = "already_registered", "Already registered"
        AGENDA_UPDATE = "agenda_update", "Agenda update"
        SPEAKER_INVITE = "speaker_invite", "Speaker invite"
        REMINDER = "reminder", "Reminder"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # The renderer found the message no longer true (registration cancelled since, subject
        # deleted): done, nothing sent.
        SKIPPED = "skipped", "Skipped (no longer applies)"

    # Indexed by (event, status). Every index here is rewritten on each status change (claim,
    # sent), so none is repeated: `status` alone is the left part of two of them.
    event = models.ForeignKey(
        "agenda.Event", on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    recipient_email = models.EmailField(max_length=254)
    recipient_name = models.CharField(max_length=200, blank=True)
    language = models.CharField(max_length=5, default="en")
    # What the message is about: ("registration", id), ("speaker", id), ("session", id)...
    subject_type = models.CharField(max_length=30)
    subject_id = models.BigIntegerField()
    # Distinguishes legitimate repeats: an agenda version, an invite SEQUENCE, a resend window.
    version = models.CharField(max_length=64, default="1")
    # Everything the renderer needs that is not re-read at send time (e.g. the manage token,
    # which is never stored in clear elsewhere). Cleared once sent.
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Not before: a retry's backoff ends here. The sweep treats a pending row whose time came
    # more than a grace period ago as lost by the broker and dispatches it again.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Id of the Celery task holding the claim: a redelivery of that same task message (its
    # worker was killed mid-send) may take the claim over; any other task may not.
    claim_token = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient_email", "kind", "subject_type", "subject_id", "version"],
                name="notification_once_per_recipient_kind_subject_version",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["status", "claimed_at"]),
            models.Index(fields=["event", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_email} [{self.status}]"


class AgendaFanout(models.Model):
    """The durable record of "this published version still has to be announced".

    Written in the publish transaction, so a broker that was down at commit time loses nothing:
    the sweep finds the pending record and runs the fan-out later. The fan-out itself writes
    one outbox row per recipient (idempotent through the Notification unique constraint)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    agenda_version = models.OneToOneField(
        "agenda.AgendaVersion", on_delete=models.CASCADE, related_name="fanout"
    )
    event = models.ForeignKey("agenda.Event", on_delete=models.CASCADE, related_name="agenda_fanouts")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=64, blank=True)
    attendee_count = models.PositiveIntegerField(default=0)
    speaker_count = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"fan-out of {self.agenda_version_id} [{self.status}]"
