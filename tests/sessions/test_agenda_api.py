"""The public agenda: viewer zones, languages, the published version only, caching and 304s."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sessions.models import Session
from sessions.services import session_update
from tests.sessions.conftest import publish

pytestmark = pytest.mark.django_db

# The 2024 demo, by hand: 10:00–13:00 EDT is 14:00–17:00 UTC, five back-to-back sessions.
DEMO_UTC = [
    ("2024-09-12T14:00", "2024-09-12T14:15"),
    ("2024-09-12T14:15", "2024-09-12T14:45"),
    ("2024-09-12T14:45", "2024-09-12T15:45"),
    ("2024-09-12T15:45", "2024-09-12T16:45"),
    ("2024-09-12T16:45", "2024-09-12T17:00"),
]


def _shift(utc_text: str, hours: int, minutes: int = 0) -> str:
    """UTC wall time + a fixed offset, formatted with that offset: no time-zone library involved."""
    sign = "-" if hours < 0 or minutes < 0 else "+"
    local = datetime.fromisoformat(utc_text) + timedelta(hours=hours, minutes=minutes)
    return f"{local.isoformat()}{sign}{abs(hours):02d}:{abs(minutes):02d}"


@pytest.mark.parametrize(
    ("tz", "hours", "minutes", "first_date", "last_date"),
    [
        ("Asia/Kathmandu", 5, 45, "2024-09-12", "2024-09-12"),
        ("Asia/Shanghai", 8, 0, "2024-09-12", "2024-09-13"),
        ("Pacific/Kiritimati", 14, 0, "2024-09-13", "2024-09-13"),
        ("America/Santiago", -3, 0, "2024-09-12", "2024-09-12"),  # DST since 8 September 2024
        ("UTC", 0, 0, "2024-09-12", "2024-09-12"),
        ("America/New_York", -4, 0, "2024-09-12", "2024-09-12"),
    ],
)
def test_agenda_in_viewer_zone_matches_offsets_computed_by_hand(
    api_client, demo_event, tz, hours, minutes, first_date, last_date
):
    response = api_client.get(f"/api/v1/events/{demo_event.slug}/agenda/", {"tz": tz})

    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == tz
    got = [(s["starts_at"], s["ends_at"]) for s in body["sessions"]]
    assert got == [(_shift(a, hours, minutes), _shift(b, hours, minutes)) for a, b in DEMO_UTC]
    assert [s["starts_at_utc"] for s in body["sessions"]] == [f"{a}:00Z" for a, _ in DEMO_UTC]
    assert body["sessions"][0]["date"] == first_date
    assert body["sessions"][-1]["date"] == last_date


def test_agenda_for_shanghai_puts_the_last_session_on_friday_13(api_client, demo_event):
    body = api_client.get(f"/api/v1/events/{demo_event.slug}/agenda/?tz=Asia/Shanghai&lang=en").json()

    opening, *_, closing = body["sessions"]
    assert opening["starts_at"] == "2024-09-12T22:00:00+08:00"
    assert closing["ends_at"] == "2024-09-13T01:00:00+08:00"
    assert closing["date"] == "2024-09-13"
    assert closing["date_label"] == "Fri, Sep 13"
    assert opening["date_label"] == "Thu, Sep 12"
    assert opening["utc_offset"] == "UTC+08:00"


def test_agenda_default_zone_is_the_venue_zone(api_client, demo_event):
    body = api_client.get(f"/api/v1/events/{demo_event.slug}/agenda/").json()
    assert body["timezone"] == "America/New_York"
    assert body["sessions"][0]["starts_at"] == "2024-09-12T10:00:00-04:00"
    assert body["sessions"][0]["speakers"][0] == {
        "id": body["sessions"][0]["speakers"][0]["id"],
        "name": "President of the General Assembly",
        "title": "President",
        "organisation": "United Nations General Assembly",
        "role": "speaker",
    }


def test_agenda_unknown_zone_is_400_invalid_timezone(api_client, demo_event):
    response = api_client.get(f"/api/v1/events/{demo_event.slug}/agenda/", {"tz": "Mars/Olympus_Mons"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_timezone"


def test_agenda_unknown_language_is_400(api_client, demo_event):
    response = api_client.get(f"/api/v1/events/{demo_event.slug}/agenda/", {"lang": "tlh"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_language"


@pytest.mark.parametrize(
    ("header", "language", "kind_title", "date_label"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.5", "fr", "Ouverture", "jeu. 12 sept."),
        ("es", "es", "Apertura", "jue, 12 sept"),
        ("ar", "ar", "الافتتاح", "الخميس، 12 سبتمبر"),
        ("zh-CN", "zh", "开幕", "9月12日周四"),
        ("ru", "ru", "Открытие", "чт, 12 сент."),
        ("de-DE", "en", "Opening", "Thu, Sep 12"),
    ],
)
def test_agenda_localises_kinds_and_dates_by_accept_language(
    api_client, demo_event, header, language, kind_title, date_label
):
    response = api_client.get(f"/api/v1/events/{demo_event.slug}/agenda/", HTTP_ACCEPT_LANGUAGE=header)

    body = response.json()
    assert body["language"] == language
    assert body["sessions"][0]["kind_title"] == kind_title
    assert body["sessions"][0]["date_label"] == date_label
    assert "Accept-Language" in response["Vary"]


def test_agenda_lang_parameter_wins_over_header(api_client, demo_event):
    body = api_client.get(
        f"/api/v1/events/{demo_event.slug}/agenda/?lang=ru", HTTP_ACCEPT_LANGUAGE="fr"
    ).json()
    assert body["language"] == "ru"


def test_agenda_shows_only_the_published_version(api_client, demo_event):
    session = Session.objects.get(event=demo_event, kind="closing")
    session_update(session=session, data={"title": "Draft title nobody should see"})

    before = api_client.get(f"/api/v1/events/{demo_event.slug}/agenda/").json()
    assert before["version"] == 1
    assert before["sessions"][-1]["title"] == "Closing remarks and the way forward"

    publish(event=demo_event, comment="Rename the closing")
    after = api_client.get(f"/api/v1/events/{demo_event.slug}/agenda/").json()
    assert after["version"] == 2
    assert after["sessions"][-1]["title"] == "Draft title nobody should see"


def test_agenda_is_served_from_cache_until_publish(api_client, demo_event, django_assert_num_queries):
    url = f"/api/v1/events/{demo_event.slug}/agenda/?tz=Asia/Kathmandu"
    first = api_client.get(url)

    with django_assert_num_queries(0):
        second = api_client.get(url)

    assert second.content == first.content
    session = Session.objects.get(event=demo_event, kind="keynote")
    session_update(session=session, data={"title": "Keynote, renamed"})
    # Draft edits do not change the public agenda, so the cache stays valid...
    assert api_client.get(url).content == first.content
    # ...and a publish retires it.
    publish(event=demo_event)
    third = api_client.get(url).json()
    assert third["sessions"][1]["title"] == "Keynote, renamed"


def test_agenda_conditional_get_returns_304(api_client, demo_event):
    url = f"/api/v1/events/{demo_event.slug}/agenda/"
    first = api_client.get(url)
    etag, last_modified = first["ETag"], first["Last-Modified"]

    by_etag = api_client.get(url, HTTP_IF_NONE_MATCH=etag)
    by_date = api_client.get(url, HTTP_IF_MODIFIED_SINCE=last_modified)
    stale = api_client.get(url, HTTP_IF_NONE_MATCH='"not-the-current-one"')

    assert (by_etag.status_code, by_etag.content) == (304, b"")
    assert by_date.status_code == 304
    assert stale.status_code == 200
    assert by_etag["ETag"] == etag

    publish(event=demo_event)
    after_publish = api_client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert after_publish.status_code == 200
    assert after_publish["ETag"] != etag


def test_agenda_unknown_event_is_404(api_client, db):
    response = api_client.get("/api/v1/events/no-such-event/agenda/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_agenda_versions_list_the_changelog(api_client, demo_event):
    session = Session.objects.get(event=demo_event, kind="closing")
    session_update(session=session, data={"title": "The way forward"})
    publish(event=demo_event, comment="Closing renamed")

    body = api_client.get(f"/api/v1/events/{demo_event.slug}/agenda/versions/").json()

    assert [(v["number"], v["comment"], v["session_count"]) for v in body] == [
        (2, "Closing renamed", 5),
        (1, "First published agenda.", 5),
    ]
    assert body[0]["diff"]["retitled"] == [str(session.uid)]
    assert body[0]["diff"]["moved"] == []
