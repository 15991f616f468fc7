"""config.postgresql: the health check asks PostgreSQL nothing while the connection is quiet,
and still notices a backend that the server terminated."""

from __future__ import annotations

import pytest
from django.db import connection, connections

from tests.support.processes import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def other():
    """A second connection of the same alias settings, as another request thread would hold."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    wrapper.connection.autocommit = True
    yield wrapper
    wrapper.close()


def _last_query(pid: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0]


def _backend_exists(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def test_a_quiet_connection_is_usable_without_a_query(other):
    with other.connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid() /* marker */")
        pid = cursor.fetchone()[0]

    assert other.is_usable()
    assert other.is_usable()

    assert _last_query(pid) == "SELECT pg_backend_pid() /* marker */"


def test_a_terminated_backend_is_not_usable(other):
    with other.connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    wait_for(lambda: not _backend_exists(pid), timeout=10, what="backend gone")

    assert other.is_usable() is False


def test_a_connection_inside_a_transaction_gets_the_full_check(other):
    other.connection.autocommit = False
    with other.connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]

    assert other.is_usable()

    assert _last_query(pid) == "SELECT 1"
    other.connection.rollback()


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def test_hot_statements_are_prepared_and_django_s_own_are_not():
    from config import sql

    with sql.prepared_cursor() as cursor:
        cursor.execute("SELECT %s::int + 40 /* hot */", [2])
        assert cursor.fetchone() == (42,)
    with connection.cursor() as cursor:
        for _ in range(10):  # past psycopg's prepare_threshold
            cursor.execute("SELECT %s::int + 1 /* ordinary */", [1])

    prepared = _prepared_statements()
    assert "SELECT $1::int + 40 /* hot */" in prepared
    assert not any("ordinary" in statement for statement in prepared)


def test_prepared_statements_can_be_switched_off(settings):
    from config import sql

    settings.DATABASE_PREPARED_STATEMENTS = False
    with sql.prepared_cursor() as cursor:
        cursor.execute("SELECT %s::int /* switched off */", [7])
        assert cursor.fetchone() == (7,)

    assert not any("switched off" in statement for statement in _prepared_statements())
