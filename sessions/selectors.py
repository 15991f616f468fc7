"""Reads of the agenda that need care."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from django.db import connection
from django.db.models import Prefetch, QuerySet

from config import sql
from config.problems import NotFound
from sessions import i18n
from sessions.models import AgendaVersion, Event, Room, Session, SessionSpeaker, Speaker
from sessions.timezones import get_zone, utc_offset_label


def event_list_public() -> QuerySet[Event]:
    return Event.objects.filter(is_published=True).order_by("starts_at", "id")


@lru_cache(maxsize=4)
def _event_public_sql(vendor: str):
    meta = Event._meta
    statement = (
        f"SELECT {sql.columns(meta.concrete_fields)} FROM {sql.table(meta)} "  # noqa: S608
        f"WHERE {sql.column(meta, 'slug')} = %s AND {sql.column(meta, 'is_published')}"
    )
    return statement, sql.loader(Event, meta.concrete_fields)


def event_get_public(*, slug: str) -> Event:
    """The published event with this slug, or 404.

    Every public request (a sign-up, the agenda) starts here: a prepared statement read through
    the ORM's converters, the same Event as `Event.objects.get(...)` gives, for about a fifth of
    the ORM's CPU (0.54 ms per call, most of it building and compiling the query)."""
    statement, load = _event_public_sql(connection.vendor)
    with sql.prepared_cursor() as cursor:
        cursor.execute(statement, [slug])
        row = cursor.fetchone()  # the slug is unique: one row at most
    if row is None:
        raise NotFound(f"No published event '{slug[:80]}'.")
    return load(row)


def event_get(*, slug: str) -> Event:
    """Any event, published or not (organiser views; the permission check has run)."""
    event = Event.objects.filter(slug=slug).first()
    if event is None:
        raise NotFound(f"No event '{slug[:80]}'.")
    return event


def agenda_latest_version(*, event: Event) -> AgendaVersion | None:
    return event.agenda_versions.order_by("-number").first()


def agenda_versions(*, event: Event) -> QuerySet[AgendaVersion]:
    return event.agenda_versions.order_by("-number").defer("sessions")


def session_list(*, event: Event) -> QuerySet[Session]:
    return (
        Session.objects.filter(event=event)
        .select_related("room")
        .prefetch_related(
            Prefetch("session_speakers", queryset=SessionSpeaker.objects.select_related("speaker"))
        )
        .order_by("starts_at", "id")
    )


def session_get(*, event: Event, session_id: int) -> Session:
    session = session_list(event=event).filter(pk=session_id).first()
    if session is None:
        raise NotFound(f"No session {session_id} in this event.")
    return session


def speaker_list(*, event: Event) -> QuerySet[Speaker]:
    return Speaker.objects.filter(event=event).order_by("name", "id")


def speaker_get(*, event: Event, speaker_id: int) -> Speaker:
    speaker = speaker_list(event=event).filter(pk=speaker_id).first()
    if speaker is None:
        raise NotFound(f"No speaker {speaker_id} in this event.")
    return speaker


def room_list(*, event: Event) -> QuerySet[Room]:
    return Room.objects.filter(event=event).order_by("position", "id")


def room_get(*, event: Event, room_id: int) -> Room:
    room = room_list(event=event).filter(pk=room_id).first()
    if room is None:
        raise NotFound(f"No room {room_id} in this event.")
    return room


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def agenda_for_viewer(*, event: Event, version: AgendaVersion | None, tz: str, language: str) -> dict:
    """The published agenda as a viewer in `tz` sees it: times with that zone's offset, the UTC
    instant, the local date (which may differ from the venue's), localised labels."""
    zone = get_zone(tz)
    sessions = []
    for entry in version.sessions if version else []:
        starts = datetime.fromisoformat(entry["starts_at"])
        ends = datetime.fromisoformat(entry["ends_at"])
        local_start, local_end = starts.astimezone(zone), ends.astimezone(zone)
        sessions.append(
            {
                "id": entry["id"],
                "uid": entry["uid"],
                "sequence": entry["sequence"],
                "title": entry["title"],
                "description": entry["description"],
                "kind": entry["kind"],
                "kind_title": i18n.kind_title(entry["kind"], language),
                "room": entry["room"],
                "starts_at": local_start.isoformat(),
                "ends_at": local_end.isoformat(),
                "starts_at_utc": _utc(starts),
                "ends_at_utc": _utc(ends),
                "utc_offset": utc_offset_label(local_start),
                "date": local_start.date().isoformat(),
                "end_date": local_end.date().isoformat(),
                "date_label": i18n.date_label(starts, zone, language),
                "time_label": " – ".join(i18n.time_label(t, zone, language) for t in (starts, ends)),
                "online_url": entry["online_url"],
                "speakers": [
                    {
                        "id": s["id"],
                        "name": s["name"],
                        "title": s["title"],
                        "organisation": s["organisation"],
                        "role": s["role"],
                    }
                    for s in entry["speakers"]
                ],
            }
        )
    return {
        "event": event.slug,
        "timezone": tz,
        "event_timezone": event.timezone,
        "language": language,
        "version": version.number if version else None,
        "published_at": version.published_at.isoformat() if version else None,
        "sessions": sessions,
    }
