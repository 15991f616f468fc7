"""Check-in reads: the event for a staff member, door stats, the offline bundle, name search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncMinute
from django.utils import timezone

from config import sql
from registrations import badge_tokens
from registrations.models import CheckIn, EventRole, Registration
from sessions.models import Event

STATS_CACHE_SECONDS = 2
ARRIVAL_BUCKET_MINUTES = 5
SEARCH_LIMIT = 10


_EVENT_FIELDS = ("id", "slug", "timezone", "checkin_policy")


@lru_cache(maxsize=8)
def _event_role_sql(vendor: str, role_count: int) -> tuple[str, list[str]]:
    event, role = Event._meta, EventRole._meta
    fields = [f.attname for f in event.concrete_fields if f.attname in _EVENT_FIELDS]  # from_db order
    cols = ", ".join(f"e.{sql.column(event, name)}" for name in fields)
    marks = ", ".join(["%s"] * role_count)
    statement = (
        f"SELECT {cols} FROM {sql.table(event)} e WHERE e.{sql.column(event, 'slug')} = %s "  # noqa: S608
        f"AND EXISTS (SELECT 1 FROM {sql.table(role)} r "
        f"WHERE r.{sql.column(role, 'event')} = e.{sql.column(event, 'pk')} "
        f"AND r.{sql.column(role, 'user')} = %s AND r.{sql.column(role, 'role')} IN ({marks}))"
    )
    return statement, fields


def event_for_role(*, slug: str, user, roles: tuple[str, ...]) -> Event | None:
    """The event if `user` holds one of `roles` on it, in one query (the scan path counts them).

    Plain SQL: this runs on every scan, and building it with the ORM costs more than the query.
    """
    if not (user and user.is_authenticated) or not roles:
        return None
    statement, fields = _event_role_sql(connection.vendor, len(roles))
    with sql.prepared_cursor() as cursor:
        cursor.execute(statement, [slug, user.pk, *roles])
        row = cursor.fetchone()
    return None if row is None else Event.from_db(connection.alias, fields, row)


def events_for_staff(*, user) -> list[Event]:
    """Events on which the user may scan (scanner page event picker)."""
    return list(
        Event.objects.filter(
            Exists(
                EventRole.objects.filter(
                    event=OuterRef("pk"),
                    user=user,
                    role__in=(EventRole.Role.ORGANISER, EventRole.Role.CHECKIN),
                )
            )
        ).only("id", "slug", "title", "starts_at", "checkin_policy")
    )


def _active_entry():
    return CheckIn.objects.filter(
        registration=OuterRef("pk"), undone_at__isnull=True, direction=CheckIn.Direction.IN
    )


def _stats_cache_key(event_id: int) -> str:
    return f"checkin-stats:{event_id}"


def checkin_stats(*, event: Event) -> dict:
    """Checked in / expected by category and attendance, arrivals per 5 minutes.

    Two aggregate queries, cached for a couple of seconds so a dashboard can poll it.
    """
    key = _stats_cache_key(event.id)
    cached = cache.get(key)
    if cached is not None:
        return cached

    # Query 1: confirmed registrations grouped by (category, attendance), with how many entered.
    rows = (
        Registration.objects.filter(event_id=event.id, status=Registration.Status.CONFIRMED)
        .values("category", "attendance")
        .annotate(expected=Count("id"), checked_in=Count("id", filter=Q(Exists(_active_entry()))))
        .order_by()
    )
    by_category: dict[str, dict] = {
        value: {"category": value, "expected": 0, "checked_in": 0} for value in Registration.Category.values
    }
    by_attendance: dict[str, dict] = {
        value: {"attendance": value, "expected": 0, "checked_in": 0}
        for value in Registration.Attendance.values
    }
    total_expected = total_checked_in = 0
    for row in rows:
        for bucket in (by_category[row["category"]], by_attendance[row["attendance"]]):
            bucket["expected"] += row["expected"]
            bucket["checked_in"] += row["checked_in"]
        total_expected += row["expected"]
        total_checked_in += row["checked_in"]

    # Query 2: entries per minute (portable SQL), folded into 5-minute buckets here.
    per_minute = (
        CheckIn.objects.filter(event_id=event.id, undone_at__isnull=True, direction=CheckIn.Direction.IN)
        .annotate(minute=TruncMinute("created_at", tzinfo=UTC))
        .values("minute")
        .annotate(count=Count("id"))
        .order_by("minute")
    )
    buckets: dict[datetime, int] = {}
    for row in per_minute:
        minute = row["minute"]
        start = minute.replace(minute=minute.minute - minute.minute % ARRIVAL_BUCKET_MINUTES)
        buckets[start] = buckets.get(start, 0) + row["count"]

    stats = {
        "event": event.slug,
        "generated_at": timezone.now(),
        "expected": total_expected,
        "checked_in": total_checked_in,
        "by_category": list(by_category.values()),
        "by_attendance": list(by_attendance.values()),
        "arrivals": [
            {
                "starts_at": start,
                "ends_at": start + timedelta(minutes=ARRIVAL_BUCKET_MINUTES),
                "count": count,
            }
            for start, count in sorted(buckets.items())
        ],
    }
    cache.set(key, stats, STATS_CACHE_SECONDS)
    return stats


def checkin_bundle(*, event: Event) -> dict:
    """What an offline scanner needs to decide alone: the keys and who is refused anyway."""
    revoked = Registration.objects.filter(
        event_id=event.id, status__in=(Registration.Status.CANCELLED, Registration.Status.REJECTED)
    ).values_list("id", flat=True)
    reissued = Registration.objects.filter(event_id=event.id, badge_counter__gt=1).values_list(
        "id", "badge_counter"
    )
    return {
        "event": {"id": event.id, "slug": event.slug},
        "generated_at": timezone.now(),
        "keys": badge_tokens.public_keys(),
        "revoked_registration_ids": sorted(revoked),
        # Badges with an older counter than this are revoked (reissued badges).
        "badge_counters": [{"registration_id": rid, "counter": counter} for rid, counter in reissued],
    }


def checkin_search(*, event: Event, query: str, limit: int = SEARCH_LIMIT) -> list[Registration]:
    """A few registrations whose name (or organisation) contains `query`: for people without a badge."""
    query = query.strip()
    if len(query) < 2:
        return []
    return list(
        Registration.objects.filter(event_id=event.id)
        .filter(Q(full_name__icontains=query) | Q(organisation__icontains=query))
        .only("id", "full_name", "organisation", "category", "attendance", "status")
        .annotate(checked_in=Exists(_active_entry()))
        .order_by("full_name", "id")[:limit]
    )
