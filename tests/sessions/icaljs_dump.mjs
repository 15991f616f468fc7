// Reads an iCalendar document on stdin with ical.js (Thunderbird's parser) and prints, as JSON,
// what a calendar client would show: each VEVENT's UID, SEQUENCE and its UTC instants.
// The VTIMEZONEs are taken from the document itself (ical.js has no zone database of its own).
import fs from "node:fs";
import ICAL from "ical.js";

const text = fs.readFileSync(0, "utf8");
const first = new ICAL.Component(ICAL.parse(text));
const timezones = first.getAllSubcomponents("vtimezone");
for (const vtimezone of timezones) {
  ICAL.TimezoneService.register(vtimezone);
}
// Parse again now that the zones are known, so TZID times resolve through them.
const calendar = new ICAL.Component(ICAL.parse(text));
const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
  const event = new ICAL.Event(vevent);
  const dtstart = vevent.getFirstProperty("dtstart");
  return {
    uid: event.uid,
    sequence: event.sequence,
    summary: event.summary,
    status: vevent.getFirstPropertyValue("status"),
    tzid: dtstart.getParameter("tzid") || null,
    start_utc: event.startDate.toUnixTime(),
    end_utc: event.endDate.toUnixTime(),
    location: event.location,
    description: event.description,
  };
});
process.stdout.write(
  JSON.stringify({
    method: calendar.getFirstPropertyValue("method"),
    timezones: timezones.map((tz) => tz.getFirstPropertyValue("tzid")),
    events,
  }),
);
