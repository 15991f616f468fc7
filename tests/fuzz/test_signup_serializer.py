"""Hypothesis fuzz of sign-up: the input serializer and the endpoint behind it. Whatever JSON
arrives, the answer is a validation result (or 201/409), never an unhandled exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registrations.api.views import RegistrationCreate

FIELDS = [
    "full_name",
    "email",
    "organisation",
    "country",
    "category",
    "attendance",
    "timezone",
    "language",
    "consent",
    "accessibility_needs",
]
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=400),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
hostile_text = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\r\nBcc: x@example.org",
            "<script>alert(1)</script>",
            '=HYPERLINK("http://x")',
            "Europe/../../etc/passwd",
            "America/New_York\x00",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
            "\u202eevil",
            "x" * 5000,
            "amina@example.org",
            "AMINA@EXAMPLE.ORG ",
            "a@b",
            "@example.org",
            "amina@exa mple.org",
            "amina@" + "x" * 250 + ".org",
            "SN",
            "sn",
            "XX",
            "member_state",
            "in_person",
            "online",
            "fr",
            "Africa/Dakar",
        ]
    ),
)
# Mostly well-formed payloads with one or more hostile fields, plus arbitrary JSON.
payloads = st.one_of(
    st.fixed_dictionaries(
        {
            "full_name": hostile_text,
            "email": hostile_text,
            "country": hostile_text,
            "category": hostile_text,
            "attendance": hostile_text,
            "consent": st.one_of(st.booleans(), json_scalars),
        },
        optional={
            name: st.one_of(hostile_text, json_values)
            for name in ("organisation", "timezone", "language", "accessibility_needs")
        },
    ),
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), json_values, max_size=12),
    json_values,
)
FUZZ = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(payloads)
def test_signup_serializer_never_raises(data):
    serializer = RegistrationCreate.InputSerializer(data=data)
    valid = serializer.is_valid()
    if valid:
        clean = serializer.validated_data
        assert clean["consent"] is True
        assert "\n" not in clean["full_name"] and "\r" not in clean["full_name"]
        assert "@" in clean["email"]
    else:
        assert serializer.errors


@pytest.mark.django_db
@settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payloads)
def test_signup_endpoint_answers_any_json_without_5xx(client, fuzz_event, data):
    response = client.post(
        f"/api/v1/events/{fuzz_event.slug}/registrations/",
        data=json.dumps(data),
        content_type="application/json",
    )
    assert response.status_code in (201, 400, 409, 429), response.content
    if response.status_code != 201:
        assert response["Content-Type"].startswith("application/problem+json")
        assert response.json()["code"]


@pytest.mark.django_db
def test_signup_endpoint_refuses_non_json_bodies(client, fuzz_event):
    path = f"/api/v1/events/{fuzz_event.slug}/registrations/"
    for body, content_type in [
        (b"{", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"full_name=x", "application/x-www-form-urlencoded"),
        (b"<xml/>", "text/xml"),
        (b"[" * 5000 + b"]" * 5000, "application/json"),
    ]:
        response = client.generic("POST", path, body, content_type=content_type)
        assert response.status_code in (400, 415), (body[:20], response.status_code, response.content[:200])
        assert response["Content-Type"].startswith("application/problem+json")


@pytest.fixture
def fuzz_event(db, settings):
    from tests.factories import EventFactory

    # The fuzzer is one client sending hundreds of sign-ups; the throttle is tested elsewhere.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "signup_ip": "100000/min",
            "signup_email": "100000/min",
        },
    }
    return EventFactory(slug="fuzz-signup", capacity=5)
