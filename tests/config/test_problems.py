"""Every error is RFC 9457 problem details with a stable code, never HTML, never a 500."""

import json

import pytest

from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = json.loads(response.content)
    assert PROBLEM_KEYS <= set(body)
    assert body["status"] == status
    assert body["code"] == code
    return body


def test_problem_for_unknown_route(client):
    response = client.get("/api/v1/no-such-thing/")
    assert_problem(response, 404, "not_found")


def test_problem_for_unknown_event(client):
    response = client.get("/api/v1/events/no-such-event/")
    assert_problem(response, 404, "not_found")


def test_problem_for_wrong_method(client):
    response = client.delete("/api/v1/events/")
    assert_problem(response, 405, "method_not_allowed")


def test_problem_for_malformed_json(client):
    event = EventFactory()
    response = client.post(
        f"/api/v1/events/{event.slug}/registrations/",
        data='{"full_name": "Amina',
        content_type="application/json",
    )
    assert_problem(response, 400, "malformed_request")


def test_problem_for_wrong_content_type(client):
    event = EventFactory()
    response = client.post(
        f"/api/v1/events/{event.slug}/registrations/", data="full_name=Amina", content_type="text/plain"
    )
    assert_problem(response, 415, "unsupported_media_type")


def test_problem_for_validation_error_names_each_field(client):
    event = EventFactory()
    response = client.post(
        f"/api/v1/events/{event.slug}/registrations/",
        data={"full_name": "Amina Diallo", "email": "not-an-email", "consent": False, "category": 7},
        content_type="application/json",
    )
    body = assert_problem(response, 400, "validation_error")
    assert {"email", "consent", "category", "country", "attendance"} <= set(body["errors"])
    assert all(isinstance(messages, list) and messages for messages in body["errors"].values())


def test_problem_for_json_that_is_not_an_object(client):
    event = EventFactory()
    response = client.post(
        f"/api/v1/events/{event.slug}/registrations/", data="[1, 2, 3]", content_type="application/json"
    )
    assert_problem(response, 400, "validation_error")
