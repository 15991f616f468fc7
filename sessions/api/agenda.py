"""The published agenda: public JSON and calendar feeds (cached, conditional GET), publishing and
version history."""

from __future__ import annotations

import json
from datetime import datetime

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.problems import NotFound
from registrations.permissions import IsEventOrganiser
from sessions import cache as agenda_cache
from sessions import feeds, i18n, selectors, services
from sessions.models import AgendaVersion, Event
from sessions.timezones import get_zone, is_valid_timezone

from .common import CachedReadApi, conditional_response

ICS_CONTENT_TYPE = "text/calendar; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"


def _last_modified(event: Event, version: AgendaVersion | None) -> datetime:
    moments = [event.updated_at] + ([version.published_at] if version else [])
    return max(moments)


def _session_url(event: Event, entry: dict) -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/v1/events/{event.slug}/agenda/#session-{entry['id']}"


# --- public agenda ---------------------------------------------------------------------------


class AgendaSpeakerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    title = serializers.CharField()
    organisation = serializers.CharField()
    role = serializers.CharField()


class AgendaSessionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    uid = serializers.UUIDField()
    sequence = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.CharField()
    kind_title = serializers.CharField(help_text="The kind, in the response language.")
    room = serializers.CharField()
    starts_at = serializers.DateTimeField(help_text="In the viewer's zone, with its offset.")
    ends_at = serializers.DateTimeField()
    starts_at_utc = serializers.DateTimeField()
    ends_at_utc = serializers.DateTimeField()
    utc_offset = serializers.CharField(help_text="e.g. UTC+05:45")
    date = serializers.DateField(help_text="The viewer's local date of the start.")
    end_date = serializers.DateField()
    date_label = serializers.CharField(help_text="Localised, e.g. 'Fri, Sep 13'.")
    time_label = serializers.CharField()
    online_url = serializers.CharField()
    speakers = AgendaSpeakerOutput(many=True)


def _agenda_variant(tz: str | None, language: str) -> str:
    return f"json:{tz or ''}:{language}"


class AgendaApi(CachedReadApi, APIView):
    vary = "Accept-Language"

    def cached_variant(self, request, **kwargs) -> str | None:
        tz = request.GET.get("tz")
        if tz is not None and not is_valid_timezone(tz):
            return None
        try:
            language = i18n.negotiate_language(
                lang=request.GET.get("lang"), accept_language=request.headers.get("Accept-Language")
            )
        except i18n.InvalidLanguage:
            return None
        return _agenda_variant(tz, language)

    class OutputSerializer(serializers.Serializer):
        event = serializers.CharField()
        timezone = serializers.CharField()
        event_timezone = serializers.CharField()
        language = serializers.CharField()
        version = serializers.IntegerField(allow_null=True)
        published_at = serializers.DateTimeField(allow_null=True)
        sessions = AgendaSessionOutput(many=True)

    @extend_schema(
        operation_id="agenda_retrieve",
        parameters=[
            OpenApiParameter("tz", str, description="IANA zone of the viewer (default: the event's)."),
            OpenApiParameter("lang", str, description="en, fr, es, ar, zh or ru (default: Accept-Language)."),
        ],
        responses={200: OutputSerializer, 304: OpenApiResponse(description="Not modified")},
        description="The latest published agenda, in the viewer's zone. Unknown tz → 400 invalid_timezone.",
    )
    def get(self, request, slug: str):
        tz_param = request.query_params.get("tz")
        if tz_param is not None:
            get_zone(tz_param)  # 400 invalid_timezone before anything is looked up or cached
        language = i18n.negotiate_language(
            lang=request.query_params.get("lang"), accept_language=request.headers.get("Accept-Language")
        )

        def render() -> agenda_cache.Rendered:
            event = selectors.event_get_public(slug=slug)
            version = selectors.agenda_latest_version(event=event)
            payload = selectors.agenda_for_viewer(
                event=event, version=version, tz=tz_param or event.timezone, language=language
            )
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
            return agenda_cache.Rendered(
                body=body,
                content_type=JSON_CONTENT_TYPE,
                etag=agenda_cache.etag_for(body),
                last_modified=_last_modified(event, version),
            )

        rendered = agenda_cache.get_or_render(slug, _agenda_variant(tz_param, language), render)
        return conditional_response(request, rendered, vary="Accept-Language")


# --- feeds -----------------------------------------------------------------------------------


def _feed(
    event: Event, version: AgendaVersion | None, entries: list[dict], name: str
) -> agenda_cache.Rendered:
    published_at = version.published_at if version else event.updated_at
    body = feeds.agenda_feed(
        entries=entries,
        host=settings.PUBLIC_HOST,
        venue=event.venue,
        tzid=event.timezone,
        published_at=published_at,
        calendar_name=name,
        url_for=lambda entry: _session_url(event, entry),
    )
    return agenda_cache.Rendered(
        body=body,
        content_type=ICS_CONTENT_TYPE,
        etag=agenda_cache.etag_for(body),
        last_modified=_last_modified(event, version),
    )


_ICS_RESPONSES = {
    (200, "text/calendar"): OpenApiTypes.BINARY,
    304: OpenApiResponse(description="Not modified"),
}


class AgendaFeedApi(CachedReadApi, APIView):
    def cached_variant(self, request, **kwargs) -> str:
        return "ics:agenda"

    @extend_schema(
        operation_id="agenda_feed",
        responses=_ICS_RESPONSES,
        description="iCalendar feed (METHOD:PUBLISH) of the latest published agenda, one VEVENT per session.",
    )
    def get(self, request, slug: str):
        def render() -> agenda_cache.Rendered:
            event = selectors.event_get_public(slug=slug)
            version = selectors.agenda_latest_version(event=event)
            return _feed(event, version, version.sessions if version else [], event.title)

        return conditional_response(
            request, agenda_cache.get_or_render(slug, self.cached_variant(request), render)
        )


class SessionFeedApi(CachedReadApi, APIView):
    def cached_variant(self, request, **kwargs) -> str:
        return f"ics:session:{kwargs['session_id']}"

    @extend_schema(
        operation_id="session_feed", responses=_ICS_RESPONSES, description="One published session."
    )
    def get(self, request, slug: str, session_id: int):
        def render() -> agenda_cache.Rendered:
            event = selectors.event_get_public(slug=slug)
            version = selectors.agenda_latest_version(event=event)
            entries = [e for e in (version.sessions if version else []) if e["id"] == session_id]
            if not entries:
                raise NotFound(f"No published session {session_id}.")
            return _feed(event, version, entries, f"{event.title}: {entries[0]['title']}")

        return conditional_response(
            request,
            agenda_cache.get_or_render(slug, self.cached_variant(request, session_id=session_id), render),
        )


class SpeakerFeedApi(CachedReadApi, APIView):
    def cached_variant(self, request, **kwargs) -> str:
        return f"ics:speaker:{kwargs['speaker_id']}"

    @extend_schema(
        operation_id="speaker_feed",
        responses=_ICS_RESPONSES,
        description="A speaker's own published sessions.",
    )
    def get(self, request, slug: str, speaker_id: int):
        def render() -> agenda_cache.Rendered:
            event = selectors.event_get_public(slug=slug)
            speaker = selectors.speaker_get(event=event, speaker_id=speaker_id)
            version = selectors.agenda_latest_version(event=event)
            entries = [
                e
                for e in (version.sessions if version else [])
                if any(s["id"] == speaker_id for s in e["speakers"])
            ]
            return _feed(event, version, entries, f"{event.title}: {speaker.name}")

        return conditional_response(
            request,
            agenda_cache.get_or_render(slug, self.cached_variant(request, speaker_id=speaker_id), render),
        )


# --- publishing and history ------------------------------------------------------------------


class AgendaDiffOutput(serializers.Serializer):
    added = serializers.ListField(child=serializers.UUIDField())
    removed = serializers.ListField(child=serializers.UUIDField())
    moved = serializers.ListField(child=serializers.UUIDField())
    retitled = serializers.ListField(child=serializers.UUIDField())
    room_changed = serializers.ListField(child=serializers.UUIDField())
    speakers_changed = serializers.ListField(child=serializers.UUIDField())
    event_changed = serializers.BooleanField(default=False)


class AgendaVersionOutput(serializers.ModelSerializer):
    diff = AgendaDiffOutput()
    session_count = serializers.SerializerMethodField()

    class Meta:
        model = AgendaVersion
        fields = ["number", "published_at", "comment", "diff", "session_count"]

    def get_session_count(self, version: AgendaVersion) -> int:
        return len(version.sessions)


class AgendaPublishApi(APIView):
    permission_classes = [IsEventOrganiser]

    class InputSerializer(serializers.Serializer):
        comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")

    @extend_schema(
        request=InputSerializer,
        responses={201: AgendaVersionOutput},
        operation_id="agenda_publish",
        description="Freeze the draft as the next version; returns its diff to the previous one. "
        "Changed sessions get SEQUENCE+1 and updated invites go out.",
    )
    def post(self, request, slug: str):
        event = selectors.event_get(slug=slug)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.agenda_publish(event=event, comment=serializer.validated_data["comment"])
        return Response(AgendaVersionOutput(version).data, status=201)


class AgendaVersionListApi(APIView):
    authentication_classes: list = []

    class OutputSerializer(AgendaVersionOutput):
        pass

    @extend_schema(responses=OutputSerializer(many=True), operation_id="agenda_versions_list")
    def get(self, request, slug: str):
        event = selectors.event_get_public(slug=slug)
        versions = event.agenda_versions.order_by("-number")
        return Response(self.OutputSerializer(versions, many=True).data)
