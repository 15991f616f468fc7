from django.urls import path

from sessions.api import agenda, editing, views

urlpatterns = [
    path("events/", views.EventListApi.as_view(), name="event-list"),
    path("events/<slug:slug>/", views.EventDetailApi.as_view(), name="event-detail"),
    # The published agenda (public).
    path("events/<slug:slug>/agenda/", agenda.AgendaApi.as_view(), name="agenda"),
    path("events/<slug:slug>/agenda.ics", agenda.AgendaFeedApi.as_view(), name="agenda-feed"),
    path(
        "events/<slug:slug>/agenda/versions/", agenda.AgendaVersionListApi.as_view(), name="agenda-versions"
    ),
    path(
        "events/<slug:slug>/sessions/<int:session_id>.ics",
        agenda.SessionFeedApi.as_view(),
        name="session-feed",
    ),
    path(
        "events/<slug:slug>/speakers/<int:speaker_id>/agenda.ics",
        agenda.SpeakerFeedApi.as_view(),
        name="speaker-feed",
    ),
    # The draft agenda (organisers).
    path("events/<slug:slug>/agenda/publish/", agenda.AgendaPublishApi.as_view(), name="agenda-publish"),
    path("events/<slug:slug>/sessions/", editing.SessionListApi.as_view(), name="session-list"),
    path(
        "events/<slug:slug>/sessions/<int:session_id>/",
        editing.SessionDetailApi.as_view(),
        name="session-detail",
    ),
    path("events/<slug:slug>/speakers/", editing.SpeakerListApi.as_view(), name="speaker-list"),
    path(
        "events/<slug:slug>/speakers/<int:speaker_id>/",
        editing.SpeakerDetailApi.as_view(),
        name="speaker-detail",
    ),
    path("events/<slug:slug>/rooms/", editing.RoomListApi.as_view(), name="room-list"),
    path("events/<slug:slug>/rooms/<int:room_id>/", editing.RoomDetailApi.as_view(), name="room-detail"),
]
