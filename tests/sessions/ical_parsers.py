"""Independent readers of iCalendar bytes, for tests: vobject (Python) and ical.js (Node, the
parser Thunderbird uses). Neither shares code with `icalendar`, which writes our documents."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC
from pathlib import Path

import pytest
import vobject

ICALJS_SCRIPT = Path(__file__).with_name("icaljs_dump.mjs")
REPO_ROOT = Path(__file__).resolve().parents[2]


def unfold(data: bytes) -> list[str]:
    """RFC 5545 §3.1 unfolding, by hand: CRLF followed by one space or tab continues a line."""
    text = data.decode("utf-8")
    return re.sub(r"\r\n[ \t]", "", text).split("\r\n")


def referenced_tzids(data: bytes) -> set[str]:
    return {m.group(1) for line in unfold(data) for m in re.finditer(r";TZID=([^;:]+)", line)}


def defined_tzids(data: bytes) -> set[str]:
    return {line.split(":", 1)[1] for line in unfold(data) if line.startswith("TZID:")}


def reset_vobject_timezones() -> None:
    """vobject keeps the first VTIMEZONE it parsed for a TZID in a process-wide map and reuses it
    for later calendars; read each calendar as a fresh client would, with its own definitions."""
    tzid_map = getattr(vobject.icalendar, "__tzidMap")
    utc = tzid_map.get("UTC")
    tzid_map.clear()
    if utc is not None:
        tzid_map["UTC"] = utc


def parse_with_vobject(data: bytes) -> dict:
    reset_vobject_timezones()
    calendar = vobject.readOne(data.decode("utf-8"))
    events = []
    for vevent in calendar.contents.get("vevent", []):
        start = vevent.dtstart.value
        end = vevent.dtend.value
        assert start.tzinfo is not None and end.tzinfo is not None, "vobject read a floating time"
        events.append(
            {
                "uid": vevent.uid.value,
                "sequence": int(vevent.sequence.value),
                "summary": vevent.summary.value,
                "status": vevent.status.value if hasattr(vevent, "status") else None,
                "start_utc": int(start.astimezone(UTC).timestamp()),
                "end_utc": int(end.astimezone(UTC).timestamp()),
                "location": vevent.location.value if hasattr(vevent, "location") else None,
                "description": vevent.description.value if hasattr(vevent, "description") else None,
            }
        )
    return {
        "method": calendar.method.value if hasattr(calendar, "method") else None,
        "timezones": [tz.tzid.value for tz in calendar.contents.get("vtimezone", [])],
        "events": events,
    }


def icaljs_available() -> bool:
    return shutil.which("node") is not None and (REPO_ROOT / "node_modules" / "ical.js").is_dir()


def parse_with_icaljs(data: bytes) -> dict:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (REPO_ROOT / "node_modules" / "ical.js").is_dir():
        pytest.fail("ical.js is missing: run `make jsdeps` (it is pinned in package.json)")
    result = subprocess.run(
        ["node", str(ICALJS_SCRIPT)], input=data, capture_output=True, cwd=REPO_ROOT, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


LIBICAL_SCRIPT = Path(__file__).with_name("libical_dump.py")
SYSTEM_PYTHON = "/usr/bin/python3"


def parse_with_libical(data: bytes) -> dict:
    """libical, as GNOME Calendar and Evolution read invites (system Python + GObject bindings:
    Debian packages python3-gi and gir1.2-ical-3.0, installed by .ci/run)."""
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('ICalGLib', '3.0')"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip("libical bindings missing: apt-get install python3-gi gir1.2-ical-3.0")
    result = subprocess.run(
        [SYSTEM_PYTHON, str(LIBICAL_SCRIPT)], input=data, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)
