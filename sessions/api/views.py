from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from sessions import selectors
from sessions.models import Event


class EventOutputSerializer(serializers.ModelSerializer):
    registration_open = serializers.SerializerMethodField()
    attendance_modes = serializers.SerializerMethodField()
    seats_left = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = [
            "slug",
            "title",
            "description",
            "venue",
            "timezone",
            "starts_at",
            "ends_at",
            "registration_open",
            "attendance_modes",
            "seats_left",
        ]

    def get_registration_open(self, event: Event) -> bool:
        now = timezone.now()
        if event.ends_at <= now:
            return False
        if event.registration_opens_at and now < event.registration_opens_at:
            return False
        return not (event.registration_closes_at and now >= event.registration_closes_at)

    def get_attendance_modes(self, event: Event) -> list[str]:
        modes = ["in_person"]
        if event.online_enabled:
            modes.append("online")
        return modes

    def get_seats_left(self, event: Event) -> int:
        from registrations.models import Registration

        taken = Registration.objects.filter(
            event=event,
            attendance=Registration.Attendance.IN_PERSON,
            status=Registration.Status.CONFIRMED,
        ).count()
        return max(event.capacity - taken, 0)


class EventListApi(APIView):
    authentication_classes: list = []

    @extend_schema(responses=EventOutputSerializer(many=True), operation_id="events_list")
    def get(self, request):
        events = selectors.event_list_public()
        return Response(EventOutputSerializer(events, many=True).data)


class EventDetailApi(APIView):
    authentication_classes: list = []

    @extend_schema(responses=EventOutputSerializer, operation_id="events_retrieve")
    def get(self, request, slug: str):
        event = selectors.event_get_public(slug=slug)
        return Response(EventOutputSerializer(event).data)
