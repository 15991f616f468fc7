"""Shared view plumbing: public-read/organiser-write paths and conditional GET."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseNotModified
from django.utils.http import http_date, parse_http_date_safe
from rest_framework.permissions import SAFE_METHODS, BasePermission

from registrations.models import EventRole
from registrations.permissions import IsEventOrganiser
from sessions.cache import Rendered, peek


class CanCreateEvents(BasePermission):
    """Creating an event is for staff users and for people who already organise an event:
    an open sign-up must not let anyone mint public events (and UID hosts) on this server."""

    message = "Only staff and existing organisers may create events."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.is_staff or EventRole.objects.filter(user=user, role=EventRole.Role.ORGANISER).exists()


class PublicReadOrganiserWrite:
    """One path, two audiences: GET is public (no authentication, so no CSRF or token lookup);
    every other method needs `write_permission` (default: organiser of the event)."""

    write_permission: type[BasePermission] = IsEventOrganiser

    def initialize_request(self, request, *args, **kwargs):
        # The authenticators are chosen inside initialize_request, before `self.request` is set
        # (and drf-spectacular calls it on a mock request): remember the method first.
        self._http_method = request.method
        return super().initialize_request(request, *args, **kwargs)

    def _is_read(self) -> bool:
        method = getattr(self, "_http_method", None) or self.request.method
        return method in SAFE_METHODS

    def _needs_no_auth(self) -> bool:
        # A method the view does not implement must answer 405, not 401: skip auth for it too.
        method = (getattr(self, "_http_method", None) or self.request.method or "").lower()
        return self._is_read() or not hasattr(self, method)

    def get_authenticators(self):
        if self._needs_no_auth():
            return []
        return super().get_authenticators()

    def get_permissions(self):
        if self._needs_no_auth():
            return []
        return [self.write_permission()]


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    candidates = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return etag in candidates


def conditional_response(request, rendered: Rendered, *, vary: str = "", max_age: int = 60) -> HttpResponse:
    """200 with validators, or 304 when the client's copy is current (ETag wins over dates)."""
    last_modified = http_date(rendered.last_modified.timestamp())
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        not_modified = _etag_matches(if_none_match, rendered.etag)
    else:
        since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
        not_modified = since is not None and int(rendered.last_modified.timestamp()) <= since
    response = (
        HttpResponseNotModified()
        if not_modified
        else HttpResponse(rendered.body, content_type=rendered.content_type)
    )
    response["ETag"] = rendered.etag
    response["Last-Modified"] = last_modified
    response["Cache-Control"] = f"public, max-age={max_age}"
    if vary:
        response["Vary"] = vary
    return response


class CachedReadApi:
    """Public reads of the published agenda. A cache hit is answered before DRF's request
    machinery runs (content negotiation, authentication, throttling: nothing of it applies to
    a public cached document); everything else, errors included, takes the normal DRF path."""

    authentication_classes: list = []
    permission_classes: list = []
    vary = ""

    def cached_variant(self, request, **kwargs) -> str | None:
        """The cache variant this GET asks for, or None when the normal path must decide."""
        raise NotImplementedError

    def dispatch(self, request, *args, **kwargs):
        if request.method in ("GET", "HEAD"):
            variant = self.cached_variant(request, **kwargs)
            if variant is not None:
                rendered = peek(kwargs["slug"], variant)
                if rendered is not None:
                    return conditional_response(request, rendered, vary=self.vary)
        return super().dispatch(request, *args, **kwargs)
