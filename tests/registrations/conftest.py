from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.factories import EventFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters live in the cache: no test is throttled by what another one did."""
    cache.clear()
    yield
    cache.clear()


def signup_payload(**overrides) -> dict:
    payload = {
        "full_name": "Amina Diallo",
        "email": "amina@example.org",
        "organisation": "Ministry of Planning",
        "country": "SN",
        "category": "member_state",
        "attendance": "in_person",
        "timezone": "Africa/Dakar",
        "language": "fr",
        "consent": True,
        "accessibility_needs": "",
    }
    payload.update(overrides)
    return payload


@pytest.fixture
def event(db):
    return EventFactory(capacity=3)
