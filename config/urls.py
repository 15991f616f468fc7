from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("healthz/live", health.live, name="healthz-live"),
    path("admin/", admin.site.urls),
    path("checkin/", include("registrations.pages")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # Check-in first: the door rush is the hottest route, and resolving tries patterns in order.
    path("api/v1/", include("registrations.api.checkin_urls")),
    path("api/v1/", include("sessions.api.urls")),
    path("api/v1/", include("registrations.api.urls")),
    path("api/v1/", include("notifications.api.urls")),
]

handler400 = "config.problems.handler400"
handler403 = "config.problems.handler403"
handler404 = "config.problems.handler404"
handler500 = "config.problems.handler500"
