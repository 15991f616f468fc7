"""Authorisation matrix over every route of the URL conf × every kind of caller.

The routes are read from `get_resolver()` at collection time, so a new route is in this test
the moment it exists. Each (route name, method) must be classified in POLICY; an unclassified
one fails, which forces whoever adds a route to say who may call it. The expectations per
policy come from DESIGN.md / API.md, not from the views' own permission classes.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

PUBLIC = "public"  # anyone
ORGANISER = "organiser"  # organisers of this event
STAFF = "staff"  # organisers or check-in staff of this event
CREATOR = "creator"  # staff users or organisers of any event (creating events)
MANAGE = "manage"  # whoever holds the registration's manage token (in the path)
LOGIN_PAGE = "login_page"  # staff HTML pages: a session login; an API token opens nothing

METHODS = ("get", "post", "put", "patch", "delete")

# (url name, method) → policy; (url name, "*") applies to every method of the route.
POLICY: dict[tuple[str, str], str] = {
    ("healthz", "get"): PUBLIC,
    ("healthz-live", "get"): PUBLIC,
    ("schema", "get"): PUBLIC,
    ("docs", "get"): PUBLIC,
    ("event-list", "get"): PUBLIC,
    ("event-list", "post"): CREATOR,
    ("event-detail", "get"): PUBLIC,
    ("event-detail", "patch"): ORGANISER,
    ("event-detail", "put"): ORGANISER,
    ("event-detail", "delete"): ORGANISER,
    ("agenda", "get"): PUBLIC,
    ("agenda-feed", "get"): PUBLIC,
    ("agenda-versions", "get"): PUBLIC,
    ("session-feed", "get"): PUBLIC,
    ("speaker-feed", "get"): PUBLIC,
    ("agenda-publish", "*"): ORGANISER,
    ("session-list", "*"): ORGANISER,
    ("session-detail", "*"): ORGANISER,
    ("speaker-list", "*"): ORGANISER,
    ("speaker-detail", "*"): ORGANISER,
    ("room-list", "*"): ORGANISER,
    ("room-detail", "*"): ORGANISER,
    ("checkins-create", "*"): STAFF,
    ("checkins-manual", "*"): STAFF,
    ("checkins-stats", "*"): STAFF,
    ("checkins-bundle", "*"): STAFF,
    ("checkins-search", "*"): STAFF,
    # Undoing a check-in is an organiser's correction, not a door operation.
    ("checkins-undo", "*"): ORGANISER,
    # Sign-up is public; the list, export and decisions are the organisers'.
    ("registration-create", "post"): PUBLIC,
    ("registration-list", "post"): PUBLIC,
    ("registration-list", "get"): ORGANISER,
    ("registration-export", "*"): ORGANISER,
    ("registration-approve", "*"): ORGANISER,
    ("registration-reject", "*"): ORGANISER,
    ("registration-detail", "*"): ORGANISER,
    ("registration-summary", "*"): ORGANISER,
    ("registration-cancel", "*"): ORGANISER,
    ("event-capacity", "*"): ORGANISER,
    ("notification-list", "*"): ORGANISER,
    ("notifications-list", "*"): ORGANISER,
    ("notification-retry", "*"): ORGANISER,
    # The door staff's scanner page: session login (the page then calls the check-in API).
    ("checkin-scanner", "get"): LOGIN_PAGE,
    ("checkin-login", "*"): PUBLIC,
    ("checkin-logout", "*"): PUBLIC,
}
# Routes whose path carries the manage token are MANAGE whatever their name.
TOKEN_KWARGS = {"manage_token", "token"}


@dataclass(frozen=True)
class Route:
    name: str
    pattern: str
    kwargs: tuple[str, ...]
    methods: tuple[str, ...]


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            route = str(entry.pattern)
            if route.startswith("admin/"):
                continue  # Django admin: its own session login; checked separately below
            yield from _walk(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            view_class = getattr(entry.callback, "view_class", None) or getattr(entry.callback, "cls", None)
            if view_class is not None:
                methods = tuple(m for m in METHODS if hasattr(view_class, m))
            else:
                methods = ("get",)  # plain function views (healthz) answer GET
            yield Route(
                name=entry.name or prefix + str(entry.pattern),
                pattern=prefix + str(entry.pattern),
                kwargs=tuple(entry.pattern.converters),
                methods=methods,
            )


ROUTES = list(_walk(get_resolver().url_patterns))


def policy_for(route: Route, method: str) -> str | None:
    if TOKEN_KWARGS & set(route.kwargs):
        return MANAGE
    return POLICY.get((route.name, method)) or POLICY.get((route.name, "*"))


def _ids(world) -> dict[str, int]:
    from registrations.models import CheckIn

    checkin = CheckIn.objects.filter(event=world.event).first()
    return {
        "session_id": world.session.id,
        "speaker_id": world.speaker.id,
        "room_id": world.room.id,
        "registration_id": world.registration.id,
        "id": world.registration.id,
        "pk": world.registration.id,
        "checkin_id": checkin.id if checkin else 999_999,
        "version": 1,
        "number": 1,
    }


def build_path(route: Route, world, *, slug: str | None = None, token: str | None = None) -> str:
    ids = _ids(world)
    path = "/" + route.pattern
    import re

    def substitute(match: re.Match) -> str:
        name = match.group("name")
        if name == "slug":
            return slug or world.event.slug
        if name in TOKEN_KWARGS:
            return token or world.manage_token
        if name in ids:
            return str(ids[name])
        return "1"

    return re.sub(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>", substitute, path)


ACTORS = ("anonymous", "attendee", "checkin", "other_organiser", "organiser")


def client_for(actor: str, world) -> APIClient:
    client = APIClient()
    header = {
        "anonymous": None,
        # A manage token is not an API credential, whoever holds it.
        "attendee": world.other_manage_token,
        "checkin": world.checkin_token,
        "other_organiser": world.other_organiser_token,
        "organiser": world.organiser_token,
    }[actor]
    if header:
        client.credentials(HTTP_AUTHORIZATION=f"Token {header}")
    return client


def call(client: APIClient, method: str, path: str):
    if method in {"post", "put", "patch"}:
        return getattr(client, method)(path, data=json.dumps({}), content_type="application/json")
    return getattr(client, method)(path)


def allowed(status: int) -> bool:
    return status not in (401, 403) and status < 500


EXPECT = {
    # policy → actor → predicate on the status
    PUBLIC: {
        "anonymous": allowed,
        "attendee": lambda s: allowed(s) or s == 401,  # a bad token header may be refused
        "checkin": allowed,
        "other_organiser": allowed,
        "organiser": allowed,
    },
    ORGANISER: {
        "anonymous": lambda s: s == 401,
        "attendee": lambda s: s == 401,
        "checkin": lambda s: s == 403,
        "other_organiser": lambda s: s == 403,
        "organiser": allowed,
    },
    STAFF: {
        "anonymous": lambda s: s == 401,
        "attendee": lambda s: s == 401,
        "checkin": allowed,
        "other_organiser": lambda s: s == 403,
        "organiser": allowed,
    },
    LOGIN_PAGE: {
        actor: (lambda s: s == 302)
        for actor in ("anonymous", "attendee", "checkin", "other_organiser", "organiser")
    },
    CREATOR: {
        "anonymous": lambda s: s == 401,
        "attendee": lambda s: s == 401,
        "checkin": lambda s: s == 403,
        "other_organiser": allowed,
        "organiser": allowed,
    },
}


def test_every_route_is_classified():
    unclassified = [
        f"{method.upper()} /{route.pattern} (name {route.name!r})"
        for route in ROUTES
        for method in route.methods
        if policy_for(route, method) is None
    ]
    assert unclassified == [], "classify these routes in POLICY: " + "; ".join(unclassified)


def test_matrix_covers_the_api():
    # The URL conf really was read: the API's public and organiser routes are all in it.
    names = {route.name for route in ROUTES}
    assert {"event-list", "event-detail", "healthz"} <= names
    assert any(route.pattern.startswith("api/v1/") for route in ROUTES)


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_route_authorisation(route: Route, world):
    failures = []
    for method in route.methods:
        policy = policy_for(route, method)
        if policy is None:
            continue  # reported by test_every_route_is_classified
        if policy == MANAGE:
            # The right token opens it to anyone; any other token finds nothing.
            right = call(APIClient(), method, build_path(route, world))
            if not allowed(right.status_code) or right.status_code == 404:
                failures.append(f"{method.upper()} with the right manage token → {right.status_code}")
            for actor in ACTORS:
                forged = build_path(route, world, token=secrets.token_urlsafe(32))
                response = call(client_for(actor, world), method, forged)
                if response.status_code != 404:
                    failures.append(f"{method.upper()} {actor} with a forged token → {response.status_code}")
            continue
        for actor in ACTORS:
            response = call(client_for(actor, world), method, build_path(route, world))
            if not EXPECT[policy][actor](response.status_code):
                failures.append(
                    f"{method.upper()} as {actor} ({policy}) → {response.status_code} "
                    f"{response.content[:160]!r}"
                )
    assert failures == [], f"/{route.pattern}: " + " | ".join(failures)


ID_KWARGS = {"session_id", "speaker_id", "room_id", "registration_id", "id", "pk", "checkin_id"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "route", [r for r in ROUTES if ID_KWARGS & set(r.kwargs) and "slug" in r.kwargs], ids=lambda r: r.name
)
def test_route_refuses_objects_of_another_event(route: Route, world):
    """An organiser of event B naming B in the path but an object of event A gets nothing."""
    failures = []
    for method in route.methods:
        policy = policy_for(route, method)
        if policy in (None, MANAGE):
            continue
        token = world.checkin_token_other if policy == STAFF else world.other_organiser_token
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        response = call(client, method, build_path(route, world, slug=world.other_event.slug))
        if response.status_code not in (403, 404, 405):
            failures.append(f"{method.upper()} → {response.status_code} {response.content[:160]!r}")
    assert failures == [], f"/{route.pattern}: " + " | ".join(failures)


@pytest.mark.django_db
def test_api_token_does_not_open_the_admin(world):
    client = client_for("organiser", world)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
