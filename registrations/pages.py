"""Staff scanner page routes (/checkin/): session login, then one page that scans badges.

The page is a Django template plus a little JavaScript (no build step); it talks to the
check-in API with the session cookie and the CSRF token.
"""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path, reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from registrations.checkin_selectors import events_for_staff
from registrations.models import Registration

LOGIN_URL = reverse_lazy("checkin-login")


@never_cache
@login_required(login_url=LOGIN_URL)
def scanner(request):
    events = [
        {
            "slug": event.slug,
            "title": event.title,
            "starts_at": event.starts_at.isoformat(),
            "checkin_policy": event.checkin_policy,
        }
        for event in events_for_staff(user=request.user)
    ]
    return render(request, "checkin/scanner.html", {"events": events, "messages_js": _messages()})


def _messages() -> dict[str, str]:
    """The page's JavaScript strings, translated here and handed over as JSON."""
    return {
        "ok": _("Welcome"),
        "exit_ok": _("Exit recorded"),
        "already_checked_in": _("Already checked in"),
        "not_checked_in": _("Not checked in"),
        "invalid": _("Invalid badge"),
        "wrong_event": _("Badge for another event"),
        "revoked": _("Badge revoked"),
        "not_confirmed": _("Registration not confirmed"),
        "online_only": _("Registered online only"),
        "queued": _("Saved offline: will upload when back online"),
        "offline_valid": _("Genuine badge (checked on this device)"),
        "offline_check": _("Checked on this device (offline)"),
        "error": _("Error"),
        "since": _("since"),
        "at": _("at"),
        "checkin": _("Check in"),
        "inside": _("inside"),
        "queue": _("waiting to upload"),
        "online": _("Online"),
        "offline": _("Offline"),
        "no_camera": _("No camera: use the search below"),
        "scanning": _("Scanning"),
        "no_match": _("No one found"),
        "checked_in_of": _("checked in of"),
        "category": {value: str(label) for value, label in Registration.Category.choices},
    }


urlpatterns = [
    path("", scanner, name="checkin-scanner"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="checkin/login.html",
            next_page=reverse_lazy("checkin-scanner"),
            redirect_authenticated_user=True,
        ),
        name="checkin-login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page=LOGIN_URL), name="checkin-logout"),
]
