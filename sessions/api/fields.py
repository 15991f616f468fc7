"""Datetime input in the event's zone.

`2024-09-12T10:00:00-04:00` is taken as is; `2024-09-12T10:00:00` is a wall-clock time at the
venue, read strictly (gap → 400 nonexistent_local_time, fold → 400 ambiguous_local_time naming
both instants). Output carries the event zone's offset.
"""

from __future__ import annotations

from datetime import datetime

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sessions.timezones import get_zone, make_aware_strict


@extend_schema_field(OpenApiTypes.DATETIME)
class EventLocalDateTimeField(serializers.Field):
    default_error_messages = {
        "invalid": "Use ISO 8601, e.g. 2024-09-12T10:00:00-04:00 or 2024-09-12T10:00:00 (venue time).",
        "out_of_range": "Give a date between 1970 and 2100.",
    }
    # Before 1970 zones use local mean time with offsets in seconds (New York: -04:56:02), which
    # ISO 8601 / RFC 3339 output cannot carry; no event is scheduled there anyway.
    earliest_year = 1970
    latest_year = 2100

    def _zone_name(self) -> str:
        root = self.root
        # On event create/edit the payload may set the zone itself: local times are in that zone.
        initial = getattr(root, "initial_data", None)
        if getattr(root, "zone_from_payload", False) and isinstance(initial, dict) and "timezone" in initial:
            get_zone(initial["timezone"])  # unknown → 400 invalid_timezone
            return initial["timezone"]
        zone = self.context.get("timezone")
        if not zone:
            raise serializers.ValidationError("A time without an offset needs the event's timezone.")
        return zone

    def to_internal_value(self, data) -> datetime:
        if not isinstance(data, str) or len(data) > 64:
            self.fail("invalid")
        try:
            parsed = parse_datetime(data.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail("invalid")
        if not self.earliest_year <= parsed.year <= self.latest_year:
            self.fail("out_of_range")
        if parsed.tzinfo is None:
            parsed = make_aware_strict(parsed, self._zone_name(), field=self.field_name)
        if parsed.utcoffset().seconds % 60:
            self.fail("invalid")
        return parsed

    def to_representation(self, value: datetime) -> str:
        zone_name = self.context.get("timezone")
        if zone_name:
            value = value.astimezone(get_zone(zone_name))
        return value.isoformat()
