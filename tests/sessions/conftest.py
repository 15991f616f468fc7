from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from registrations.models import EventRole
from sessions import cache as agenda_cache
from sessions.models import Event
from sessions.services import agenda_publish
from tests.factories import staff_token


@pytest.fixture(autouse=True)
def _isolated_agenda_cache(request, settings):
    """The rendered agenda is cached by slug, and every test has a database of its own: give each
    test an empty cache of its own (never FLUSHDB the shared Redis: the broker lives there too).
    Tests that ask for `real_cache` use the configured backend (Redis when REDIS_URL is set)."""
    if "real_cache" not in request.fixturenames:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": f"agenda-test-{uuid.uuid4().hex}",
            }
        }
    agenda_cache.clear_local()
    yield
    agenda_cache.clear_local()


@pytest.fixture
def real_cache():
    """The configured cache backend. Use unique slugs: this cache outlives the test."""
    return cache


@pytest.fixture
def demo_event(db) -> Event:
    call_command("seed_demo", "--date", "2024-09-12", "--quiet-tokens")
    return Event.objects.get()


def publish(*, event: Event, comment: str = ""):
    """Publish and run the on-commit hooks (cache invalidation), as a committed request would."""
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        return agenda_publish(event=event, comment=comment)


def client_with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def organiser_for():
    def make(event: Event) -> APIClient:
        return client_with_token(staff_token(event=event, role=EventRole.Role.ORGANISER))

    return make
