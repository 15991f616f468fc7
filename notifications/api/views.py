"""Organisers' view of the outbox: what was sent, what is pending, what failed and why."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authentication import TokenAuthentication
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from config.problems import NotFound
from config.schema import ProblemSerializer
from notifications import selectors, services
from notifications.models import Notification
from registrations.permissions import IsEventOrganiser
from sessions.models import Event


def _event(slug: str) -> Event:
    event = Event.objects.filter(slug=slug).first()
    if event is None:
        raise NotFound(f"No event '{slug[:80]}'.")
    return event


class NotificationOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "status",
            "recipient_email",
            "recipient_name",
            "language",
            "subject_type",
            "subject_id",
            "version",
            "attempts",
            "last_error",
            "created_at",
            "next_attempt_at",
            "claimed_at",
            "sent_at",
            "message_id",
        ]
        read_only_fields = fields


class NotificationListApi(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsEventOrganiser]

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Notification.Status.choices, required=False)
        kind = serializers.ChoiceField(choices=Notification.Kind.choices, required=False)
        page = serializers.IntegerField(min_value=1, required=False)

    class PageSerializer(serializers.Serializer):
        count = serializers.IntegerField()
        next = serializers.URLField(allow_null=True)
        previous = serializers.URLField(allow_null=True)
        results = NotificationOutputSerializer(many=True)

    @extend_schema(
        operation_id="notifications_list",
        parameters=[FilterSerializer],
        responses={200: PageSerializer, 404: ProblemSerializer},
        description="The event's outbox, newest first, 50 per page; filter by `status` and `kind`.",
    )
    def get(self, request, slug: str):
        event = _event(slug)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        notifications = selectors.notification_list(
            event=event,
            status=filters.validated_data.get("status"),
            kind=filters.validated_data.get("kind"),
        )
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(notifications, request, view=self)
        return paginator.get_paginated_response(NotificationOutputSerializer(page, many=True).data)


class NotificationRetryApi(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsEventOrganiser]

    @extend_schema(
        operation_id="notifications_retry",
        request=None,
        responses={200: NotificationOutputSerializer, 404: ProblemSerializer, 409: ProblemSerializer},
        description=(
            "Send a failed notification again (a fresh set of attempts). 409 `notification_not_failed`."
        ),
    )
    def post(self, request, slug: str, notification_id: int):
        event = _event(slug)
        notification = selectors.notification_get(event=event, notification_id=notification_id)
        notification = services.notification_retry(notification=notification)
        return Response(NotificationOutputSerializer(notification).data)
