from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.support.smtp import SmtpServer


def pytest_collection_modifyitems(config, items):
    from django.db import connection

    if connection.vendor != "postgresql":
        skip = pytest.mark.skip(
            reason="needs PostgreSQL (row locks, real concurrency): set DATABASE_URL=postgres://... to run it"
        )
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


def pytest_report_header(config):
    from django.conf import settings
    from django.db import connection

    return [
        f"convene database: {connection.vendor} ({settings.DATABASES['default']['ENGINE']})",
        f"convene broker: {settings.CELERY_BROKER_URL.split('://', 1)[0]}",
    ]


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback; our SMTP backend in this process points at it."""
    server = SmtpServer().start()
    settings.EMAIL_BACKEND = "notifications.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    yield server
    server.stop()


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _fresh_vobject_timezones():
    """Each test reads invites as a fresh calendar client would (see reset_vobject_timezones)."""
    from tests.sessions.ical_parsers import reset_vobject_timezones

    reset_vobject_timezones()


@pytest.fixture(autouse=True)
def _no_smtp_session_across_tests():
    """A worker keeps its SMTP session between tasks; a test starts without one."""
    yield
    from notifications.services import smtp_sessions

    smtp_sessions.discard()
