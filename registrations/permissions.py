"""Per-event roles for the API: organisers do everything on their events, check-in staff scan.

Views name the event by the `slug` URL kwarg. Anonymous → 401 (DRF, since token auth sends a
WWW-Authenticate challenge); authenticated without the role on that event → 403.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from registrations.models import EventRole


def has_event_role(user, slug: str, roles: tuple[str, ...]) -> bool:
    if not (user and user.is_authenticated):
        return False
    return EventRole.objects.filter(user=user, event__slug=slug, role__in=roles).exists()


class IsEventOrganiser(BasePermission):
    message = "You are not an organiser of this event."

    def has_permission(self, request, view) -> bool:
        return has_event_role(request.user, view.kwargs.get("slug", ""), (EventRole.Role.ORGANISER,))


class IsEventCheckinStaff(BasePermission):
    """Organisers or check-in staff of the event."""

    message = "You are not check-in staff of this event."

    def has_permission(self, request, view) -> bool:
        return has_event_role(
            request.user, view.kwargs.get("slug", ""), (EventRole.Role.ORGANISER, EventRole.Role.CHECKIN)
        )
