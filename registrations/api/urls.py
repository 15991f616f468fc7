"""Registration API routes: public sign-up and self-service, organiser views."""

from django.urls import path

from registrations.api import files, organiser, views

urlpatterns = [
    # Public sign-up (POST) and the organisers' list (GET).
    path(
        "events/<slug:slug>/registrations/",
        views.RegistrationCollectionApi.as_view(),
        name="registration-list",
    ),
    path(
        "events/<slug:slug>/registrations/export.csv",
        organiser.RegistrationExportApi.as_view(),
        name="registration-export",
    ),
    path(
        "events/<slug:slug>/registrations/summary/",
        organiser.RegistrationSummaryApi.as_view(),
        name="registration-summary",
    ),
    path(
        "events/<slug:slug>/registrations/<int:registration_id>/",
        organiser.RegistrationDetailApi.as_view(),
        name="registration-detail",
    ),
    path(
        "events/<slug:slug>/registrations/<int:registration_id>/approve/",
        organiser.RegistrationApproveApi.as_view(),
        name="registration-approve",
    ),
    path(
        "events/<slug:slug>/registrations/<int:registration_id>/reject/",
        organiser.RegistrationRejectApi.as_view(),
        name="registration-reject",
    ),
    path(
        "events/<slug:slug>/registrations/<int:registration_id>/cancel/",
        organiser.RegistrationCancelApi.as_view(),
        name="registration-cancel",
    ),
    path("events/<slug:slug>/capacity/", organiser.EventCapacityApi.as_view(), name="event-capacity"),
    # Self-service by manage token (public; the token is the credential).
    path("registrations/<str:token>/", views.ManageRegistrationApi.as_view(), name="registration-manage"),
    path(
        "registrations/<str:token>/cancel/",
        views.ManageRegistrationCancelApi.as_view(),
        name="registration-manage-cancel",
    ),
    path("registrations/<str:token>/badge.png", files.BadgePngApi.as_view(), name="registration-badge-png"),
    path("registrations/<str:token>/badge.pdf", files.BadgePdfApi.as_view(), name="registration-badge-pdf"),
    path(
        "registrations/<str:token>/invite.ics", files.InviteIcsApi.as_view(), name="registration-invite-ics"
    ),
]
