from django.urls import path

from sessions.api import views

urlpatterns = [
    path("events/", views.EventListApi.as_view(), name="event-list"),
    path("events/<slug:slug>/", views.EventDetailApi.as_view(), name="event-detail"),
]
