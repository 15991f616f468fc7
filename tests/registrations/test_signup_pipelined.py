"""The PostgreSQL sign-up (lock, seat decision, registration and outbox row in one round trip)
writes what the general path writes, rolls back as a whole, and leaves the connection usable."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from notifications.models import Notification
from registrations import services
from registrations.models import Registration, SeatCount
from tests.factories import EventFactory
from tests.registrations.conftest import signup_payload

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

S = Registration.Status
# What differs between two registrations of the same person on two events, by construction.
_NOT_COMPARED = {
    "id",
    "event",
    "manage_token_salt",
    "manage_token_hash",
    "consent_at",
    "created_at",
    "updated_at",
}


def _registration_fields(registration: Registration) -> dict:
    row = Registration.objects.get(pk=registration.pk)
    return {
        f.name: getattr(row, f.attname)
        for f in Registration._meta.concrete_fields
        if f.name not in _NOT_COMPARED
    }


def _outbox_fields(registration: Registration) -> list[dict]:
    rows = Notification.objects.filter(subject_type="registration", subject_id=registration.pk)
    keep = (
        "kind",
        "recipient_email",
        "recipient_name",
        "language",
        "version",
        "context",
        "status",
        "attempts",
    )
    return [{name: getattr(row, name) for name in keep} for row in rows]


def _sign_up_both_ways(monkeypatch, *, event_kwargs: dict, fill: int, **payload) -> tuple:
    """The same sign-up on two identical events (each with `fill` sign-ups before it): through
    the pipelined path, and through the general one."""
    results = []
    for insert in (services._registration_insert_pipelined, services._registration_insert_locked):
        monkeypatch.setattr(services, "_registration_insert", insert)
        event = EventFactory(**event_kwargs)
        for n in range(fill):
            services.registration_create(
                event=event,
                **signup_payload(email=f"before{n}@example.org", attendance=payload["attendance"]),
            )
        results.append(services.registration_create(event=event, **signup_payload(**payload)))
    return tuple(results)


def _unsaved_registration(*, event_id: int, consent_at) -> Registration:
    """What `registration_create` hands to the insert: every field set but the seat's."""
    return Registration(
        event_id=event_id,
        full_name="Amina Diallo",
        email="amina@example.org",
        email_normalized="amina@example.org",
        country="SN",
        category="member_state",
        attendance="in_person",
        timezone="Africa/Dakar",
        consent_at=consent_at,
        manage_token_salt="s" * 32,
        manage_token_hash="h" * 64,
    )


@pytest.mark.parametrize(
    ("event_kwargs", "fill", "attendance", "status", "position"),
    [
        ({"capacity": 2}, 0, "in_person", S.CONFIRMED, None),
        ({"capacity": 2}, 2, "in_person", S.WAITLISTED, 1),
        ({"capacity": 2}, 4, "in_person", S.WAITLISTED, 3),
        ({"capacity": 2, "approval_required": True}, 1, "in_person", S.PENDING_APPROVAL, None),
        ({"capacity": 2, "approval_required": True}, 2, "in_person", S.WAITLISTED, 1),
        ({"capacity": 0, "online_enabled": True, "online_capacity": None}, 3, "online", S.CONFIRMED, None),
        ({"capacity": 9, "online_enabled": True, "online_capacity": 1}, 1, "online", S.WAITLISTED, 1),
        ({"capacity": 0, "online_enabled": True, "online_capacity": 1}, 0, "online", S.CONFIRMED, None),
    ],
)
def test_both_paths_write_the_same_registration_and_outbox_row(
    monkeypatch, event_kwargs, fill, attendance, status, position
):
    pipelined, general = _sign_up_both_ways(
        monkeypatch,
        event_kwargs=event_kwargs,
        fill=fill,
        email="layla@example.org",
        full_name="ليلى بن علي",
        attendance=attendance,
    )
    assert (pipelined.status, pipelined.waitlist_position) == (status, position)
    assert (general.status, general.waitlist_position) == (status, position)
    assert _registration_fields(pipelined) == _registration_fields(general)
    assert _outbox_fields(pipelined) == _outbox_fields(general)
    assert len(_outbox_fields(pipelined)) == 1


def test_a_sign_up_outside_a_transaction_is_one_round_trip_and_commits():
    event = EventFactory(capacity=5)
    registration = _unsaved_registration(event_id=event.id, consent_at=event.starts_at)
    assert not connection.in_atomic_block
    with CaptureQueriesContext(connection) as queries:
        services._registration_insert(registration)
    # Both statements went in one pipeline: no BEGIN, SAVEPOINT or COMMIT of Django's around them.
    assert len(queries) == 2
    assert "FOR NO KEY UPDATE" in queries[0]["sql"]
    assert connection.connection.info.transaction_status.name == "IDLE"  # committed
    assert Registration.objects.get(pk=registration.pk).status == S.CONFIRMED
    counts = {(c.attendance, c.status): c.total for c in SeatCount.objects.filter(event=event)}
    assert counts == {("in_person", S.CONFIRMED): 1}


def test_a_duplicate_address_rolls_back_the_whole_sign_up_and_leaves_the_connection_usable():
    event = EventFactory(capacity=1)
    first = services.registration_create(event=event, **signup_payload(email="amina@example.org"))

    with pytest.raises(services.AlreadyRegistered):
        services.registration_create(event=event, **signup_payload(email=" AMINA@example.org"))

    assert connection.connection.info.transaction_status.name == "IDLE"
    assert list(Registration.objects.filter(event=event).values_list("id", flat=True)) == [first.id]
    # No outbox row or seat count of the refused insert survived (only the re-sent link).
    kinds = sorted(Notification.objects.filter(event=event).values_list("kind", flat=True))
    assert kinds == ["already_registered", "confirmation"]
    counts = {(c.attendance, c.status): c.total for c in SeatCount.objects.filter(event=event)}
    assert counts == {("in_person", S.CONFIRMED): 1}
    # The next sign-up, on the same connection, goes through (to the waitlist: one seat).
    second = services.registration_create(event=event, **signup_payload(email="omar@example.org"))
    assert (second.status, second.waitlist_position) == (S.WAITLISTED, 1)


def test_inside_a_callers_transaction_a_refused_sign_up_keeps_that_transaction_alive():
    event = EventFactory(capacity=3)
    with transaction.atomic():
        services.registration_create(event=event, **signup_payload(email="amina@example.org"))
        with pytest.raises(services.AlreadyRegistered):
            services.registration_create(event=event, **signup_payload(email="amina@example.org"))
        later = services.registration_create(event=event, **signup_payload(email="omar@example.org"))
    assert later.status == S.CONFIRMED
    assert Registration.objects.filter(event=event).count() == 2


def test_a_deleted_event_is_refused_without_writing():
    event = EventFactory(capacity=3)
    registration = _unsaved_registration(event_id=event.id + 10_000, consent_at=event.starts_at)
    with pytest.raises(type(event).DoesNotExist):
        services._registration_insert(registration)
    assert not Registration.objects.filter(email_normalized="amina@example.org").exists()
