"""Hypothesis fuzz of the attendee's own PATCH (manage token): any JSON body gets a 200 or a
problem-details 4xx, never a 5xx, and a refused change leaves the registration as it was."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registrations import manage_tokens
from registrations.models import Registration
from tests.factories import EventFactory, RegistrationFactory

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=80),
    st.sampled_from(["in_person", "online", "fr", "zh", "Asia/Tokyo", "Europe/Zurich", "UTC", "", "x" * 300]),
    st.lists(st.text(max_size=5), max_size=3),
)
bodies = st.one_of(
    st.fixed_dictionaries(
        {}, optional={name: values for name in ("timezone", "language", "attendance", "full_name", "status")}
    ),
    st.dictionaries(st.text(max_size=12), values, max_size=5),
    values,
)


@pytest.fixture
def manage(db, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "manage_token": "100000/min",
        },
    }
    event = EventFactory(slug="fuzz-manage", capacity=1)
    registration = RegistrationFactory(event=event)
    return registration, manage_tokens.token_for_salt(registration.manage_token_salt)


@pytest.mark.django_db
@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_manage_patch_answers_any_json_without_5xx(client, manage, body):
    registration, token = manage
    before = Registration.objects.values().get(pk=registration.pk)
    response = client.patch(
        f"/api/v1/registrations/{token}/", data=json.dumps(body), content_type="application/json"
    )

    assert response.status_code in (200, 400, 409, 429), response.content
    after = Registration.objects.values().get(pk=registration.pk)
    if response.status_code != 200:
        assert response["Content-Type"].startswith("application/problem+json")
        assert after == before
    # Whatever was sent, nothing outside the self-service fields changed.
    for field in ("status", "full_name", "email", "event_id", "manage_token_hash", "badge_counter"):
        assert after[field] == before[field]
