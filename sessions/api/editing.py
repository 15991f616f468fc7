"""Organiser editing of the draft agenda: sessions, speakers, rooms (token auth, organisers only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from registrations.permissions import IsEventOrganiser
from sessions import selectors, services
from sessions.api.fields import EventLocalDateTimeField
from sessions.models import Room, Session, SessionSpeaker, Speaker
from sessions.timezones import get_zone


class OrganiserApi(APIView):
    permission_classes = [IsEventOrganiser]

    def event(self, slug: str):
        return selectors.event_get(slug=slug)


class EventRoomField(serializers.PrimaryKeyRelatedField):
    """A room id, looked up among the event's own rooms only."""

    def get_queryset(self):
        return Room.objects.filter(event=self.context["event"])


# --- sessions --------------------------------------------------------------------------------


class SessionSpeakerInput(serializers.Serializer):
    id = serializers.IntegerField(min_value=1)
    role = serializers.ChoiceField(choices=SessionSpeaker.Role.choices, default=SessionSpeaker.Role.SPEAKER)


class SessionSpeakerOutput(serializers.Serializer):
    id = serializers.IntegerField(source="speaker.id")
    name = serializers.CharField(source="speaker.name")
    role = serializers.CharField()


class SessionOutputSerializer(serializers.ModelSerializer):
    starts_at = EventLocalDateTimeField()
    ends_at = EventLocalDateTimeField()
    room_name = serializers.CharField(source="room.name", default="", read_only=True)
    speakers = SessionSpeakerOutput(source="session_speakers", many=True)

    class Meta:
        model = Session
        fields = [
            "id",
            "uid",
            "title",
            "description",
            "kind",
            "room",
            "room_name",
            "starts_at",
            "ends_at",
            "online_url",
            "speakers",
        ]


class SessionInputFields(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    kind = serializers.ChoiceField(choices=Session.Kind.choices, required=False)
    room = EventRoomField(queryset=Room.objects.all(), required=False, allow_null=True)
    starts_at = EventLocalDateTimeField()
    ends_at = EventLocalDateTimeField()
    online_url = serializers.URLField(required=False, allow_blank=True)
    speakers = SessionSpeakerInput(many=True, required=False, max_length=100)


def _session_out(session: Session, event) -> dict:
    session = selectors.session_get(event=event, session_id=session.id)
    return SessionOutputSerializer(session, context={"timezone": event.timezone}).data


class SessionListApi(OrganiserApi):
    class InputSerializer(SessionInputFields):
        pass

    @extend_schema(responses=SessionOutputSerializer(many=True), operation_id="sessions_list")
    def get(self, request, slug: str):
        event = self.event(slug)
        sessions = selectors.session_list(event=event)
        return Response(
            SessionOutputSerializer(sessions, many=True, context={"timezone": event.timezone}).data
        )

    @extend_schema(
        request=InputSerializer,
        responses={201: SessionOutputSerializer},
        operation_id="sessions_create",
        description="Add a draft session. Times without an offset are local times at the venue; "
        "a local time in a DST gap or fold is refused (400 nonexistent_local_time / ambiguous_local_time).",
    )
    def post(self, request, slug: str):
        event = self.event(slug)
        serializer = self.InputSerializer(
            data=request.data, context={"event": event, "timezone": event.timezone}
        )
        serializer.is_valid(raise_exception=True)
        session = services.session_create(event=event, **serializer.validated_data)
        return Response(_session_out(session, event), status=201)


class SessionDetailApi(OrganiserApi):
    class InputSerializer(SessionInputFields):
        pass

    @extend_schema(responses=SessionOutputSerializer, operation_id="sessions_retrieve")
    def get(self, request, slug: str, session_id: int):
        event = self.event(slug)
        session = selectors.session_get(event=event, session_id=session_id)
        return Response(SessionOutputSerializer(session, context={"timezone": event.timezone}).data)

    @extend_schema(
        request=InputSerializer, responses=SessionOutputSerializer, operation_id="sessions_partial_update"
    )
    def patch(self, request, slug: str, session_id: int):
        event = self.event(slug)
        session = selectors.session_get(event=event, session_id=session_id)
        serializer = self.InputSerializer(
            data=request.data, partial=True, context={"event": event, "timezone": event.timezone}
        )
        serializer.is_valid(raise_exception=True)
        session = services.session_update(session=session, data=serializer.validated_data)
        return Response(_session_out(session, event))

    @extend_schema(responses={204: None}, operation_id="sessions_destroy")
    def delete(self, request, slug: str, session_id: int):
        event = self.event(slug)
        session = selectors.session_get(event=event, session_id=session_id)
        services.session_delete(session=session)
        return Response(status=204)


# --- speakers --------------------------------------------------------------------------------


class SpeakerOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Speaker
        fields = ["id", "name", "title", "organisation", "email", "timezone", "language", "bio"]


class SpeakerInputFields(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    title = serializers.CharField(max_length=300, required=False, allow_blank=True)
    organisation = serializers.CharField(max_length=300, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False, allow_blank=True)
    language = serializers.ChoiceField(choices=["en", "fr", "es", "ar", "zh", "ru"], required=False)
    bio = serializers.CharField(required=False, allow_blank=True, max_length=20_000)

    def validate_timezone(self, value: str) -> str:
        if value:
            get_zone(value)
        return value


class SpeakerListApi(OrganiserApi):
    class InputSerializer(SpeakerInputFields):
        pass

    @extend_schema(responses=SpeakerOutputSerializer(many=True), operation_id="speakers_list")
    def get(self, request, slug: str):
        event = self.event(slug)
        return Response(SpeakerOutputSerializer(selectors.speaker_list(event=event), many=True).data)

    @extend_schema(
        request=InputSerializer, responses={201: SpeakerOutputSerializer}, operation_id="speakers_create"
    )
    def post(self, request, slug: str):
        event = self.event(slug)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        speaker = services.speaker_create(event=event, **serializer.validated_data)
        return Response(SpeakerOutputSerializer(speaker).data, status=201)


class SpeakerDetailApi(OrganiserApi):
    class InputSerializer(SpeakerInputFields):
        pass

    @extend_schema(responses=SpeakerOutputSerializer, operation_id="speakers_retrieve")
    def get(self, request, slug: str, speaker_id: int):
        speaker = selectors.speaker_get(event=self.event(slug), speaker_id=speaker_id)
        return Response(SpeakerOutputSerializer(speaker).data)

    @extend_schema(
        request=InputSerializer, responses=SpeakerOutputSerializer, operation_id="speakers_partial_update"
    )
    def patch(self, request, slug: str, speaker_id: int):
        speaker = selectors.speaker_get(event=self.event(slug), speaker_id=speaker_id)
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        speaker = services.speaker_update(speaker=speaker, data=serializer.validated_data)
        return Response(SpeakerOutputSerializer(speaker).data)

    @extend_schema(responses={204: None}, operation_id="speakers_destroy")
    def delete(self, request, slug: str, speaker_id: int):
        speaker = selectors.speaker_get(event=self.event(slug), speaker_id=speaker_id)
        services.speaker_delete(speaker=speaker)
        return Response(status=204)


# --- rooms -----------------------------------------------------------------------------------


class RoomOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Room
        fields = ["id", "name", "position"]


class RoomInputFields(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    position = serializers.IntegerField(min_value=0, max_value=100_000, required=False)


class RoomListApi(OrganiserApi):
    class InputSerializer(RoomInputFields):
        pass

    @extend_schema(responses=RoomOutputSerializer(many=True), operation_id="rooms_list")
    def get(self, request, slug: str):
        return Response(RoomOutputSerializer(selectors.room_list(event=self.event(slug)), many=True).data)

    @extend_schema(
        request=InputSerializer, responses={201: RoomOutputSerializer}, operation_id="rooms_create"
    )
    def post(self, request, slug: str):
        event = self.event(slug)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        room = services.room_create(event=event, **serializer.validated_data)
        return Response(RoomOutputSerializer(room).data, status=201)


class RoomDetailApi(OrganiserApi):
    class InputSerializer(RoomInputFields):
        pass

    @extend_schema(
        request=InputSerializer, responses=RoomOutputSerializer, operation_id="rooms_partial_update"
    )
    def patch(self, request, slug: str, room_id: int):
        room = selectors.room_get(event=self.event(slug), room_id=room_id)
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        room = services.room_update(room=room, data=serializer.validated_data)
        return Response(RoomOutputSerializer(room).data)

    @extend_schema(responses={204: None}, operation_id="rooms_destroy")
    def delete(self, request, slug: str, room_id: int):
        room = selectors.room_get(event=self.event(slug), room_id=room_id)
        services.room_delete(room=room)
        return Response(status=204)
