"""The fan-out of an agenda publish: which rows are written, durably and exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import services
from notifications.models import AgendaFanout, Notification
from registrations.models import Registration
from sessions.models import Session, SessionSpeaker
from sessions.services import agenda_publish
from tests.factories import EventFactory, RegistrationFactory, SessionFactory, SpeakerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agenda():
    event = EventFactory()
    opening = SessionFactory(event=event, title="Opening")
    panel = SessionFactory(event=event, title="Panel", starts_at=event.starts_at + timedelta(minutes=30))
    alice, bob, carol = (SpeakerFactory(event=event) for _ in range(3))
    SessionSpeaker.objects.create(session=opening, speaker=alice)
    SessionSpeaker.objects.create(session=panel, speaker=bob)
    SessionSpeaker.objects.create(session=panel, speaker=carol, role=SessionSpeaker.Role.MODERATOR)
    confirmed = [RegistrationFactory(event=event) for _ in range(3)]
    waitlisted = RegistrationFactory(event=event, status=Registration.Status.WAITLISTED, waitlist_position=1)
    RegistrationFactory(event=event, status=Registration.Status.CANCELLED)
    return {
        "event": event,
        "opening": opening,
        "panel": panel,
        "speakers": (alice, bob, carol),
        "attendees": [*confirmed, waitlisted],
    }


def _rows(kind):
    return sorted(
        Notification.objects.filter(kind=kind).values_list("recipient_email", "subject_id", "version")
    )


def test_agenda_published_records_a_durable_fanout(agenda):
    version = agenda_publish(event=agenda["event"])

    fanout = AgendaFanout.objects.get(agenda_version=version)
    assert fanout.status == AgendaFanout.Status.PENDING
    assert fanout.event_id == agenda["event"].id


def test_fanout_first_publish_informs_attendees_and_every_speaker(agenda):
    version = agenda_publish(event=agenda["event"])

    ids = services.agenda_fanout_run(agenda_version_id=version.id)

    alice, bob, carol = agenda["speakers"]
    assert _rows(Notification.Kind.AGENDA_UPDATE) == sorted((r.email, r.id, "1") for r in agenda["attendees"])
    assert _rows(Notification.Kind.SPEAKER_INVITE) == sorted(
        [
            (alice.email, agenda["opening"].id, "0"),
            (bob.email, agenda["panel"].id, "0"),
            (carol.email, agenda["panel"].id, "0"),
        ]
    )
    assert len(ids) == 7
    fanout = AgendaFanout.objects.get(agenda_version=version)
    assert (fanout.status, fanout.attendee_count, fanout.speaker_count) == ("done", 4, 3)


def test_fanout_moved_session_goes_to_attendees_and_that_sessions_speakers_only(agenda):
    first = agenda_publish(event=agenda["event"])
    services.agenda_fanout_run(agenda_version_id=first.id)
    panel = agenda["panel"]
    Session.objects.filter(pk=panel.pk).update(
        starts_at=panel.starts_at + timedelta(hours=1), ends_at=panel.ends_at + timedelta(hours=1)
    )
    second = agenda_publish(event=agenda["event"])

    ids = services.agenda_fanout_run(agenda_version_id=second.id)

    _alice, bob, carol = agenda["speakers"]
    new_rows = Notification.objects.filter(pk__in=ids)
    assert sorted(
        new_rows.filter(kind=Notification.Kind.SPEAKER_INVITE).values_list("recipient_email", "version")
    ) == sorted([(bob.email, "1"), (carol.email, "1")])
    assert sorted(
        new_rows.filter(kind=Notification.Kind.AGENDA_UPDATE).values_list("subject_id", flat=True)
    ) == sorted(r.id for r in agenda["attendees"])
    assert set(new_rows.values_list("version", flat=True)) == {"1", "2"}


def test_fanout_removed_session_and_removed_speaker_are_told(agenda):
    first = agenda_publish(event=agenda["event"])
    services.agenda_fanout_run(agenda_version_id=first.id)
    alice, bob, carol = agenda["speakers"]
    agenda["opening"].delete()
    SessionSpeaker.objects.filter(session=agenda["panel"], speaker=carol).delete()
    second = agenda_publish(event=agenda["event"])

    ids = services.agenda_fanout_run(agenda_version_id=second.id)

    invites = {
        n.recipient_email: n
        for n in Notification.objects.filter(pk__in=ids, kind=Notification.Kind.SPEAKER_INVITE)
    }
    assert set(invites) == {alice.email, bob.email, carol.email}
    assert (invites[alice.email].version, invites[alice.email].context["method"]) == ("1", "CANCEL")
    assert invites[carol.email].context["method"] == "CANCEL"
    assert invites[bob.email].context["method"] == "REQUEST"
    assert invites[carol.email].version == invites[bob.email].version == "1"


def test_fanout_runs_once_even_if_dispatched_twice(agenda):
    version = agenda_publish(event=agenda["event"])

    first = services.agenda_fanout_run(agenda_version_id=version.id, claim_token="a")
    again = services.agenda_fanout_run(agenda_version_id=version.id, claim_token="b")

    assert len(first) == 7
    assert again == []
    assert Notification.objects.count() == 7


def test_fanout_publish_without_changes_sends_nothing(agenda):
    first = agenda_publish(event=agenda["event"])
    services.agenda_fanout_run(agenda_version_id=first.id)
    before = Notification.objects.count()
    second = agenda_publish(event=agenda["event"])

    ids = services.agenda_fanout_run(agenda_version_id=second.id)

    assert ids == []
    assert Notification.objects.count() == before
    assert AgendaFanout.objects.get(agenda_version=second).status == AgendaFanout.Status.DONE


def test_fanout_a_dead_workers_claim_is_taken_over_once_stale(agenda, settings):
    settings.NOTIFICATIONS_CLAIM_STALE_SECONDS = 300
    version = agenda_publish(event=agenda["event"])
    AgendaFanout.objects.filter(agenda_version=version).update(
        status=AgendaFanout.Status.RUNNING, claim_token="dead", claimed_at=timezone.now()
    )

    while_fresh = services.agenda_fanout_run(agenda_version_id=version.id, claim_token="other")
    AgendaFanout.objects.filter(agenda_version=version).update(
        claimed_at=timezone.now() - timedelta(seconds=400)
    )
    once_stale = services.agenda_fanout_run(agenda_version_id=version.id, claim_token="other")

    assert while_fresh == []
    assert len(once_stale) == 7


def _delivery_queries(rows) -> tuple[int, dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        counts = services.deliver_notifications(notification_ids=[n.pk for n in rows])
    return len(queries), counts


@pytest.mark.parametrize("attendees", [3, 12])
def test_a_chunk_reads_what_it_renders_once_each_message_adds_only_its_update(attendees, smtp_server):
    from notifications.messages import build_message

    event = EventFactory(capacity=100)
    opening = SessionFactory(event=event, title="Opening")
    RegistrationFactory.create_batch(attendees, event=event, language="fr")
    services.agenda_fanout_run(agenda_version_id=agenda_publish(event=event).id)
    moved = timedelta(hours=1)
    Session.objects.filter(pk=opening.pk).update(
        title="Opening (moved)", starts_at=opening.starts_at + moved, ends_at=opening.ends_at + moved
    )
    second = agenda_publish(event=event)
    services.agenda_fanout_run(agenda_version_id=second.id)
    updates = list(
        Notification.objects.filter(kind=Notification.Kind.AGENDA_UPDATE, version="2").order_by("id")
    )
    # Built one by one, each reading its own rows: what the chunk must send.
    expected = {n.recipient_email: build_message(n).body for n in updates}

    queries, counts = _delivery_queries(updates)

    assert counts["sent"] == attendees
    # Claim, preload (registrations, latest version), this version and the one before, then
    # one UPDATE per message: 5 + n, whatever n is.
    assert queries == 5 + attendees
    received = {str(m["To"]).split("<")[-1].rstrip(">"): m for m in smtp_server.inbox.messages}
    for email, body in expected.items():
        text = received[email].get_body(preferencelist=("plain",)).get_content()
        assert text.replace("\r\n", "\n") == body
        assert "Opening (moved)" in text
