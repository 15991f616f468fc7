"""kombu's Redis transport, publishing through one redis-py client per channel.

kombu builds a new `redis.Redis` around the channel's (shared) connection pool for every
message it publishes or acknowledges; that construction (about 170 response callbacks copied
into a fresh dict) costs more CPU than the LPUSH itself. A `redis.Redis` is safe to share (it
borrows a connection from the pool per command), so one per pool is enough: the same reason as
config/cache.py's for Django's cache.

`CELERY_BROKER_TRANSPORT = "worker.transport:Transport"` selects it for `redis://` brokers.
"""

from __future__ import annotations

from kombu.transport import redis


class Channel(redis.Channel):
    _sync_client = None

    def _create_client(self, asynchronous=False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self._sync_client
        # A channel replaces its pool after a connection error: the client follows it.
        if client is None or client.connection_pool is not self.pool:
            client = self._sync_client = super()._create_client()
        return client


class Transport(redis.Transport):
    Channel = Channel
