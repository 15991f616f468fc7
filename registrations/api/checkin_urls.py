"""Check-in API routes (scan, check-in by id, undo, stats, offline bundle, name search)."""

from django.urls import path

from registrations.api import checkin

urlpatterns = [
    path("events/<slug:slug>/checkins/", checkin.CheckinCreateApi.as_view(), name="checkins-create"),
    path("events/<slug:slug>/checkins/manual/", checkin.CheckinManualApi.as_view(), name="checkins-manual"),
    path("events/<slug:slug>/checkins/stats/", checkin.CheckinStatsApi.as_view(), name="checkins-stats"),
    path("events/<slug:slug>/checkins/bundle/", checkin.CheckinBundleApi.as_view(), name="checkins-bundle"),
    path("events/<slug:slug>/checkins/search/", checkin.CheckinSearchApi.as_view(), name="checkins-search"),
    path(
        "events/<slug:slug>/checkins/<int:checkin_id>/",
        checkin.CheckinUndoApi.as_view(),
        name="checkins-undo",
    ),
]
