"""Writes to the agenda. One function per use case, keyword-only, one transaction each.

Every write that touches the schedule locks the event row first: the overlap checks (room and
speaker conflicts) read other sessions, and two concurrent writers must not both pass them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.problems import ApplicationError
from sessions import cache as agenda_cache
from sessions.models import AgendaVersion, Event, Room, Session, SessionSpeaker, Speaker
from sessions.timezones import get_zone

# A session's calendar SEQUENCE grows only when one of these changes (RFC 5546 §2.1.4: the
# changes that matter to an attendee's calendar).
SEQUENCE_FIELDS = ("title", "starts_at", "ends_at", "room", "speakers")

EVENT_FIELDS = (
    "title",
    "description",
    "venue",
    "timezone",
    "starts_at",
    "ends_at",
    "capacity",
    "online_capacity",
    "online_enabled",
    "webcast_url",
    "approval_required",
    "registration_opens_at",
    "registration_closes_at",
    "checkin_policy",
    "is_published",
)
SESSION_FIELDS = ("title", "description", "kind", "room", "starts_at", "ends_at", "online_url")
SPEAKER_FIELDS = ("name", "title", "organisation", "email", "timezone", "language", "bio")


class InvalidSchedule(ApplicationError):
    code = "invalid_schedule"
    title = "The times do not fit"


class RoomConflict(ApplicationError):
    code = "room_conflict"
    title = "The room is already booked then"


class SpeakerConflict(ApplicationError):
    code = "speaker_conflict"
    title = "A speaker is already booked then"


class SlugTaken(ApplicationError):
    code = "slug_taken"
    title = "An event with this slug exists"


class InvalidReference(ApplicationError):
    code = "invalid_reference"
    title = "A referenced object does not belong to this event"


class RoomNameTaken(ApplicationError):
    code = "room_name_taken"
    title = "A room with this name exists"


def _lock_event(event: Event) -> Event:
    return Event.objects.select_for_update().get(pk=event.pk)


# --- events ----------------------------------------------------------------------------------


def _check_event_window(*, starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise InvalidSchedule(
            "The event must end after it starts.", errors={"ends_at": ["Must be after starts_at."]}
        )


def _check_registration_window(event: Event) -> None:
    if (
        event.registration_opens_at
        and event.registration_closes_at
        and event.registration_closes_at <= event.registration_opens_at
    ):
        raise InvalidSchedule(
            "Registration must close after it opens.",
            errors={"registration_closes_at": ["Must be after registration_opens_at."]},
        )


@transaction.atomic
def event_create(
    *, user, slug: str, title: str, timezone: str, starts_at: datetime, ends_at: datetime, **fields: Any
) -> Event:
    """Create an event; its creator becomes its organiser."""
    from registrations.models import EventRole

    get_zone(timezone)
    _check_event_window(starts_at=starts_at, ends_at=ends_at)
    if Event.objects.filter(slug=slug).exists():
        raise SlugTaken(f"The slug '{slug}' is taken.", errors={"slug": ["Already in use."]})
    unknown = set(fields) - set(EVENT_FIELDS)
    if unknown:
        raise ValueError(f"unknown event fields: {sorted(unknown)}")
    event = Event(slug=slug, title=title, timezone=timezone, starts_at=starts_at, ends_at=ends_at, **fields)
    _check_registration_window(event)
    try:
        with transaction.atomic():
            event.save()
    except IntegrityError as exc:  # the same slug created concurrently
        raise SlugTaken(f"The slug '{slug}' is taken.", errors={"slug": ["Already in use."]}) from exc
    EventRole.objects.create(user=user, event=event, role=EventRole.Role.ORGANISER)
    # A slug can be reused after an event was deleted: retire anything cached under it.
    transaction.on_commit(lambda: agenda_cache.invalidate(event.slug))
    return event


@transaction.atomic
def event_update(*, event: Event, data: dict[str, Any]) -> Event:
    """Edit an event. Changing `timezone` never moves stored instants: only rendering changes.
    A capacity change is handed to the registrations app, which promotes the waitlist."""
    event = _lock_event(event)
    data = dict(data)
    unknown = set(data) - set(EVENT_FIELDS)
    if unknown:
        raise ValueError(f"unknown event fields: {sorted(unknown)}")
    if "timezone" in data:
        get_zone(data["timezone"])
    capacity_change = {k: data.pop(k) for k in ("capacity", "online_capacity") if k in data}
    for name, value in data.items():
        setattr(event, name, value)
    _check_event_window(starts_at=event.starts_at, ends_at=event.ends_at)
    _check_registration_window(event)
    outside = Session.objects.filter(event=event).exclude(
        starts_at__gte=event.starts_at, ends_at__lte=event.ends_at
    )
    if outside.exists():
        raise InvalidSchedule(
            f"{outside.count()} session(s) would lie outside the event; move them first.",
            extra={"sessions": list(outside.values_list("id", flat=True)[:50])},
        )
    event.save()
    if capacity_change:
        _change_capacity(event, **capacity_change)
    transaction.on_commit(lambda: agenda_cache.invalidate(event.slug))
    return event


def _change_capacity(event: Event, **change: int | None) -> None:
    # The registrations app owns seats and the waitlist: its service sets the capacity and
    # promotes waitlisted people into new seats. Imported lazily (it imports this app's models).
    try:
        from registrations.services import registration_capacity_change
    except ImportError:
        for name, value in change.items():
            setattr(event, name, value)
        event.save(update_fields=[*change, "updated_at"])
        return
    registration_capacity_change(
        event=event,
        capacity=change.get("capacity", event.capacity),
        **({"online_capacity": change["online_capacity"]} if "online_capacity" in change else {}),
    )
    event.refresh_from_db()


# --- rooms -----------------------------------------------------------------------------------


@transaction.atomic
def room_create(*, event: Event, name: str, position: int = 0) -> Room:
    event = _lock_event(event)
    if Room.objects.filter(event=event, name=name).exists():
        raise RoomNameTaken(f"A room named '{name}' exists.", errors={"name": ["Already in use."]})
    return Room.objects.create(event=event, name=name, position=position)


@transaction.atomic
def room_update(*, room: Room, data: dict[str, Any]) -> Room:
    _lock_event(room.event)
    name = data.get("name", room.name)
    if Room.objects.filter(event_id=room.event_id, name=name).exclude(pk=room.pk).exists():
        raise RoomNameTaken(f"A room named '{name}' exists.", errors={"name": ["Already in use."]})
    for field in ("name", "position"):
        if field in data:
            setattr(room, field, data[field])
    room.save()
    return room


@transaction.atomic
def room_delete(*, room: Room) -> None:
    _lock_event(room.event)
    room.delete()


# --- speakers --------------------------------------------------------------------------------


@transaction.atomic
def speaker_create(*, event: Event, name: str, **fields: Any) -> Speaker:
    unknown = set(fields) - set(SPEAKER_FIELDS)
    if unknown:
        raise ValueError(f"unknown speaker fields: {sorted(unknown)}")
    if fields.get("timezone"):
        get_zone(fields["timezone"])
    return Speaker.objects.create(event=event, name=name, **fields)


@transaction.atomic
def speaker_update(*, speaker: Speaker, data: dict[str, Any]) -> Speaker:
    unknown = set(data) - set(SPEAKER_FIELDS)
    if unknown:
        raise ValueError(f"unknown speaker fields: {sorted(unknown)}")
    if data.get("timezone"):
        get_zone(data["timezone"])
    for name, value in data.items():
        setattr(speaker, name, value)
    speaker.save()
    return speaker


@transaction.atomic
def speaker_delete(*, speaker: Speaker) -> None:
    _lock_event(speaker.event)
    speaker.delete()


# --- sessions --------------------------------------------------------------------------------


def validate_session(
    *,
    event: Event,
    session_id: int | None,
    starts_at: datetime,
    ends_at: datetime,
    room: Room | None,
    speaker_ids: Sequence[int],
) -> None:
    if ends_at <= starts_at:
        raise InvalidSchedule(
            "A session must end after it starts.", errors={"ends_at": ["Must be after starts_at."]}
        )
    if starts_at < event.starts_at or ends_at > event.ends_at:
        zone = get_zone(event.timezone)
        window = (
            f"{event.starts_at.astimezone(zone).isoformat()} – {event.ends_at.astimezone(zone).isoformat()}"
        )
        raise InvalidSchedule(
            f"A session must lie within the event ({window}).",
            errors={"starts_at": ["Outside the event."]}
            if starts_at < event.starts_at
            else {"ends_at": ["Outside the event."]},
        )
    if room is not None and room.event_id != event.id:
        raise InvalidReference("That room belongs to another event.", errors={"room": ["Unknown room."]})
    # Half-open intervals: a session ending at 10:15 and one starting at 10:15 do not overlap.
    overlapping = Session.objects.filter(event=event, starts_at__lt=ends_at, ends_at__gt=starts_at)
    if session_id is not None:
        overlapping = overlapping.exclude(pk=session_id)
    if room is not None:
        clash = overlapping.filter(room=room).order_by("starts_at").first()
        if clash is not None:
            raise RoomConflict(
                f"'{room.name}' is booked by session {clash.id} ('{clash.title[:80]}') at that time.",
                extra={"conflicting_session": clash.id},
            )
    if speaker_ids:
        clash_link = (
            SessionSpeaker.objects.filter(session__in=overlapping, speaker_id__in=speaker_ids)
            .select_related("speaker", "session")
            .order_by("session__starts_at")
            .first()
        )
        if clash_link is not None:
            raise SpeakerConflict(
                f"{clash_link.speaker.name} is already in session {clash_link.session_id} "
                f"('{clash_link.session.title[:80]}') at that time.",
                extra={"conflicting_session": clash_link.session_id, "speaker": clash_link.speaker_id},
            )


def _speaker_links(*, event: Event, speakers: Sequence[dict]) -> list[tuple[Speaker, str]]:
    ids = [int(item["id"]) for item in speakers]
    if len(set(ids)) != len(ids):
        raise InvalidReference("A speaker is listed twice.", errors={"speakers": ["Duplicate speaker."]})
    found = {s.id: s for s in Speaker.objects.filter(event=event, id__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidReference(
            f"Unknown speaker(s) for this event: {missing[:10]}.", errors={"speakers": ["Unknown speaker."]}
        )
    return [(found[int(item["id"])], item.get("role") or SessionSpeaker.Role.SPEAKER) for item in speakers]


def _set_speakers(session: Session, links: list[tuple[Speaker, str]]) -> None:
    SessionSpeaker.objects.filter(session=session).delete()
    SessionSpeaker.objects.bulk_create(
        [
            SessionSpeaker(session=session, speaker=speaker, role=role, position=position)
            for position, (speaker, role) in enumerate(links)
        ]
    )


@transaction.atomic
def session_create(
    *,
    event: Event,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    speakers: Sequence[dict] = (),
    **fields: Any,
) -> Session:
    """Add a session to the draft. `speakers`: [{"id": speaker id, "role": ...}], in order."""
    event = _lock_event(event)
    unknown = set(fields) - set(SESSION_FIELDS)
    if unknown:
        raise ValueError(f"unknown session fields: {sorted(unknown)}")
    links = _speaker_links(event=event, speakers=speakers)
    validate_session(
        event=event,
        session_id=None,
        starts_at=starts_at,
        ends_at=ends_at,
        room=fields.get("room"),
        speaker_ids=[s.id for s, _ in links],
    )
    session = Session.objects.create(event=event, title=title, starts_at=starts_at, ends_at=ends_at, **fields)
    _set_speakers(session, links)
    return session


@transaction.atomic
def session_update(*, session: Session, data: dict[str, Any]) -> Session:
    """Edit a draft session; `data` holds only the fields to change (`speakers` replaces the list)."""
    event = _lock_event(session.event)
    session = Session.objects.select_for_update().get(pk=session.pk)
    data = dict(data)
    speakers = data.pop("speakers", None)
    unknown = set(data) - set(SESSION_FIELDS)
    if unknown:
        raise ValueError(f"unknown session fields: {sorted(unknown)}")
    for name, value in data.items():
        setattr(session, name, value)
    if speakers is None:
        links = None
        speaker_ids = list(session.session_speakers.values_list("speaker_id", flat=True))
    else:
        links = _speaker_links(event=event, speakers=speakers)
        speaker_ids = [s.id for s, _ in links]
    validate_session(
        event=event,
        session_id=session.id,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        room=session.room,
        speaker_ids=speaker_ids,
    )
    session.save()
    if links is not None:
        _set_speakers(session, links)
    return session


@transaction.atomic
def session_delete(*, session: Session) -> None:
    """Remove from the draft; the next publish lists it as removed (and invites are cancelled)."""
    _lock_event(session.event)
    session.delete()


# --- publishing ------------------------------------------------------------------------------


def _session_snapshot(session: Session) -> dict:
    return {
        "id": session.id,
        "uid": str(session.uid),
        "title": session.title,
        "description": session.description,
        "kind": session.kind,
        "room": session.room.name if session.room else "",
        "starts_at": session.starts_at.astimezone(UTC).isoformat(),
        "ends_at": session.ends_at.astimezone(UTC).isoformat(),
        "online_url": session.online_url,
        "speakers": [
            {
                "id": link.speaker.id,
                "name": link.speaker.name,
                "title": link.speaker.title,
                "organisation": link.speaker.organisation,
                "role": link.role,
            }
            for link in session.session_speakers.all()
        ],
    }


def _event_snapshot(event: Event) -> dict:
    return {
        "uid": str(event.uid),
        "title": event.title,
        "venue": event.venue,
        "timezone": event.timezone,
        "starts_at": event.starts_at.astimezone(UTC).isoformat(),
        "ends_at": event.ends_at.astimezone(UTC).isoformat(),
        "webcast_url": event.webcast_url,
    }


def _diff(previous: list[dict], current: list[dict]) -> dict:
    before = {s["uid"]: s for s in previous}
    after = {s["uid"]: s for s in current}
    diff: dict[str, Any] = {
        "added": [],
        "removed": [],
        "moved": [],
        "retitled": [],
        "room_changed": [],
        "speakers_changed": [],
    }
    for uid, new in after.items():
        old = before.get(uid)
        if old is None:
            diff["added"].append(uid)
            continue
        if (old["starts_at"], old["ends_at"]) != (new["starts_at"], new["ends_at"]):
            diff["moved"].append(uid)
        if old["title"] != new["title"]:
            diff["retitled"].append(uid)
        if old["room"] != new["room"]:
            diff["room_changed"].append(uid)
        if [(s["id"], s["role"]) for s in old["speakers"]] != [(s["id"], s["role"]) for s in new["speakers"]]:
            diff["speakers_changed"].append(uid)
    diff["removed"] = [uid for uid in before if uid not in after]
    return diff


@transaction.atomic
def agenda_publish(*, event: Event, comment: str = "") -> AgendaVersion:
    """Freeze the draft agenda as version N+1 and return it, with its diff to version N.

    A session's `sequence` grows by one only when its time, room, title or speakers changed;
    `Event.sequence` grows when the event's own time changed since the last version (the
    attendees' event-level invite then needs an update)."""
    event = _lock_event(event)
    previous = event.agenda_versions.order_by("-number").first()
    previous_sessions = previous.sessions if previous else []
    previous_by_uid = {s["uid"]: s for s in previous_sessions}

    drafts = (
        Session.objects.filter(event=event)
        .select_related("room")
        .prefetch_related("session_speakers__speaker")
        .order_by("starts_at", "id")
    )
    current = [_session_snapshot(session) for session in drafts]
    diff = _diff(previous_sessions, current)
    changed = (
        set(diff["moved"]) | set(diff["retitled"]) | set(diff["room_changed"]) | set(diff["speakers_changed"])
    )
    for entry in current:
        old = previous_by_uid.get(entry["uid"])
        if old is None:
            entry["sequence"] = 0
        else:
            entry["sequence"] = old["sequence"] + (1 if entry["uid"] in changed else 0)

    snapshot = _event_snapshot(event)
    old_event = previous.event_snapshot if previous else {}
    event_changed = bool(old_event) and (old_event.get("starts_at"), old_event.get("ends_at")) != (
        snapshot["starts_at"],
        snapshot["ends_at"],
    )
    diff["event_changed"] = event_changed
    if event_changed:
        event.sequence += 1
        event.save(update_fields=["sequence", "updated_at"])
    snapshot["sequence"] = event.sequence

    version = AgendaVersion.objects.create(
        event=event,
        number=(previous.number + 1) if previous else 1,
        comment=comment,
        published_at=timezone.now(),
        sessions=current,
        diff=diff,
        event_snapshot=snapshot,
    )
    from notifications.services import agenda_published

    agenda_published(version=version)
    transaction.on_commit(lambda: agenda_cache.invalidate(event.slug))
    return version
