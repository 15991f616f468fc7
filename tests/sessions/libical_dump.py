"""Reads an iCalendar document on stdin with libical (the C library of GNOME Calendar and
Evolution, through its GObject bindings) and prints what it understood as JSON: each VEVENT's
UID, SEQUENCE and UTC instants, resolved through the document's own VTIMEZONEs.

Run with the system Python (`/usr/bin/python3`, python3-gi + gir1.2-ical-3.0), not the venv."""

import json
import sys

import gi

gi.require_version("ICalGLib", "3.0")
from gi.repository import ICalGLib  # noqa: E402

K = ICalGLib.ComponentKind


def main() -> None:
    calendar = ICalGLib.Component.new_from_string(sys.stdin.read())
    zones = {}
    vtimezone = calendar.get_first_component(K.VTIMEZONE_COMPONENT)
    while vtimezone is not None:
        zone = ICalGLib.Timezone.new()
        zone.set_component(vtimezone.clone())
        zones[zone.get_tzid()] = zone
        vtimezone = calendar.get_next_component(K.VTIMEZONE_COMPONENT)

    def utc_seconds(component, kind):
        prop = component.get_first_property(kind)
        value = prop.get_dtstart() if kind == ICalGLib.PropertyKind.DTSTART_PROPERTY else prop.get_dtend()
        param = prop.get_first_parameter(ICalGLib.ParameterKind.TZID_PARAMETER)
        if param is not None:
            tzid = param.get_tzid()
            if tzid not in zones:
                raise SystemExit(f"TZID {tzid} has no VTIMEZONE")
            return value.as_timet_with_zone(zones[tzid]), tzid
        if not value.is_utc():
            raise SystemExit("floating time")
        return value.as_timet(), None

    events = []
    vevent = calendar.get_first_component(K.VEVENT_COMPONENT)
    while vevent is not None:
        start, tzid = utc_seconds(vevent, ICalGLib.PropertyKind.DTSTART_PROPERTY)
        end, _ = utc_seconds(vevent, ICalGLib.PropertyKind.DTEND_PROPERTY)
        events.append(
            {
                "uid": vevent.get_uid(),
                "sequence": vevent.get_sequence(),
                "summary": vevent.get_summary(),
                "tzid": tzid,
                "start_utc": start,
                "end_utc": end,
            }
        )
        vevent = calendar.get_next_component(K.VEVENT_COMPONENT)
    method = calendar.get_method()
    print(
        json.dumps(
            {
                "method": ICalGLib.PropertyMethod(method).value_nick.upper(),
                "timezones": list(zones),
                "events": events,
            }
        )
    )


main()
