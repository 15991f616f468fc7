"""SeatCount: the counts the database triggers keep always equal a count of the registrations,
whatever writes them (services, the ORM, bulk statements, deletes), on PostgreSQL and SQLite."""

from __future__ import annotations

import random

import pytest
from django.db.models import Count

from registrations import services
from registrations.models import Registration, SeatCount
from tests.factories import EventFactory, RegistrationFactory

pytestmark = pytest.mark.django_db

Status, Attendance = Registration.Status, Registration.Attendance


def counted(event) -> dict[tuple[str, str], int]:
    rows = SeatCount.objects.filter(event=event).values_list("attendance", "status", "total")
    return {(attendance, status): total for attendance, status, total in rows if total}


def truth(event) -> dict[tuple[str, str], int]:
    rows = (
        Registration.objects.filter(event=event)
        .values("attendance", "status")
        .annotate(n=Count("id"))
        .values_list("attendance", "status", "n")
    )
    return {(attendance, status): n for attendance, status, n in rows}


def test_counts_follow_inserts_updates_and_deletes():
    event = EventFactory(capacity=2)
    people = [RegistrationFactory(event=event, status=Status.CONFIRMED) for _ in range(3)]
    assert counted(event) == {(Attendance.IN_PERSON, Status.CONFIRMED): 3}

    people[0].status = Status.CANCELLED
    people[0].save()
    Registration.objects.filter(pk=people[1].pk).update(attendance=Attendance.ONLINE)
    people[2].delete()

    assert counted(event) == {
        (Attendance.IN_PERSON, Status.CANCELLED): 1,
        (Attendance.ONLINE, Status.CONFIRMED): 1,
    }
    assert counted(event) == truth(event)


def test_bulk_writes_and_position_only_changes_are_counted_right():
    event = EventFactory(capacity=10)
    Registration.objects.bulk_create(
        RegistrationFactory.build(
            event=event, status=Status.WAITLISTED, waitlist_position=i, email=f"w{i}@example.org"
        )
        for i in range(1, 6)
    )
    Registration.objects.filter(event=event, waitlist_position__lte=2).update(
        status=Status.CONFIRMED, waitlist_position=None
    )
    # Renumbering the waitlist moves no count.
    for position, registration in enumerate(Registration.objects.filter(status=Status.WAITLISTED), start=1):
        Registration.objects.filter(pk=registration.pk).update(waitlist_position=position)

    assert (
        counted(event)
        == truth(event)
        == {
            (Attendance.IN_PERSON, Status.CONFIRMED): 2,
            (Attendance.IN_PERSON, Status.WAITLISTED): 3,
        }
    )


def test_counts_of_one_event_never_move_another_s():
    event, other = EventFactory(), EventFactory()
    RegistrationFactory(event=other, status=Status.CONFIRMED)
    registration = RegistrationFactory(event=event, status=Status.CONFIRMED)
    registration.delete()

    assert counted(other) == {(Attendance.IN_PERSON, Status.CONFIRMED): 1}
    assert counted(event) == {}


def test_seat_usage_reads_the_counts_after_a_random_history_of_service_calls():
    rng = random.Random(20260912)
    event = EventFactory(capacity=5, online_capacity=3)
    alive: list[Registration] = []
    for i in range(60):
        action = rng.random()
        if action < 0.6 or not alive:
            data = {
                "full_name": f"Participant {i}",
                "email": f"p{i}@example.org",
                "country": "SN",
                "category": "member_state",
                "attendance": rng.choice([Attendance.IN_PERSON, Attendance.ONLINE]),
                "consent": True,
            }
            alive.append(services.registration_create(event=event, **data))
        elif action < 0.85:
            services.registration_cancel(registration=alive.pop(rng.randrange(len(alive))))
        else:
            services.registration_capacity_change(event=event, capacity=event.capacity + 1)

    usage = services.seat_usage(event.id)
    rows = truth(event)
    assert counted(event) == rows
    held = (Status.CONFIRMED, Status.PENDING_APPROVAL)
    assert usage.in_person == sum(rows.get((Attendance.IN_PERSON, s), 0) for s in held)
    assert usage.online == sum(rows.get((Attendance.ONLINE, s), 0) for s in held)
    assert usage.waitlisted == sum(n for (_a, s), n in rows.items() if s == Status.WAITLISTED)
    positions = Registration.objects.filter(event=event, status=Status.WAITLISTED).values_list(
        "waitlist_position", flat=True
    )
    assert usage.last_position == max(positions, default=0)
    assert usage.in_person <= event.capacity


def test_the_seat_count_triggers_survive_every_migration():
    # SQLite rebuilds a table to alter it, and a rebuilt table has lost its triggers: a later
    # migration of the registration table that forgot them would leave the counts frozen.
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                [Registration._meta.db_table],
            )
        else:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                [Registration._meta.db_table],
            )
        names = {name for (name,) in cursor.fetchall()}
    expected = {
        "sqlite": {
            "registrations_seat_count_insert",
            "registrations_seat_count_delete",
            "registrations_seat_count_update",
        },
        "postgresql": {"registrations_seat_count_insert_delete", "registrations_seat_count_update"},
    }[connection.vendor]
    assert names == expected
