"""worker.transport: kombu's Redis transport publishing through one redis-py client per pool,
on a real Redis, and what the app's Celery configuration reads."""

from __future__ import annotations

import os
import uuid

import pytest
from kombu import Connection

from worker import app
from worker.transport import Transport

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (a real Redis)")


def test_the_app_publishes_with_this_transport():
    with app.connection_for_write() as connection:
        assert connection.transport_cls == "worker.transport:Transport"
        assert isinstance(connection.transport, Transport)


def test_messages_go_through_one_client_and_arrive_in_order():
    queue = f"test-transport-{uuid.uuid4().hex[:8]}"
    with Connection(REDIS_URL, transport="worker.transport:Transport") as connection:
        channel = connection.default_channel
        with connection.SimpleQueue(queue) as simple:
            for n in range(3):
                simple.put({"n": n})
            client = channel._create_client()
            assert channel._create_client() is client  # the publishes' client, kept

            received = []
            for _ in range(3):
                message = simple.get(timeout=2)
                received.append(message.payload["n"])
                message.ack()
            simple.queue.delete()
    assert received == [0, 1, 2]


def test_after_the_channel_replaces_its_pool_the_client_follows():
    with Connection(REDIS_URL, transport="worker.transport:Transport") as connection:
        channel = connection.default_channel
        before = channel._create_client()
        channel._pool = None  # what the channel does after a connection error
        after = channel._create_client()
        assert after is not before
        assert after.connection_pool is channel.pool
        assert after.ping()
