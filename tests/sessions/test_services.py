"""Agenda rules: schedule checks, conflicts, publishing (diff, sequence), event edits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model

from config.problems import ApplicationError
from registrations.models import EventRole
from sessions import services
from sessions.models import AgendaVersion, Event, Session
from tests.factories import EventFactory, RoomFactory, SpeakerFactory
from tests.sessions.conftest import publish

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 9, 12, 14, 0, tzinfo=UTC)


def _event() -> Event:
    return EventFactory(starts_at=T0, ends_at=T0 + timedelta(hours=3))


def _create(event, start_min: int, end_min: int, **kw) -> Session:
    return services.session_create(
        event=event,
        title=kw.pop("title", f"S {start_min}"),
        starts_at=T0 + timedelta(minutes=start_min),
        ends_at=T0 + timedelta(minutes=end_min),
        **kw,
    )


def _code(excinfo) -> str:
    return excinfo.value.code


def test_session_must_end_after_it_starts():
    event = _event()
    with pytest.raises(ApplicationError) as excinfo:
        _create(event, 30, 30)
    assert _code(excinfo) == "invalid_schedule"


@pytest.mark.parametrize(("start", "end"), [(-15, 15), (170, 190)])
def test_session_must_lie_within_the_event(start, end):
    event = _event()
    with pytest.raises(ApplicationError) as excinfo:
        _create(event, start, end)
    assert _code(excinfo) == "invalid_schedule"
    assert Session.objects.count() == 0


def test_overlapping_sessions_in_one_room_are_refused():
    event = _event()
    room = RoomFactory(event=event)
    first = _create(event, 0, 60, room=room)

    with pytest.raises(ApplicationError) as excinfo:
        _create(event, 30, 90, room=room)

    assert _code(excinfo) == "room_conflict"
    assert excinfo.value.extra["conflicting_session"] == first.id
    # Back to back is not an overlap, and another room is free.
    _create(event, 60, 90, room=room)
    _create(event, 30, 90, room=RoomFactory(event=event))
    assert Session.objects.count() == 3


def test_a_speaker_cannot_be_in_two_overlapping_sessions():
    event = _event()
    speaker = SpeakerFactory(event=event)
    _create(event, 0, 60, speakers=[{"id": speaker.id, "role": "speaker"}])

    with pytest.raises(ApplicationError) as excinfo:
        _create(event, 45, 75, speakers=[{"id": speaker.id, "role": "moderator"}])

    assert _code(excinfo) == "speaker_conflict"
    assert Session.objects.count() == 1


def test_moving_a_session_onto_a_booked_room_is_refused_and_nothing_changes():
    event = _event()
    room = RoomFactory(event=event)
    _create(event, 0, 60, room=room)
    second = _create(event, 60, 120, room=room)

    with pytest.raises(ApplicationError) as excinfo:
        services.session_update(session=second, data={"starts_at": T0 + timedelta(minutes=30)})

    assert _code(excinfo) == "room_conflict"
    second.refresh_from_db()
    assert second.starts_at == T0 + timedelta(minutes=60)


def test_speakers_of_another_event_are_refused():
    event = _event()
    stranger = SpeakerFactory()  # another event
    with pytest.raises(ApplicationError) as excinfo:
        _create(event, 0, 30, speakers=[{"id": stranger.id}])
    assert _code(excinfo) == "invalid_reference"


def test_session_speakers_keep_their_order_and_roles():
    event = _event()
    a, b, c = (SpeakerFactory(event=event) for _ in range(3))
    session = _create(event, 0, 30, speakers=[{"id": c.id, "role": "chair"}, {"id": a.id}, {"id": b.id}])

    links = list(session.session_speakers.order_by("position").values_list("speaker_id", "role"))
    assert links == [(c.id, "chair"), (a.id, "speaker"), (b.id, "speaker")]


def test_publish_diff_lists_exactly_the_moved_renamed_and_removed(demo_event):
    by_kind = {s.kind: s for s in Session.objects.filter(event=demo_event)}
    services.session_update(
        session=by_kind["closing"],
        data={"starts_at": by_kind["closing"].starts_at + timedelta(minutes=5)},
    )
    services.session_update(session=by_kind["keynote"], data={"title": "Keynote: a new title"})
    services.session_delete(session=by_kind["dialogue"])

    version = publish(event=demo_event, comment="Second agenda")

    assert version.number == 2
    assert version.diff == {
        "added": [],
        "removed": [str(by_kind["dialogue"].uid)],
        "moved": [str(by_kind["closing"].uid)],
        "retitled": [str(by_kind["keynote"].uid)],
        "room_changed": [],
        "speakers_changed": [],
        "event_changed": False,
    }
    sequences = {entry["kind"]: entry["sequence"] for entry in version.sessions}
    assert sequences == {"opening": 0, "keynote": 1, "panel": 0, "closing": 1}


def test_publish_detects_room_and_speaker_changes_and_added_sessions(demo_event):
    opening = Session.objects.get(event=demo_event, kind="opening")
    panel = Session.objects.get(event=demo_event, kind="panel")
    services.session_update(session=opening, data={"room": RoomFactory(event=demo_event, name="Trusteeship")})
    services.session_update(
        session=panel, data={"speakers": [{"id": s.speaker_id} for s in panel.session_speakers.all()[:2]]}
    )
    # Add a break by shortening the closing.
    closing = Session.objects.get(event=demo_event, kind="closing")
    services.session_update(session=closing, data={"ends_at": closing.starts_at + timedelta(minutes=10)})
    added = services.session_create(
        event=demo_event,
        title="Photo",
        kind="other",
        starts_at=closing.starts_at + timedelta(minutes=10),
        ends_at=closing.starts_at + timedelta(minutes=15),
    )

    diff = publish(event=demo_event).diff

    assert diff["room_changed"] == [str(opening.uid)]
    assert diff["speakers_changed"] == [str(panel.uid)]
    assert diff["added"] == [str(added.uid)]
    assert diff["moved"] == [str(closing.uid)]


def test_publish_twice_without_changes_keeps_every_sequence(demo_event):
    first = AgendaVersion.objects.get(event=demo_event)
    second = publish(event=demo_event)

    assert [e["uid"] for e in second.sessions] == [e["uid"] for e in first.sessions]
    assert [e["sequence"] for e in second.sessions] == [0, 0, 0, 0, 0]
    assert second.diff["moved"] == second.diff["retitled"] == second.diff["removed"] == []


def test_sequence_keeps_growing_across_versions(demo_event):
    keynote = Session.objects.get(event=demo_event, kind="keynote")
    for n in range(3):
        services.session_update(session=keynote, data={"title": f"Keynote v{n}"})
        version = publish(event=demo_event)
    entry = next(e for e in version.sessions if e["uid"] == str(keynote.uid))
    assert entry["sequence"] == 3


def test_publish_notes_when_the_event_itself_moved(demo_event):
    services.event_update(event=demo_event, data={"ends_at": demo_event.ends_at + timedelta(minutes=30)})

    version = publish(event=demo_event)

    demo_event.refresh_from_db()
    assert version.diff["event_changed"] is True
    assert demo_event.sequence == 1
    assert version.event_snapshot["sequence"] == 1
    assert publish(event=demo_event).diff["event_changed"] is False


def test_publish_records_the_fanout_in_the_same_transaction(demo_event):
    from notifications.models import AgendaFanout

    version = services.agenda_publish(event=demo_event)

    # The real hook, not a stand-in: the durable fan-out row commits with the version.
    fanout = AgendaFanout.objects.get(agenda_version=version)
    assert fanout.status == AgendaFanout.Status.PENDING


def test_changing_the_event_timezone_never_moves_instants(demo_event):
    before = list(Session.objects.filter(event=demo_event).values_list("starts_at", "ends_at"))
    event_times = (demo_event.starts_at, demo_event.ends_at)

    services.event_update(event=demo_event, data={"timezone": "Asia/Tokyo"})

    demo_event.refresh_from_db()
    assert demo_event.timezone == "Asia/Tokyo"
    assert (demo_event.starts_at, demo_event.ends_at) == event_times
    assert list(Session.objects.filter(event=demo_event).values_list("starts_at", "ends_at")) == before


def test_shrinking_the_event_under_its_sessions_is_refused(demo_event):
    with pytest.raises(ApplicationError) as excinfo:
        services.event_update(event=demo_event, data={"ends_at": demo_event.ends_at - timedelta(minutes=30)})
    assert _code(excinfo) == "invalid_schedule"


def test_capacity_change_goes_through_the_registrations_service(demo_event):
    from registrations.models import Registration
    from tests.factories import RegistrationFactory

    services.event_update(event=demo_event, data={"capacity": 1})
    RegistrationFactory(event=demo_event, status=Registration.Status.CONFIRMED)
    waiting = RegistrationFactory(event=demo_event, status=Registration.Status.WAITLISTED)

    services.event_update(event=demo_event, data={"capacity": 2})

    demo_event.refresh_from_db()
    waiting.refresh_from_db()
    assert demo_event.capacity == 2
    assert waiting.status == Registration.Status.CONFIRMED


def test_event_create_makes_the_creator_organiser():
    user = get_user_model().objects.create(username="creator@example.org")
    event = services.event_create(
        user=user,
        slug="new-event",
        title="New",
        timezone="Africa/Dakar",
        starts_at=T0,
        ends_at=T0 + timedelta(hours=2),
    )
    assert EventRole.objects.filter(user=user, event=event, role="organiser").count() == 1


def test_event_create_refuses_a_taken_slug_and_an_unknown_zone():
    user = get_user_model().objects.create(username="creator@example.org")
    EventFactory(slug="taken")
    with pytest.raises(ApplicationError) as taken:
        services.event_create(
            user=user, slug="taken", title="x", timezone="UTC", starts_at=T0, ends_at=T0 + timedelta(hours=1)
        )
    with pytest.raises(ApplicationError) as zone:
        services.event_create(
            user=user,
            slug="free",
            title="x",
            timezone="Nowhere/Land",
            starts_at=T0,
            ends_at=T0 + timedelta(hours=1),
        )
    assert (_code(taken), _code(zone)) == ("slug_taken", "invalid_timezone")
    assert Event.objects.count() == 1


def test_the_public_event_is_loaded_as_the_orm_loads_it_and_only_when_published():
    from django.utils import timezone

    from config.problems import NotFound
    from sessions import selectors

    event = EventFactory(registration_opens_at=timezone.now() - timedelta(days=1), online_capacity=40)
    hidden = EventFactory(is_published=False)

    public = selectors.event_get_public(slug=event.slug)
    fresh = Event.objects.get(pk=event.pk)
    fields = [field.attname for field in Event._meta.concrete_fields]
    assert {name: getattr(public, name) for name in fields} == {name: getattr(fresh, name) for name in fields}
    assert timezone.is_aware(public.starts_at)
    assert not public._state.adding  # a loaded row: saving it updates, never inserts
    for slug in (hidden.slug, "no-such-event", event.slug.upper()):
        with pytest.raises(NotFound):
            selectors.event_get_public(slug=slug)
