"""Django's PostgreSQL backend with a health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django proves a persistent connection before the first query of every
request with `SELECT 1`: one more round trip on a scan that otherwise makes two. A backend that
PostgreSQL terminated (a restart, `pg_terminate_backend`, an idle timeout) sends its FATAL
notice and closes the socket, so an idle connection whose socket has something to read is the
one that may be dead: only then is `SELECT 1` asked. A connection with nothing to read is used
as it is; if it fails after all (the network went away without a word), the request gets the
usual 503 problem and Django drops the connection at the end of it.
"""

from __future__ import annotations

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        pgconn = getattr(self.connection, "pgconn", None)
        if pgconn is None:
            return super().is_usable()
        if pgconn.status != pq.ConnStatus.OK:
            return False
        if pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return super().is_usable()
        try:
            readable, _, _ = select.select([pgconn.socket], [], [], 0)
        except (OSError, ValueError, psycopg.Error):
            return False
        return not readable or super().is_usable()
