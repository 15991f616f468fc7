"""Rows committed one by one are handed to the broker by a background thread of the process, those
of one window together (notifications.services._DispatchBatcher). What Celery really publishes is
read from its before_task_publish signal; the worker side is in tests/integration/test_pipeline.py.
"""

from __future__ import annotations

import os
import time

import pytest

from notifications import services
from notifications.models import Notification
from tests.factories import EventFactory, RegistrationFactory
from tests.notifications.pipeline import confirmation_of
from tests.support.processes import wait_for

pytestmark = pytest.mark.django_db


def _committed_one_by_one(count: int, capture) -> list[int]:
    """`count` confirmations, each written and committed on its own, as sign-ups are."""
    event = EventFactory()
    ids = []
    for _ in range(count):
        with capture(execute=True):
            ids.append(confirmation_of(RegistrationFactory(event=event)).id)
    return ids


def test_rows_committed_within_the_window_go_out_as_one_chunk_task(
    published, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_DISPATCH_WINDOW_MS = 300

    ids = _committed_one_by_one(5, django_capture_on_commit_callbacks)

    wait_for(lambda: published, timeout=10, what="the chunk task")
    time.sleep(0.5)  # a second task, had there been one, would have been published by now
    assert published == [(services.DELIVER_CHUNK_TASK, [ids])]


def test_the_request_does_not_wait_for_the_broker(published, settings, django_capture_on_commit_callbacks):
    settings.NOTIFICATIONS_DISPATCH_WINDOW_MS = 3000  # the thread does not wake during the test

    ids = _committed_one_by_one(2, django_capture_on_commit_callbacks)

    assert published == []  # committed, handed to the thread, not yet to the broker
    services.dispatch_batcher.flush()  # what a clean exit does (atexit)
    assert published == [(services.DELIVER_CHUNK_TASK, [ids])]


def test_window_zero_hands_each_row_over_in_its_request(
    published, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_DISPATCH_WINDOW_MS = 0

    ids = _committed_one_by_one(2, django_capture_on_commit_callbacks)

    assert published == [(services.DELIVER_TASK, [ids[0]]), (services.DELIVER_TASK, [ids[1]])]


def test_a_rolled_back_row_is_never_handed_over(published, settings, django_capture_on_commit_callbacks):
    from django.db import transaction

    settings.NOTIFICATIONS_DISPATCH_WINDOW_MS = 3000
    event = EventFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            confirmation_of(RegistrationFactory(event=event))
            raise RuntimeError("the sign-up failed after its outbox row")

    services.dispatch_batcher.flush()
    assert callbacks == [] and published == []
    assert not Notification.objects.exists()


def test_a_broker_outage_leaves_the_rows_pending_and_the_thread_alive(
    published, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_DISPATCH_WINDOW_MS = 50
    services.broker_breaker.trip()  # as after a failed publish: the broker is skipped

    lost = _committed_one_by_one(2, django_capture_on_commit_callbacks)
    wait_for(lambda: not services.dispatch_batcher._pending, timeout=10, what="the thread's attempt")
    time.sleep(0.2)

    assert published == []
    assert set(Notification.objects.filter(id__in=lost).values_list("status", flat=True)) == {"pending"}
    services.broker_breaker.reset()  # the broker is back: the next rows go out, the sweep takes those
    later = _committed_one_by_one(1, django_capture_on_commit_callbacks)
    wait_for(lambda: published, timeout=10, what="the task after the outage")
    assert published == [(services.DELIVER_TASK, later)]


def test_an_error_in_a_hand_over_is_logged_and_the_thread_goes_on(
    published, settings, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_DISPATCH_WINDOW_MS = 50
    real_dispatch = services.dispatch
    calls = []

    def failing_once(ids):
        calls.append(list(ids))
        if len(calls) == 1:
            raise RuntimeError("a bug in the hand-over")
        real_dispatch(ids)

    monkeypatch.setattr(services, "dispatch", failing_once)
    _committed_one_by_one(1, django_capture_on_commit_callbacks)
    wait_for(lambda: calls, timeout=10, what="the first hand-over")
    second = _committed_one_by_one(1, django_capture_on_commit_callbacks)
    wait_for(lambda: published, timeout=10, what="the second hand-over")

    assert published == [(services.DELIVER_TASK, second)]
    assert "dispatch failed; the sweep will hand the rows over" in caplog.text


def test_a_forked_child_starts_without_the_parents_thread_or_rows(settings):
    settings.NOTIFICATIONS_DISPATCH_WINDOW_MS = 3000
    batcher = services.dispatch_batcher
    batcher.submit([10**9])  # an id no row has: the thread is running and holds it
    try:
        assert batcher._thread is not None and batcher._thread.is_alive()
        pid = os.fork()
        if pid == 0:  # the child: nothing inherited that it could publish twice, or wait on
            os._exit(0 if batcher._thread is None and batcher._pending == [] else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert batcher._pending == [10**9]  # the parent's are still its own
    finally:
        with batcher._condition:
            batcher._pending.clear()  # the fake id is never published
