"""A task goes through the real broker to a real worker process and back (no eager mode)."""

import pytest

from tests.support.processes import start_celery_worker, wait_worker_ready
from worker import app as celery_app
from worker.tasks import ping

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_task_round_trip_through_real_broker_and_worker(tmp_path):
    assert not celery_app.conf.task_always_eager
    worker = start_celery_worker(tmp_path, queues="default", concurrency=1)
    try:
        wait_worker_ready(worker)
        result = ping.apply_async(args=["hello"]).get(timeout=30)
    finally:
        worker.stop()

    assert result["echo"] == "hello"
    # Answered by another process: the worker, not this test.
    import os

    assert result["pid"] != os.getpid()
