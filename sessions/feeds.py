"""Calendar feeds of the published agenda: snapshot entries → `notifications.ical` items.

Pure: the caller passes the published version's snapshot and the few settings it needs, so the
feeds, the email invites and the tests all build the same VEVENT for a session.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from notifications.ical import CalendarItem, build_calendar, session_uid

ROLE_LABELS = {"speaker": "Speaker", "moderator": "Moderator", "chair": "Chair"}


def session_description(entry: dict) -> str:
    parts = []
    if entry.get("description"):
        parts.append(entry["description"])
    if entry.get("speakers"):
        lines = []
        for speaker in entry["speakers"]:
            who = speaker["name"]
            # Skip what the name already says ("Director, UNOSSC" needs no "(Director)").
            extras = [
                x
                for x in (speaker.get("title"), speaker.get("organisation"))
                if x and x.lower() not in who.lower()
            ]
            if extras:
                who = f"{who} ({', '.join(extras)})"
            role = ROLE_LABELS.get(speaker.get("role", ""), "")
            lines.append(f"{role}: {who}" if role and role != "Speaker" else who)
        parts.append("Speakers:\n" + "\n".join(f"- {line}" for line in lines))
    if entry.get("online_url"):
        parts.append(f"Watch online: {entry['online_url']}")
    return "\n\n".join(parts)


def session_location(entry: dict, venue: str) -> str:
    return ", ".join(x for x in (entry.get("room", ""), venue) if x)


def session_item(entry: dict, *, host: str, venue: str, url: str, status: str = "CONFIRMED") -> CalendarItem:
    return CalendarItem(
        uid=session_uid(entry["uid"], host),
        sequence=int(entry["sequence"]),
        summary=entry["title"],
        starts_at=datetime.fromisoformat(entry["starts_at"]),
        ends_at=datetime.fromisoformat(entry["ends_at"]),
        description=session_description(entry),
        location=session_location(entry, venue),
        url=url,
        status=status,
    )


def agenda_feed(
    *,
    entries: Iterable[dict],
    host: str,
    venue: str,
    tzid: str,
    published_at: datetime,
    calendar_name: str,
    url_for: callable,
) -> bytes:
    """METHOD:PUBLISH, one VEVENT per entry. DTSTAMP is the publish time, so the bytes (and
    their ETag) change only when a new version is published."""
    items = [session_item(entry, host=host, venue=venue, url=url_for(entry)) for entry in entries]
    return build_calendar(
        method="PUBLISH", items=items, tzid=tzid, now=published_at, calendar_name=calendar_name
    )
