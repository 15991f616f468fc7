"""Reads of the outbox."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from config.problems import NotFound
from notifications.models import Notification


def notification_list(*, event, status: str | None = None, kind: str | None = None) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(event=event)
    if status:
        notifications = notifications.filter(status=status)
    if kind:
        notifications = notifications.filter(kind=kind)
    return notifications.order_by("-created_at", "-id")


def notification_get(*, event, notification_id: int) -> Notification:
    notification = Notification.objects.filter(event=event, pk=notification_id).first()
    if notification is None:
        raise NotFound(f"No notification {notification_id} on this event.")
    return notification


def notification_counts(*, event) -> dict[str, int]:
    """Rows per status, every status present (zeros included)."""
    counts = dict.fromkeys(Notification.Status.values, 0)
    for row in Notification.objects.filter(event=event).values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts
