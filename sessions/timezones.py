"""Time-zone rules, in one place: strict local-time parsing and zone validation.

A wall-clock time in a zone can name no instant (the spring-forward gap) or two (the fall-back
fold). We never guess: such input is refused unless an explicit offset says which instant.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from config.problems import ApplicationError


class InvalidTimezone(ApplicationError):
    code = "invalid_timezone"
    title = "Unknown time zone"


class NonexistentLocalTime(ApplicationError):
    code = "nonexistent_local_time"
    title = "This local time does not exist"


class AmbiguousLocalTime(ApplicationError):
    code = "ambiguous_local_time"
    title = "This local time is ambiguous"


@lru_cache(maxsize=1)
def available_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_valid_timezone(name: str) -> bool:
    return isinstance(name, str) and name in available_timezones()


@lru_cache(maxsize=1024)
def get_zone(name: str) -> ZoneInfo:
    """The zone named `name`, or InvalidTimezone. Only names from the tz database are accepted."""
    if not is_valid_timezone(name):
        raise InvalidTimezone(f"'{str(name)[:64]}' is not an IANA time zone this server knows.")
    return ZoneInfo(name)


def make_aware_strict(naive: datetime, zone_name: str, *, field: str | None = None) -> datetime:
    """Read a naive wall-clock time in `zone_name`; refuse gap and fold times."""
    if naive.tzinfo is not None:
        return naive
    zone = get_zone(zone_name)
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    # Round-tripping through UTC moves a gap time to another wall-clock time.
    if first.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None) != naive:
        raise NonexistentLocalTime(
            f"{naive.isoformat()} does not exist in {zone_name} (the clocks skip it); give an offset.",
            extra={"field": field} if field else None,
        )
    if first.utcoffset() != second.utcoffset():
        instants = [first.isoformat(), second.isoformat()]
        raise AmbiguousLocalTime(
            f"{naive.isoformat()} happens twice in {zone_name}: {instants[0]} or {instants[1]}; "
            "give an offset to choose.",
            extra={"candidates": instants, **({"field": field} if field else {})},
        )
    return first


def utc_offset_label(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    total = int(offset.total_seconds() // 60)
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"
