"""Reads of registrations that need care: lookups by manage token, organiser lists, the
export, the participation summary and the public seat count."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from django.db.models import Count, Q, QuerySet

from config.problems import NotFound
from registrations import data as country_data
from registrations import manage_tokens
from registrations.models import SEAT_HOLDING_STATUSES, Registration
from sessions.models import Event

Status = Registration.Status
Attendance = Registration.Attendance

ORDERING_FIELDS = {
    "created_at",
    "full_name",
    "email",
    "country",
    "status",
    "category",
    "waitlist_position",
    "id",
}


def registration_by_manage_token(*, token: str) -> Registration:
    # A real token is 43 URL-safe characters; anything else cannot match, so do not hash it.
    if not (20 <= len(token) <= 100):
        raise NotFound("No registration for this link.")
    registration = (
        Registration.objects.select_related("event")
        .filter(manage_token_hash=manage_tokens.token_hash(token))
        .first()
    )
    if registration is None:
        raise NotFound("No registration for this link.")
    return registration


def registration_get(*, event: Event, registration_id: int) -> Registration:
    registration = (
        Registration.objects.select_related("event").filter(event=event, id=registration_id).first()
    )
    if registration is None:
        raise NotFound(f"No registration {registration_id} on this event.")
    return registration


def registration_list(
    *,
    event: Event,
    status: list[str] | None = None,
    category: list[str] | None = None,
    attendance: str | None = None,
    country: list[str] | None = None,
    search: str = "",
    ordering: str = "created_at",
) -> QuerySet[Registration]:
    qs = Registration.objects.filter(event=event)
    if status:
        qs = qs.filter(status__in=status)
    if category:
        qs = qs.filter(category__in=category)
    if attendance:
        qs = qs.filter(attendance=attendance)
    if country:
        qs = qs.filter(country__in=[c.upper() for c in country])
    if search:
        qs = qs.filter(
            Q(full_name__icontains=search) | Q(email__icontains=search) | Q(organisation__icontains=search)
        )
    field = ordering.removeprefix("-")
    if field not in ORDERING_FIELDS:
        field, ordering = "created_at", "created_at"
    descending = ordering.startswith("-")
    return qs.order_by(ordering, "-id" if descending else "id")


def events_with_seats_taken(events: QuerySet[Event]) -> QuerySet[Event]:
    """`seats_taken` (in person) on each event, in the same query: no count per event in lists."""
    return events.annotate(
        seats_taken=Count(
            "registrations",
            filter=Q(
                registrations__attendance=Attendance.IN_PERSON,
                registrations__status__in=SEAT_HOLDING_STATUSES,
            ),
        )
    )


def seats_left(*, event: Event) -> int:
    """In-person seats nobody holds (confirmed or pending approval)."""
    taken = getattr(event, "seats_taken", None)
    if taken is None:
        taken = Registration.objects.filter(
            event=event, attendance=Attendance.IN_PERSON, status__in=SEAT_HOLDING_STATUSES
        ).count()
    return max(event.capacity - taken, 0)


def registration_export_rows(*, event: Event, chunk_size: int = 2000, **filters) -> Iterator[Registration]:
    """The event's registrations (optionally filtered as the list is), streamed from the
    database in chunks (a server-side cursor on PostgreSQL): never the whole list in memory."""
    return registration_list(event=event, **filters).iterator(chunk_size=chunk_size)


def registration_summary(*, event: Event) -> dict:
    """Participation counts. `by_status` covers every registration; the other breakdowns count
    the participants (confirmed, pending approval, waitlisted; not cancelled or rejected)."""
    rows = (
        Registration.objects.filter(event=event)
        .values("status", "category", "attendance", "country")
        .annotate(n=Count("id"))
        .order_by()
    )
    active_statuses = {Status.CONFIRMED, Status.PENDING_APPROVAL, Status.WAITLISTED}
    by_status: Counter = Counter({s.value: 0 for s in Status})
    by_category: Counter = Counter({c.value: 0 for c in Registration.Category})
    by_attendance: Counter = Counter({a.value: 0 for a in Attendance})
    by_country: Counter = Counter()
    by_region: Counter = Counter()
    by_subregion: Counter = Counter()
    groups: Counter = Counter({"ldc": 0, "lldc": 0, "sids": 0})
    areas = country_data.m49_areas()
    ldc, lldc, sids = country_data.ldc(), country_data.lldc(), country_data.sids()
    total = held_in_person = confirmed_in_person = 0
    for row in rows:
        n = row["n"]
        by_status[row["status"]] += n
        if row["attendance"] == Attendance.IN_PERSON and row["status"] in (
            Status.CONFIRMED,
            Status.PENDING_APPROVAL,
        ):
            held_in_person += n
            confirmed_in_person += n if row["status"] == Status.CONFIRMED else 0
        if row["status"] not in active_statuses:
            continue
        total += n
        code = row["country"]
        by_category[row["category"]] += n
        by_attendance[row["attendance"]] += n
        by_country[code] += n
        area = areas.get(code)
        by_region[area.region if area else "Unclassified"] += n
        by_subregion[area.subregion if area else "Unclassified"] += n
        groups["ldc"] += n if code in ldc else 0
        groups["lldc"] += n if code in lldc else 0
        groups["sids"] += n if code in sids else 0
    return {
        "total": total,
        "capacity": event.capacity,
        "online_capacity": event.online_capacity,
        "seats_left": max(event.capacity - held_in_person, 0),
        "confirmed_in_person": confirmed_in_person,
        "by_status": dict(by_status),
        "by_category": dict(by_category),
        "by_attendance": dict(by_attendance),
        "by_country": dict(sorted(by_country.items(), key=lambda kv: (-kv[1], kv[0]))),
        "by_region": dict(sorted(by_region.items())),
        "by_subregion": dict(sorted(by_subregion.items())),
        "country_groups": dict(groups),
        "sources": {
            "regions": "UN M49 (UNSD): https://unstats.un.org/unsd/methodology/m49/overview/",
            "ldc": "UN-OHRLLS list of LDCs: https://www.un.org/ohrlls/content/list-ldcs",
            "lldc": "UN-OHRLLS list of LLDCs: https://www.un.org/ohrlls/content/list-lldcs",
            "sids": "UN-OHRLLS list of SIDS: https://www.un.org/ohrlls/content/list-sids",
        },
    }
