"""Reads of the agenda that need care."""

from __future__ import annotations

from django.db.models import QuerySet

from config.problems import NotFound
from sessions.models import AgendaVersion, Event


def event_list_public() -> QuerySet[Event]:
    return Event.objects.filter(is_published=True).order_by("starts_at", "id")


def event_get_public(*, slug: str) -> Event:
    event = Event.objects.filter(slug=slug, is_published=True).first()
    if event is None:
        raise NotFound(f"No published event '{slug[:80]}'.")
    return event


def agenda_latest_version(*, event: Event) -> AgendaVersion | None:
    return event.agenda_versions.order_by("-number").first()
