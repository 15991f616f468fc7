"""Writes to the agenda. One function per use case, keyword-only, one transaction each."""

from __future__ import annotations

from datetime import UTC

from django.db import transaction
from django.utils import timezone

from sessions.models import AgendaVersion, Event, Session

# A session's calendar SEQUENCE grows only when one of these changes (RFC 5546 §2.1.4: the
# changes that matter to an attendee's calendar).
SEQUENCE_FIELDS = ("title", "starts_at", "ends_at", "room", "speakers")


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


def _diff(previous: list[dict], current: list[dict]) -> dict:
    before = {s["uid"]: s for s in previous}
    after = {s["uid"]: s for s in current}
    diff: dict[str, list] = {
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
    """Freeze the draft agenda as version N+1 and return it, with its diff to version N."""
    event = Event.objects.select_for_update().get(pk=event.pk)
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

    version = AgendaVersion.objects.create(
        event=event,
        number=(previous.number + 1) if previous else 1,
        comment=comment,
        published_at=timezone.now(),
        sessions=current,
        diff=diff,
    )
    return version
