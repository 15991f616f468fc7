from django.urls import path

from notifications.api import views

urlpatterns = [
    path("events/<slug:slug>/notifications/", views.NotificationListApi.as_view(), name="notification-list"),
    path(
        "events/<slug:slug>/notifications/<int:notification_id>/retry/",
        views.NotificationRetryApi.as_view(),
        name="notification-retry",
    ),
]
