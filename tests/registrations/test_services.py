"""Seat allocation, waitlist, approval and self-service rules, through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification
from registrations import manage_tokens, services
from registrations.models import Registration
from tests.factories import EventFactory
from tests.registrations.conftest import signup_payload

pytestmark = pytest.mark.django_db

S = Registration.Status


def sign_up(event, n: int, **overrides) -> Registration:
    payload = signup_payload(email=f"person{n}@example.org", full_name=f"Person {n}", **overrides)
    return services.registration_create(event=event, **payload)


def outbox(registration: Registration) -> list[tuple[str, str]]:
    return list(
        Notification.objects.filter(subject_type="registration", subject_id=registration.id)
        .order_by("id")
        .values_list("kind", "version")
    )


def waitlist(event) -> list[tuple[str, int]]:
    return list(
        Registration.objects.filter(event=event, status=S.WAITLISTED)
        .order_by("waitlist_position")
        .values_list("email", "waitlist_position")
    )


def test_signup_confirms_until_full_then_waitlists_in_order():
    event = EventFactory(capacity=2)

    registrations = [sign_up(event, n) for n in range(5)]

    assert [r.status for r in registrations] == [
        S.CONFIRMED,
        S.CONFIRMED,
        S.WAITLISTED,
        S.WAITLISTED,
        S.WAITLISTED,
    ]
    assert [r.waitlist_position for r in registrations] == [None, None, 1, 2, 3]
    assert outbox(registrations[0]) == [("confirmation", "0")]
    assert outbox(registrations[2]) == [("waitlisted", "1")]


def test_signup_stores_normalised_email_and_hashed_manage_token():
    event = EventFactory()

    registration = services.registration_create(
        event=event, **signup_payload(email="  Amina.Diallo@EXAMPLE.Org ")
    )

    registration.refresh_from_db()
    assert registration.email == "Amina.Diallo@example.org"
    assert registration.email_normalized == "amina.diallo@example.org"
    token = manage_tokens.token_for_salt(registration.manage_token_salt)
    assert registration.manage_token_hash == manage_tokens.token_hash(token)
    assert len(token) >= 43  # 256 bits, URL-safe base64
    assert token not in str(Notification.objects.get(subject_id=registration.id).context)


def test_signup_defaults_timezone_to_the_event_zone():
    event = EventFactory(timezone="America/New_York")
    payload = signup_payload()
    payload.pop("timezone")

    registration = services.registration_create(event=event, **payload)

    assert registration.timezone == "America/New_York"


def test_duplicate_email_case_insensitive_is_refused_and_link_resent_once_per_ten_minutes():
    event = EventFactory()
    first = services.registration_create(event=event, **signup_payload(email="amina@example.org"))

    with pytest.raises(services.AlreadyRegistered):
        services.registration_create(event=event, **signup_payload(email=" AMINA@example.ORG"))
    with pytest.raises(services.AlreadyRegistered):
        services.registration_create(event=event, **signup_payload(email="Amina@Example.org"))

    assert Registration.objects.filter(event=event).count() == 1
    assert [kind for kind, _ in outbox(first)] == ["confirmation", "already_registered"]


def test_duplicate_email_resends_again_after_ten_minutes():
    event = EventFactory()
    first = services.registration_create(event=event, **signup_payload())
    with pytest.raises(services.AlreadyRegistered):
        services.registration_create(event=event, **signup_payload())
    Notification.objects.filter(kind="already_registered").update(
        created_at=timezone.now() - timedelta(minutes=11)
    )

    with pytest.raises(services.AlreadyRegistered):
        services.registration_create(event=event, **signup_payload())

    assert [kind for kind, _ in outbox(first)] == ["confirmation", "already_registered", "already_registered"]


def test_same_email_on_another_event_is_a_new_registration():
    services.registration_create(event=EventFactory(), **signup_payload())

    other = services.registration_create(event=EventFactory(), **signup_payload())

    assert other.status == S.CONFIRMED


@pytest.mark.parametrize(
    "window",
    [
        {"registration_opens_at": timezone.now() + timedelta(days=1)},
        {"registration_closes_at": timezone.now() - timedelta(minutes=1)},
    ],
)
def test_signup_outside_the_window_is_refused(window):
    event = EventFactory(**window)

    with pytest.raises(services.RegistrationClosed):
        services.registration_create(event=event, **signup_payload())

    assert Registration.objects.count() == 0


def test_signup_for_a_past_event_is_refused():
    start = timezone.now() - timedelta(days=2)
    event = EventFactory(starts_at=start, ends_at=start + timedelta(hours=3))

    with pytest.raises(services.RegistrationClosed):
        services.registration_create(event=event, **signup_payload())


def test_cancellation_promotes_position_one_and_renumbers_the_waitlist():
    event = EventFactory(capacity=2)
    confirmed, _, first, second, third = [sign_up(event, n) for n in range(5)]

    services.registration_cancel(registration=confirmed)

    first.refresh_from_db()
    assert first.status == S.CONFIRMED
    assert first.waitlist_position is None
    assert outbox(first) == [("waitlisted", "1"), ("promoted", "0")]
    assert waitlist(event) == [(second.email, 1), (third.email, 2)]
    confirmed.refresh_from_db()
    assert (confirmed.status, confirmed.invite_sequence) == (S.CANCELLED, 1)
    assert outbox(confirmed) == [("confirmation", "0"), ("cancelled", "1")]


def test_cancelling_a_waitlisted_registration_renumbers_without_promoting():
    event = EventFactory(capacity=1)
    seat, w1, w2, w3 = [sign_up(event, n) for n in range(4)]

    services.registration_cancel(registration=w2)

    assert waitlist(event) == [(w1.email, 1), (w3.email, 2)]
    seat.refresh_from_db()
    assert seat.status == S.CONFIRMED


def test_cancel_twice_is_refused():
    event = EventFactory()
    registration = sign_up(event, 1)
    services.registration_cancel(registration=registration)

    with pytest.raises(services.AlreadyCancelled):
        services.registration_cancel(registration=registration)


def test_capacity_increase_of_five_promotes_five_in_order():
    event = EventFactory(capacity=3)
    registrations = [sign_up(event, n) for n in range(12)]
    waiting = registrations[3:]

    promoted = services.registration_capacity_change(event=event, capacity=8)

    assert [r.id for r in promoted] == [r.id for r in waiting[:5]]
    assert Registration.objects.filter(event=event, status=S.CONFIRMED).count() == 8
    assert waitlist(event) == [(r.email, i) for i, r in enumerate(waiting[5:], start=1)]
    event.refresh_from_db()
    assert event.capacity == 8
    assert all(outbox(r)[-1] == ("promoted", "0") for r in waiting[:5])


def test_capacity_decrease_never_unseats_anyone():
    event = EventFactory(capacity=3)
    [sign_up(event, n) for n in range(3)]

    services.registration_capacity_change(event=event, capacity=1)

    assert Registration.objects.filter(event=event, status=S.CONFIRMED).count() == 3
    assert sign_up(event, 9).status == S.WAITLISTED


def test_online_capacity_is_separate_and_optional():
    event = EventFactory(capacity=1, online_capacity=None)
    in_person = sign_up(event, 0)
    online = [sign_up(event, n, attendance="online") for n in range(1, 6)]

    assert in_person.status == S.CONFIRMED
    assert {r.status for r in online} == {S.CONFIRMED}

    services.registration_capacity_change(event=event, capacity=1, online_capacity=5)
    extra = sign_up(event, 7, attendance="online")
    assert (extra.status, extra.waitlist_position) == (S.WAITLISTED, 1)


def test_online_signup_when_online_is_not_offered_is_refused():
    event = EventFactory(online_enabled=False)

    with pytest.raises(services.OnlineNotOffered):
        sign_up(event, 1, attendance="online")


def test_approval_mode_holds_the_seat_until_approved():
    event = EventFactory(capacity=1, approval_required=True)
    pending = sign_up(event, 0)
    waiting = sign_up(event, 1)

    assert (pending.status, waiting.status) == (S.PENDING_APPROVAL, S.WAITLISTED)
    approved = services.registration_approve(registration=pending)

    assert approved.status == S.CONFIRMED
    assert outbox(pending) == [("pending_approval", "1"), ("approved", "0")]


def test_rejection_of_a_pending_registration_promotes_the_waitlist():
    event = EventFactory(capacity=1, approval_required=True)
    pending = sign_up(event, 0)
    waiting = sign_up(event, 1)

    services.registration_reject(registration=pending, reason="Not eligible")

    pending.refresh_from_db()
    waiting.refresh_from_db()
    assert (pending.status, pending.decision_reason) == (S.REJECTED, "Not eligible")
    # Promoted into the approval queue, since the event approves everyone.
    assert waiting.status == S.PENDING_APPROVAL
    assert outbox(pending)[-1] == ("rejected", "1")
    assert outbox(waiting)[-1] == ("pending_approval", "1")


def test_approving_a_confirmed_registration_is_refused():
    event = EventFactory()
    registration = sign_up(event, 0)

    with pytest.raises(services.InvalidStatusTransition):
        services.registration_approve(registration=registration)


def test_switch_to_in_person_when_full_joins_the_waitlist():
    event = EventFactory(capacity=1)
    sign_up(event, 0)
    online = sign_up(event, 1, attendance="online")

    updated = services.registration_update(registration=online, attendance="in_person")

    assert (updated.status, updated.attendance, updated.waitlist_position) == (S.WAITLISTED, "in_person", 1)
    assert outbox(online)[-1] == ("waitlisted", "1")


def test_switch_to_online_frees_the_seat_for_the_waitlist():
    event = EventFactory(capacity=1)
    seated = sign_up(event, 0)
    waiting = sign_up(event, 1)

    updated = services.registration_update(registration=seated, attendance="online")

    waiting.refresh_from_db()
    assert (updated.status, updated.attendance) == (S.CONFIRMED, "online")
    assert waiting.status == S.CONFIRMED


def test_switch_to_online_when_online_is_full_changes_nothing():
    event = EventFactory(capacity=5, online_capacity=0)
    seated = sign_up(event, 0)

    with pytest.raises(services.EventFull):
        services.registration_update(registration=seated, attendance="online", language="ar")

    seated.refresh_from_db()
    assert (seated.attendance, seated.language) == ("in_person", "fr")


def test_cancelled_registration_cannot_be_changed():
    event = EventFactory()
    registration = sign_up(event, 0)
    services.registration_cancel(registration=registration)

    with pytest.raises(services.RegistrationInactive):
        services.registration_update(registration=registration, language="en")


def test_waitlist_promote_is_a_noop_when_no_seat_is_free():
    event = EventFactory(capacity=1)
    sign_up(event, 0)
    sign_up(event, 1)

    assert services.waitlist_promote(event=event) == []


def test_the_locked_event_is_loaded_as_the_orm_loads_it():
    # The hand-written locking read must give what the ORM gives (aware datetimes on SQLite too).
    from django.db import transaction

    from sessions.models import Event

    event = EventFactory(registration_opens_at=timezone.now() - timedelta(days=1))
    with transaction.atomic():
        locked = services._lock_event(event.id)
    fresh = Event.objects.get(pk=event.pk)

    fields = [field.attname for field in Event._meta.concrete_fields]
    assert {name: getattr(locked, name) for name in fields} == {name: getattr(fresh, name) for name in fields}
    assert timezone.is_aware(locked.starts_at)
