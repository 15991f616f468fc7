"""Dates and times as people read them, per locale (Babel's CLDR data), in two zones at once.

Everything sent to a person shows the venue's local time (the time printed on the programme)
and, when it differs, the same instants in the recipient's own zone, e.g.
"Thursday 12 September, 10:00–13:00 New York (EDT) · Friday 13 September, 00:00–03:00 your time
(Sydney)". Pure functions: aware datetimes and IANA names in, text out.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

from babel import Locale
from babel.dates import (
    format_datetime,
    format_interval,
    format_skeleton,
    get_timezone_location,
    match_skeleton,
)
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from sessions.timezones import get_zone

# Django language code → the CLDR locale whose conventions we print. UN English is British.
BABEL_LOCALES = {"en": "en_GB", "fr": "fr_FR", "es": "es_ES", "ar": "ar", "zh": "zh_Hans_CN", "ru": "ru_RU"}


@lru_cache(maxsize=32)
def babel_locale(language: str) -> Locale:
    code = BABEL_LOCALES.get((language or "en").split("-")[0].lower(), "en_GB")
    return Locale.parse(code)


def is_rtl(language: str) -> bool:
    return babel_locale(language).character_order == "right-to-left"


@lru_cache(maxsize=512)
def zone_city(zone_name: str, language: str) -> str:
    """'New York', 'Нью-Йорк', '纽约'... the exemplar city CLDR gives for the zone."""
    if zone_name in {"UTC", "Etc/UTC", "Etc/GMT", "GMT"}:
        return "UTC"
    try:
        return get_timezone_location(get_zone(zone_name), locale=babel_locale(language), return_city=True)
    except Exception:  # Babel lacks a few rare zones: fall back to the IANA name's last part
        return zone_name.rsplit("/", 1)[-1].replace("_", " ")


def zone_abbreviation(moment: datetime) -> str:
    """'EDT', 'CEST'... or 'UTC+4' where the tz database has no letters for the zone ('+04')."""
    name = moment.tzname() or ""
    if name and name[0] not in "+-" and name.isalpha():
        return name
    offset = moment.utcoffset()
    total = int(offset.total_seconds() // 60) if offset is not None else 0
    if total == 0:
        return "UTC"
    sign = "+" if total > 0 else "−"
    hours, minutes = divmod(abs(total), 60)
    return f"UTC{sign}{hours}" + (f":{minutes:02d}" if minutes else "")


@lru_cache(maxsize=64)
def _date_pattern(language: str, skeleton: str) -> str:
    """The locale's pattern for `skeleton`, with the weekday written in full: CLDR's
    "MMMMEd" patterns abbreviate it ("jeu. 12 septembre"); a letter reads better spelled out."""
    locale = babel_locale(language)
    best = match_skeleton(skeleton, locale.datetime_skeletons) or skeleton
    pattern = locale.datetime_skeletons[best].pattern
    return re.sub(r"(?<![E'])E{1,3}(?!E)", "EEEE", pattern)


def format_date(moment: datetime, language: str) -> str:
    """'Thursday 12 September' in the moment's own zone."""
    return format_datetime(moment, _date_pattern(language, "MMMMEd"), locale=babel_locale(language))


def format_date_long(moment: datetime, language: str) -> str:
    """'Thursday 12 September 2024' (printed material)."""
    return format_datetime(moment, _date_pattern(language, "yMMMMEd"), locale=babel_locale(language))


def format_time(moment: datetime, language: str) -> str:
    return format_skeleton("Hm", moment, locale=babel_locale(language))


def format_range(starts_at: datetime, ends_at: datetime, zone_name: str, language: str) -> str:
    """'Thursday 12 September, 10:00–13:00' in `zone_name`; both dates when it crosses midnight."""
    zone = get_zone(zone_name)
    locale = babel_locale(language)
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    pattern = locale.datetime_formats["medium"]  # "{1}, {0}": how this locale joins date and time
    if start.date() == end.date():
        times = format_interval(start.timetz(), end.timetz(), "Hm", tzinfo=zone, locale=locale)
        return pattern.format(times, format_date(start, language))
    first = pattern.format(format_time(start, language), format_date(start, language))
    second = pattern.format(format_time(end, language), format_date(end, language))
    return f"{first} – {second}"


def _same_clock(starts_at: datetime, ends_at: datetime, zone_a: str, zone_b: str) -> bool:
    if zone_a == zone_b:
        return True
    a, b = get_zone(zone_a), get_zone(zone_b)
    return all(m.astimezone(a).utcoffset() == m.astimezone(b).utcoffset() for m in (starts_at, ends_at))


def format_when_parts(
    starts_at: datetime, ends_at: datetime, *, venue_zone: str, viewer_zone: str | None, language: str
) -> list[str]:
    """[the venue's time with its city and zone letters, the viewer's time if it differs]."""
    # Every attendee of an event in one language and zone reads the same text: Babel's interval
    # formatting is computed once per key. The text depends on the instants only (UTC keys:
    # local times in one zone compare equal across a fall-back fold even when they differ) and
    # on the active translation, whose phrases frame it.
    parts = _when_parts(
        starts_at.astimezone(UTC), ends_at.astimezone(UTC), venue_zone, viewer_zone, language, get_language()
    )
    return list(parts)


@lru_cache(maxsize=1024)
def _when_parts(
    starts_at: datetime,
    ends_at: datetime,
    venue_zone: str,
    viewer_zone: str | None,
    language: str,
    active_language: str | None,
) -> tuple[str, ...]:
    return tuple(
        format_when_parts_uncached(
            starts_at, ends_at, venue_zone=venue_zone, viewer_zone=viewer_zone, language=language
        )
    )


def format_when_parts_uncached(
    starts_at: datetime, ends_at: datetime, *, venue_zone: str, viewer_zone: str | None, language: str
) -> list[str]:
    """What `format_when_parts` returns, computed by Babel for every call."""
    venue = _("%(when)s %(city)s (%(zone)s)") % {
        "when": format_range(starts_at, ends_at, venue_zone, language),
        "city": zone_city(venue_zone, language),
        "zone": zone_abbreviation(starts_at.astimezone(get_zone(venue_zone))),
    }
    if not viewer_zone or _same_clock(starts_at, ends_at, venue_zone, viewer_zone):
        return [venue]
    viewer = _("%(when)s your time (%(city)s)") % {
        "when": format_range(starts_at, ends_at, viewer_zone, language),
        "city": zone_city(viewer_zone, language),
    }
    return [venue, viewer]


def format_when(
    starts_at: datetime, ends_at: datetime, *, venue_zone: str, viewer_zone: str | None, language: str
) -> str:
    """'Thursday 12 September, 10:00–13:00 New York (EDT) · Friday 13 September, 00:00–03:00
    your time (Sydney)': the venue's time, then the viewer's when their clock differs."""
    parts = format_when_parts(
        starts_at, ends_at, venue_zone=venue_zone, viewer_zone=viewer_zone, language=language
    )
    return " · ".join(parts)
