"""Organiser endpoints: the auth matrix, list filters, decisions, capacity, export, summary."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.http import StreamingHttpResponse

from registrations import services
from registrations.models import EventRole, Registration
from tests.factories import EventFactory, RegistrationFactory, staff_token
from tests.registrations.conftest import signup_payload

pytestmark = pytest.mark.django_db

ORG = EventRole.Role.ORGANISER
CHECKIN = EventRole.Role.CHECKIN


def _endpoints(event, registration):
    base = f"/api/v1/events/{event.slug}"
    rid = registration.id
    return [
        ("get", f"{base}/registrations/", None),
        ("get", f"{base}/registrations/?status=confirmed&search=a", None),
        ("get", f"{base}/registrations/{rid}/", None),
        ("post", f"{base}/registrations/{rid}/approve/", {}),
        ("post", f"{base}/registrations/{rid}/reject/", {"reason": "no"}),
        ("post", f"{base}/registrations/{rid}/cancel/", {}),
        ("get", f"{base}/registrations/export.csv", None),
        ("get", f"{base}/registrations/summary/", None),
        ("get", f"{base}/capacity/", None),
        ("patch", f"{base}/capacity/", {"capacity": 10}),
    ]


ENDPOINT_IDS = [
    "list",
    "list-filtered",
    "detail",
    "approve",
    "reject",
    "cancel",
    "export",
    "summary",
    "capacity-get",
    "capacity-patch",
]


def call(api_client, method, path, body, key=None):
    if key:
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    kwargs = {"data": json.dumps(body), "content_type": "application/json"} if body is not None else {}
    return getattr(api_client, method)(path, **kwargs)


@pytest.mark.parametrize("index", range(len(ENDPOINT_IDS)), ids=ENDPOINT_IDS)
@pytest.mark.parametrize(
    "who, expected",
    [("anonymous", 401), ("checkin_staff", 403), ("other_organiser", 403), ("organiser", 200)],
)
def test_auth_matrix(api_client, index, who, expected):
    event = EventFactory(approval_required=True)
    registration = services.registration_create(event=event, **signup_payload())
    keys = {
        "anonymous": None,
        "checkin_staff": staff_token(event=event, role=CHECKIN),
        "other_organiser": staff_token(event=EventFactory(), role=ORG),
        "organiser": staff_token(event=event, role=ORG),
    }
    # A pending registration: approve, reject and cancel are all allowed on it.
    method, path, body = _endpoints(event, registration)[index]

    response = call(api_client, method, path, body, keys[who])

    assert response.status_code == expected, (who, path)
    if expected != 200:
        assert response["Content-Type"].startswith("application/problem+json")
        assert response.json()["code"] == {401: "not_authenticated", 403: "permission_denied"}[expected]
        if expected == 401:
            assert response["WWW-Authenticate"].startswith("Token")


def test_organiser_of_event_a_cannot_read_a_registration_of_event_b_through_a(api_client):
    event_a, event_b = EventFactory(), EventFactory()
    registration_b = RegistrationFactory(event=event_b)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {staff_token(event=event_a, role=ORG)}")

    response = api_client.get(f"/api/v1/events/{event_a.slug}/registrations/{registration_b.id}/")

    assert response.status_code == 404


def test_list_filters_search_ordering_and_pagination(api_client, settings):
    event = EventFactory(capacity=100)
    RegistrationFactory(event=event, full_name="Zainab", country="NG", category="civil_society")
    RegistrationFactory(event=event, full_name="Amina", country="SN", organisation="Dakar Lab")
    RegistrationFactory(event=event, full_name="Bao", country="VN", attendance="online")
    RegistrationFactory(
        event=event, full_name="Carla", country="BR", status="waitlisted", waitlist_position=1
    )
    RegistrationFactory(event=EventFactory(), full_name="Elsewhere")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {staff_token(event=event, role=ORG)}")
    base = f"/api/v1/events/{event.slug}/registrations/"

    def names(query):
        response = api_client.get(base + query)
        assert response.status_code == 200, response.content
        return [r["full_name"] for r in response.json()["results"]]

    assert names("?ordering=full_name") == ["Amina", "Bao", "Carla", "Zainab"]
    assert names("?ordering=-full_name") == ["Zainab", "Carla", "Bao", "Amina"]
    assert names("?status=waitlisted") == ["Carla"]
    assert names("?status=confirmed&attendance=online") == ["Bao"]
    assert names("?category=civil_society") == ["Zainab"]
    assert names("?country=sn,vn&ordering=full_name") == ["Amina", "Bao"]
    assert names("?search=dakar") == ["Amina"]
    page = api_client.get(base + "?ordering=full_name&page=1").json()
    assert page["count"] == 4
    bad = api_client.get(base + "?status=bogus&ordering=secret")
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"status", "ordering"}


def test_list_is_paginated(api_client):
    event = EventFactory()
    RegistrationFactory.create_batch(55, event=event)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {staff_token(event=event, role=ORG)}")

    first = api_client.get(f"/api/v1/events/{event.slug}/registrations/").json()
    second = api_client.get(f"/api/v1/events/{event.slug}/registrations/?page=2").json()

    assert (first["count"], len(first["results"]), len(second["results"])) == (55, 50, 5)
    assert first["next"] and second["next"] is None


def test_organiser_decisions_and_capacity(api_client):
    event = EventFactory(capacity=1, approval_required=True)
    pending = services.registration_create(event=event, **signup_payload(email="a@example.org"))
    waiting = services.registration_create(event=event, **signup_payload(email="b@example.org"))
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {staff_token(event=event, role=ORG)}")
    base = f"/api/v1/events/{event.slug}"

    approved = api_client.post(f"{base}/registrations/{pending.id}/approve/", {}, format="json")
    again = api_client.post(f"{base}/registrations/{pending.id}/approve/", {}, format="json")
    capacity = api_client.patch(f"{base}/capacity/", {"capacity": 2}, format="json")
    cancelled = api_client.post(
        f"{base}/registrations/{pending.id}/cancel/", {"reason": "Asked by phone"}, format="json"
    )

    assert approved.status_code == 200 and approved.json()["status"] == "confirmed"
    assert again.status_code == 409 and again.json()["code"] == "invalid_status_transition"
    assert capacity.json() == {
        "capacity": 2,
        "online_capacity": None,
        "seats_left": 0,
        "waitlisted": 0,
        "promoted": [waiting.id],
    }
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["decision_reason"] == "Asked by phone"
    bad = api_client.patch(f"{base}/capacity/", {"capacity": -1}, format="json")
    assert bad.status_code == 400 and list(bad.json()["errors"]) == ["capacity"]


def read_export(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_export_csv_neutralises_formulas_and_keeps_unicode(api_client):
    event = EventFactory()
    nasty = {
        '=HYPERLINK("http://evil")': '=HYPERLINK("http://evil")',
        "+1 234": "+1 234",
        "-2+3": "-2+3",
        "@SUM(A1)": "@SUM(A1)",
    }
    for n, value in enumerate(nasty):
        RegistrationFactory(event=event, full_name=value, organisation=value, email=f"x{n}@example.org")
    RegistrationFactory(
        event=event, full_name="أمينة 李小龙", organisation="Ministère", accessibility_needs="\tcmd"
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {staff_token(event=event, role=ORG)}")

    response = api_client.get(f"/api/v1/events/{event.slug}/registrations/export.csv", HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = read_export(response)
    header, body = rows[0], rows[1:]
    assert header[:5] == ["id", "status", "waitlist_position", "full_name", "email"]
    names = [row[header.index("full_name")] for row in body]
    assert names == ["'" + v for v in nasty] + ["أمينة 李小龙"]
    assert [row[header.index("organisation")] for row in body][:4] == ["'" + v for v in nasty]
    assert body[-1][header.index("accessibility_needs")] == "'\tcmd"
    assert body[-1][header.index("m49_region")] == "Africa"
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in body for cell in row)


def test_export_filters_and_other_events_stay_out(api_client):
    event = EventFactory()
    RegistrationFactory(event=event, full_name="In")
    RegistrationFactory(event=event, full_name="Gone", status="cancelled")
    RegistrationFactory(event=EventFactory(), full_name="Other event")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {staff_token(event=event, role=ORG)}")

    everything = read_export(api_client.get(f"/api/v1/events/{event.slug}/registrations/export.csv"))
    confirmed = read_export(
        api_client.get(f"/api/v1/events/{event.slug}/registrations/export.csv?status=confirmed")
    )

    assert [row[3] for row in everything[1:]] == ["In", "Gone"]
    assert [row[3] for row in confirmed[1:]] == ["In"]


def test_summary_counts_by_category_attendance_status_and_country_group(api_client):
    event = EventFactory(capacity=10)
    RegistrationFactory(event=event, country="SN", category="member_state")  # Africa, LDC
    RegistrationFactory(event=event, country="NP", attendance="online")  # Asia, LDC + LLDC
    RegistrationFactory(event=event, country="FJ", category="civil_society")  # Oceania, SIDS
    RegistrationFactory(event=event, country="BR", status="waitlisted", waitlist_position=1)
    RegistrationFactory(event=event, country="US", status="cancelled")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {staff_token(event=event, role=ORG)}")

    body = api_client.get(f"/api/v1/events/{event.slug}/registrations/summary/").json()

    assert body["total"] == 4
    assert body["by_status"] == {
        "pending_approval": 0,
        "confirmed": 3,
        "waitlisted": 1,
        "rejected": 0,
        "cancelled": 1,
    }
    assert body["by_attendance"] == {"in_person": 3, "online": 1}
    assert body["by_category"]["civil_society"] == 1
    assert body["by_category"]["member_state"] == 3
    assert body["by_region"] == {"Africa": 1, "Americas": 1, "Asia": 1, "Oceania": 1}
    assert body["by_subregion"]["Latin America and the Caribbean"] == 1
    assert body["country_groups"] == {"ldc": 2, "lldc": 1, "sids": 1}
    assert body["by_country"] == {"BR": 1, "FJ": 1, "NP": 1, "SN": 1}
    assert (body["seats_left"], body["confirmed_in_person"]) == (8, 2)


def test_signup_on_behalf_counts_like_any_other(api_client):
    event = EventFactory(capacity=1)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {staff_token(event=event, role=ORG)}")

    response = api_client.post(f"/api/v1/events/{event.slug}/registrations/", signup_payload(), format="json")

    assert response.status_code == 201
    assert Registration.objects.get().status == "confirmed"
