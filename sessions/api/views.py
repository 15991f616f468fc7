from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from sessions import selectors, services
from sessions.api.common import CanCreateEvents, PublicReadOrganiserWrite
from sessions.api.fields import EventLocalDateTimeField
from sessions.models import Event
from sessions.timezones import get_zone


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
        # Seats held by confirmed and pending-approval registrations (registrations.services).
        from registrations.selectors import seats_left

        return seats_left(event=event)


class EventOrganiserOutputSerializer(serializers.ModelSerializer):
    """Everything an organiser edits, times in the event's zone."""

    starts_at = EventLocalDateTimeField()
    ends_at = EventLocalDateTimeField()
    registration_opens_at = EventLocalDateTimeField(allow_null=True)
    registration_closes_at = EventLocalDateTimeField(allow_null=True)

    class Meta:
        model = Event
        fields = [
            "slug",
            "uid",
            "title",
            "description",
            "venue",
            "timezone",
            "starts_at",
            "ends_at",
            "is_published",
            "capacity",
            "online_capacity",
            "online_enabled",
            "webcast_url",
            "approval_required",
            "registration_opens_at",
            "registration_closes_at",
            "checkin_policy",
            "sequence",
        ]


def _event_output(event: Event) -> dict:
    return EventOrganiserOutputSerializer(event, context={"timezone": event.timezone}).data


class EventInputFields(serializers.Serializer):
    # Naive times in this payload are read in the payload's own `timezone` when it has one.
    zone_from_payload = True

    title = serializers.CharField(max_length=300)
    description = serializers.CharField(required=False, allow_blank=True)
    venue = serializers.CharField(max_length=300, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64)
    starts_at = EventLocalDateTimeField()
    ends_at = EventLocalDateTimeField()
    is_published = serializers.BooleanField(required=False)
    capacity = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False)
    online_capacity = serializers.IntegerField(
        min_value=0, max_value=10_000_000, required=False, allow_null=True
    )
    online_enabled = serializers.BooleanField(required=False)
    webcast_url = serializers.URLField(required=False, allow_blank=True)
    approval_required = serializers.BooleanField(required=False)
    registration_opens_at = EventLocalDateTimeField(required=False, allow_null=True)
    registration_closes_at = EventLocalDateTimeField(required=False, allow_null=True)
    checkin_policy = serializers.ChoiceField(choices=Event.CheckinPolicy.choices, required=False)

    def validate_timezone(self, value: str) -> str:
        get_zone(value)  # unknown → 400 invalid_timezone
        return value


class EventListApi(PublicReadOrganiserWrite, APIView):
    """Published events (public); creating one (staff and existing organisers)."""

    write_permission = CanCreateEvents

    class InputSerializer(EventInputFields):
        slug = serializers.SlugField(max_length=80)

    @extend_schema(responses=EventOutputSerializer(many=True), operation_id="events_list")
    def get(self, request):
        from registrations.selectors import events_with_seats_taken

        events = events_with_seats_taken(selectors.event_list_public())
        return Response(EventOutputSerializer(events, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: EventOrganiserOutputSerializer},
        operation_id="events_create",
        description="Create an event (staff, or users who already organise an event); the creator "
        "becomes its organiser. Times without an offset are local times in `timezone`.",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = services.event_create(user=request.user, **serializer.validated_data)
        return Response(_event_output(event), status=201)


class EventDetailApi(PublicReadOrganiserWrite, APIView):
    """One published event (public); editing it (its organisers)."""

    class InputSerializer(EventInputFields):
        pass

    @extend_schema(responses=EventOutputSerializer, operation_id="events_retrieve")
    def get(self, request, slug: str):
        event = selectors.event_get_public(slug=slug)
        return Response(EventOutputSerializer(event).data)

    @extend_schema(
        request=InputSerializer,
        responses=EventOrganiserOutputSerializer,
        operation_id="events_partial_update",
        description="Edit the event. Changing `timezone` never moves scheduled instants. Times "
        "without an offset are local times in the event's (new, if given) zone.",
    )
    def patch(self, request, slug: str):
        event = selectors.event_get(slug=slug)
        serializer = self.InputSerializer(
            data=request.data, partial=True, context={"timezone": event.timezone}
        )
        serializer.is_valid(raise_exception=True)
        event = services.event_update(event=event, data=serializer.validated_data)
        return Response(_event_output(event))
