"""The demo event: the UN high-level panel on South-South cooperation. Data, not code paths."""

from __future__ import annotations

DEMO_SLUG = "south-south-cooperation"

EVENT = {
    "slug": DEMO_SLUG,
    "title": "A Better Tomorrow with South-South Cooperation",
    "description": (
        "UN High-level Panel Discussion — special event for the International Day for South-South "
        "Cooperation. The panel takes stock of progress, and highlights opportunities, challenges and "
        "emerging trends of South-South and triangular cooperation, with Member States, the UN system, "
        "the private sector and civil society."
    ),
    "venue": "United Nations Headquarters, New York",
    "timezone": "America/New_York",
    "capacity": 300,
    "webcast_url": "https://webtv.un.org/",
    "local_start": "10:00",
    "local_end": "13:00",
    "month_day": (9, 12),
}

ROOMS = ["Conference Room 4"]

# Speakers are named by their function: the demo names no real person.
SPEAKERS = {
    "pga": {
        "name": "President of the General Assembly",
        "title": "President",
        "organisation": "United Nations General Assembly",
    },
    "dsg": {
        "name": "Deputy Secretary-General of the United Nations",
        "title": "Deputy Secretary-General",
        "organisation": "United Nations",
    },
    "unossc": {
        "name": "Director, UN Office for South-South Cooperation",
        "title": "Director",
        "organisation": "UN Office for South-South Cooperation (UNOSSC)",
    },
    "minister": {
        "name": "Minister of Foreign Affairs, Member State of the Global South",
        "title": "Minister of Foreign Affairs",
        "organisation": "Member State",
    },
    "undp": {
        "name": "Administrator, United Nations Development Programme",
        "title": "Administrator",
        "organisation": "UNDP",
    },
    "private": {
        "name": "Chief Executive, Southern private-sector partner",
        "title": "Chief Executive Officer",
        "organisation": "Private sector",
    },
    "civil": {
        "name": "Coordinator, civil society network for South-South cooperation",
        "title": "Coordinator",
        "organisation": "Civil society",
    },
}

# (kind, title, local start, local end, [(speaker key, role)])
SESSIONS = [
    (
        "opening",
        "Opening of the high-level panel",
        "10:00",
        "10:15",
        [("pga", "speaker"), ("unossc", "chair")],
    ),
    (
        "keynote",
        "Keynote: South-South cooperation for the 2030 Agenda",
        "10:15",
        "10:45",
        [("dsg", "speaker")],
    ),
    (
        "panel",
        "Taking stock: progress, opportunities and challenges of South-South and triangular cooperation",
        "10:45",
        "11:45",
        [("minister", "speaker"), ("undp", "speaker"), ("private", "speaker"), ("unossc", "moderator")],
    ),
    (
        "dialogue",
        "Interactive dialogue with Member States, the UN system, the private sector and civil society",
        "11:45",
        "12:45",
        [("civil", "speaker"), ("private", "speaker"), ("unossc", "moderator")],
    ),
    ("closing", "Closing remarks and the way forward", "12:45", "13:00", [("unossc", "speaker")]),
]
