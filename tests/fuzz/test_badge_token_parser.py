"""Hypothesis fuzz of the badge token parser: whatever is scanned, `verify_badge_token`
returns a payload or raises InvalidBadgeToken, never anything else; a token verifies only
exactly as issued."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from registrations.badge_tokens import (
    BASE45_ALPHABET,
    BadgePayload,
    InvalidBadgeToken,
    b45decode,
    b45encode,
    issue_badge_token,
    verify_badge_token,
)

FUZZ = settings(max_examples=400, derandomize=True, deadline=None, database=None)
ids = st.integers(min_value=0, max_value=2**31 - 1)


def _verify_or_invalid(code) -> BadgePayload | None:
    try:
        return verify_badge_token(code)
    except InvalidBadgeToken:
        return None


@FUZZ
@given(st.text(max_size=300))
@example("")
@example("\x00" * 10)
@example("A" * 121)
@example("%%%")
def test_arbitrary_text_never_crashes_the_parser(code):
    _verify_or_invalid(code)


@FUZZ
@given(st.text(alphabet=BASE45_ALPHABET, max_size=130))
def test_base45_alphabet_noise_is_refused(code):
    # Random text in the right alphabet is (with overwhelming probability) not signed by us.
    assert _verify_or_invalid(code) is None


@FUZZ
@given(st.binary(max_size=90))
def test_random_bytes_in_base45_are_refused(data):
    assert _verify_or_invalid(b45encode(data)) is None


@FUZZ
@given(st.one_of(st.none(), st.integers(), st.binary(max_size=50), st.lists(st.integers(), max_size=3)))
def test_non_string_input_is_refused_cleanly(value):
    assert _verify_or_invalid(value) is None


@FUZZ
@given(event_id=ids, registration_id=ids, counter=st.integers(min_value=1, max_value=10_000))
def test_issued_token_round_trips(event_id, registration_id, counter):
    token = issue_badge_token(event_id=event_id, registration_id=registration_id, counter=counter)
    payload = verify_badge_token(token)
    assert (payload.event_id, payload.registration_id, payload.counter) == (
        event_id,
        registration_id,
        counter,
    )
    assert len(token) <= 120
    assert set(token) <= set(BASE45_ALPHABET)


@FUZZ
@given(
    registration_id=ids,
    position=st.integers(min_value=0, max_value=200),
    flip=st.integers(min_value=1, max_value=255),
)
def test_any_changed_byte_breaks_the_token(registration_id, position, flip):
    token = issue_badge_token(event_id=42, registration_id=registration_id, counter=1)
    data = bytearray(b45decode(token))
    data[position % len(data)] ^= flip
    assert _verify_or_invalid(b45encode(bytes(data))) is None


@FUZZ
@given(
    registration_id=ids, cut=st.integers(min_value=1, max_value=119), extra=st.binary(min_size=1, max_size=8)
)
def test_truncated_or_extended_tokens_are_refused(registration_id, cut, extra):
    token = issue_badge_token(event_id=42, registration_id=registration_id, counter=1)
    data = b45decode(token)
    assert _verify_or_invalid(token[: min(cut, len(token) - 1)]) is None
    assert _verify_or_invalid(b45encode(data + extra)) is None
    assert _verify_or_invalid(b45encode(extra + data)) is None


@pytest.mark.django_db
@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    code=st.one_of(
        st.text(max_size=200),
        st.text(alphabet=BASE45_ALPHABET, min_size=100, max_size=120),
        st.integers(),
        st.none(),
        st.lists(st.text(max_size=5), max_size=3),
        st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    ),
    gate=st.one_of(st.text(max_size=150), st.integers(), st.none()),
)
def test_checkin_endpoint_answers_garbage_with_problem_details(client, checkin_setup, code, gate):
    event, key = checkin_setup
    response = client.post(
        f"/api/v1/events/{event.slug}/checkins/",
        data=json.dumps({"code": code, "gate": gate, "nonce": str(uuid.uuid4())}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code in (400, 403, 404, 409), response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == response.status_code
    assert body.get("result") in (None, "invalid", "wrong_event", "revoked", "not_confirmed", "online_only")


@pytest.fixture
def checkin_setup(db):
    from registrations.models import EventRole
    from tests.factories import EventFactory, staff_token

    event = EventFactory(slug="fuzz-door")
    return event, staff_token(event=event, role=EventRole.Role.CHECKIN)
