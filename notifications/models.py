"""The outbox: one row per message to send, written in the transaction that causes it."""

from __future__ import annotations

from django.db import models


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

    event = models.ForeignKey("agenda.Event", on_delete=models.CASCADE, related_name="notifications")
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
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
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
        indexes = [models.Index(fields=["status", "created_at"]), models.Index(fields=["event", "status"])]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_email} [{self.status}]"
