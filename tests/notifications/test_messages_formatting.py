"""Times in two zones, per locale. Expected values are worked out by hand from UTC and the
zones' known offsets, not by calling the code under test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from notifications.formatting import format_range, format_when, zone_abbreviation

# 12 September 2024, 14:00–17:00 UTC = 10:00–13:00 in New York (EDT, UTC−4).
START = datetime(2024, 9, 12, 14, 0, tzinfo=UTC)
END = START + timedelta(hours=3)


def when(viewer: str | None, language: str = "en", start=START, end=END, venue="America/New_York") -> str:
    with translation.override(language):
        return format_when(start, end, venue_zone=venue, viewer_zone=viewer, language=language)


def test_format_when_matches_the_issue_example():
    assert when("Australia/Sydney") == (
        "Thursday 12 September, 10:00–13:00 New York (EDT) · "
        "Friday 13 September, 00:00–03:00 your time (Sydney)"
    )


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Asia/Kathmandu", "Thursday 12 September, 19:45–22:45 your time (Kathmandu)"),  # UTC+5:45
        ("Pacific/Kiritimati", "Friday 13 September, 04:00–07:00 your time (Kiritimati)"),  # UTC+14
        ("America/Santiago", "Thursday 12 September, 11:00–14:00 your time (Santiago)"),  # UTC−3
        ("Asia/Shanghai", "Thursday 12 September, 22:00 – Friday 13 September, 01:00 your time (Shanghai)"),
        ("UTC", "Thursday 12 September, 14:00–17:00 your time (UTC)"),
    ],
)
def test_format_when_viewer_zones(zone, expected):
    venue, viewer = when(zone).split(" · ")

    assert venue == "Thursday 12 September, 10:00–13:00 New York (EDT)"
    assert viewer == expected


def test_format_when_same_clock_shows_one_time():
    # Toronto keeps New York's clock all year: one line, no "your time".
    assert when("America/Toronto") == "Thursday 12 September, 10:00–13:00 New York (EDT)"
    assert when(None) == "Thursday 12 September, 10:00–13:00 New York (EDT)"


def test_format_when_winter_uses_standard_time_letters():
    start = datetime(2024, 12, 12, 15, 0, tzinfo=UTC)  # 10:00 EST (UTC−5)

    assert when(None, start=start, end=start + timedelta(hours=1)) == (
        "Thursday 12 December, 10:00–11:00 New York (EST)"
    )


def test_zone_without_letters_gets_an_offset():
    dubai = START.astimezone(ZoneInfo("Asia/Dubai"))  # tz database: "+04"
    kathmandu = START.astimezone(ZoneInfo("Asia/Kathmandu"))

    assert zone_abbreviation(dubai) == "UTC+4"
    assert zone_abbreviation(kathmandu) == "UTC+5:45"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr", "jeudi 12 septembre, 10:00\u2009–\u200913:00"),
        ("es", "jueves, 12 de septiembre, 10:00–13:00"),
        ("ru", "четверг, 12 сентября, 10:00—13:00"),
        ("zh", "9月12日星期四 10:00–13:00"),
        ("ar", "الخميس، 12 سبتمبر، 10:00–13:00"),
    ],
)
def test_format_range_per_locale_spells_the_weekday(language, expected):
    assert format_range(START, END, "America/New_York", language) == expected


def test_format_when_translated_labels():
    assert when("Australia/Sydney", "fr").endswith("votre heure (Sydney)")
    assert "по вашему времени (Сидней)" in when("Australia/Sydney", "ru")
    assert "您的当地时间（悉尼）" in when("Australia/Sydney", "zh")
