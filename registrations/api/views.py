"""Public registration API: sign-up, and self-service by manage token.

The manage token never appears in a public response (it travels by e-mail, which proves the
attendee owns the address); only an organiser registering someone on their behalf gets
`manage_url` back. Paths holding a token are never logged (config.logging drops raw paths).
"""

from __future__ import annotations

from datetime import datetime

from django.urls import NoReverseMatch, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from config.schema import ProblemSerializer
from config.serializers import FlatSerializer
from registrations import manage_tokens, selectors, services
from registrations.api.fields import (
    CountryField,
    EmailAddressField,
    OneLineTextField,
    TimezoneField,
)
from registrations.models import EventRole, Registration
from registrations.permissions import IsEventOrganiser, has_event_role
from registrations.throttles import ManageTokenThrottle, SignupEmailThrottle, SignupIpThrottle
from registrations.throttles import refusals as throttle_refusals
from registrations.validators import (
    ACCESSIBILITY_MAX_LENGTH,
    LANGUAGES,
    NAME_MAX_LENGTH,
    ORGANISATION_MAX_LENGTH,
)
from sessions import selectors as agenda_selectors
from sessions.models import Event
from sessions.timezones import get_zone

PROBLEM = ProblemSerializer


class RegistrationCreate:
    class InputSerializer(FlatSerializer):
        full_name = OneLineTextField(max_length=NAME_MAX_LENGTH)
        email = EmailAddressField()
        organisation = OneLineTextField(max_length=ORGANISATION_MAX_LENGTH, required=False, allow_blank=True)
        country = CountryField(help_text="ISO 3166-1 alpha-2 code, e.g. SN")
        category = serializers.ChoiceField(choices=Registration.Category.choices)
        attendance = serializers.ChoiceField(choices=Registration.Attendance.choices)
        timezone = TimezoneField(required=False, help_text="IANA zone; default the event's")
        language = serializers.ChoiceField(choices=[(code, code) for code in LANGUAGES], default="en")
        consent = serializers.BooleanField(help_text="Must be true.")
        accessibility_needs = OneLineTextField(
            max_length=ACCESSIBILITY_MAX_LENGTH, required=False, allow_blank=True, allow_newlines=True
        )

        def validate_consent(self, value: bool) -> bool:
            if value is not True:
                raise serializers.ValidationError("Consent is required to register.")
            return value

    class OutputSerializer(FlatSerializer):
        id = serializers.IntegerField()
        status = serializers.ChoiceField(
            choices=Registration.Status.choices, help_text="confirmed, waitlisted or pending_approval"
        )
        waitlist_position = serializers.IntegerField(allow_null=True)
        manage_url = serializers.URLField(
            required=False,
            help_text="Only for an organiser of the event registering someone on their behalf.",
        )


class RegistrationList:
    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = Registration
            fields = [
                "id",
                "status",
                "waitlist_position",
                "full_name",
                "email",
                "organisation",
                "country",
                "category",
                "attendance",
                "timezone",
                "language",
                "accessibility_needs",
                "decision_reason",
                "consent_at",
                "created_at",
                "updated_at",
                "cancelled_at",
                "invite_sequence",
                "badge_counter",
            ]


class RegistrationListPageSerializer(serializers.Serializer):
    """The page envelope of DRF's PageNumberPagination, as the list really answers."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = RegistrationList.OutputSerializer(many=True)


LIST_PARAMETERS = [
    OpenApiParameter("status", OpenApiTypes.STR, many=True, enum=Registration.Status.values, explode=True),
    OpenApiParameter(
        "category", OpenApiTypes.STR, many=True, enum=Registration.Category.values, explode=True
    ),
    OpenApiParameter("attendance", OpenApiTypes.STR, enum=Registration.Attendance.values),
    OpenApiParameter("country", OpenApiTypes.STR, many=True, explode=True, description="ISO alpha-2 codes"),
    OpenApiParameter("search", OpenApiTypes.STR, description="In name, e-mail and organisation"),
    OpenApiParameter(
        "ordering",
        OpenApiTypes.STR,
        description="One of " + ", ".join(sorted(selectors.ORDERING_FIELDS)) + "; prefix '-' for descending",
    ),
    OpenApiParameter("page", OpenApiTypes.INT),
]


def _filters_from_query(query) -> dict:
    """Query parameters of the organiser list and export, checked like a body: bad values → 400."""
    errors: dict[str, list[str]] = {}

    def choices(name: str, allowed: list[str]) -> list[str]:
        values = [v for raw in query.getlist(name) for v in raw.split(",") if v]
        bad = [v for v in values if v not in allowed]
        if bad:
            errors[name] = [f"'{bad[0][:40]}' is not one of: {', '.join(allowed)}."]
        return values

    filters = {
        "status": choices("status", Registration.Status.values),
        "category": choices("category", Registration.Category.values),
        "country": [v for raw in query.getlist("country") for v in raw.split(",") if v],
        "search": query.get("search", "")[:200],
        "ordering": query.get("ordering", "created_at"),
    }
    attendance = query.get("attendance")
    if attendance:
        if attendance not in Registration.Attendance.values:
            errors["attendance"] = [f"Must be one of: {', '.join(Registration.Attendance.values)}."]
        filters["attendance"] = attendance
    if filters["ordering"].removeprefix("-") not in selectors.ORDERING_FIELDS:
        errors["ordering"] = [f"Must be one of: {', '.join(sorted(selectors.ORDERING_FIELDS))}."]
    if errors:
        raise serializers.ValidationError(errors)
    return filters


def event_for_organiser(slug: str) -> Event:
    """The event named in the URL (the permission already checked the role on it)."""
    event = Event.objects.filter(slug=slug).first()
    if event is None:
        from config.problems import NotFound

        raise NotFound(f"No event '{slug[:80]}'.")
    return event


class RegistrationCollectionApi(APIView):
    """POST: public sign-up. GET: the organisers' paginated list."""

    authentication_classes = [TokenAuthentication]
    throttle_classes = [SignupIpThrottle, SignupEmailThrottle]

    def get_permissions(self):
        if self.request is not None and self.request.method == "POST":
            return []
        return [IsEventOrganiser()]

    def check_throttles(self, request):
        # Both sign-up throttles in one round trip to the cache (DRF asks each in turn).
        waits = throttle_refusals(self.get_throttles(), request, self)
        if waits:
            self.throttled(request, max(waits))

    @extend_schema(
        operation_id="registrations_create",
        request=RegistrationCreate.InputSerializer,
        responses={
            201: RegistrationCreate.OutputSerializer,
            404: PROBLEM,
            409: PROBLEM,
        },
        description=(
            "Sign up. 409 `already_registered` when the address is already registered for the event "
            "(its manage link is mailed again), 409 `registration_closed` outside the registration window."
        ),
        auth=[{}, {"tokenAuth": []}],
    )
    def post(self, request, slug: str):
        event = agenda_selectors.event_get_public(slug=slug)
        serializer = RegistrationCreate.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        registration = services.registration_create(event=event, **serializer.validated_data)
        body = {
            "id": registration.id,
            "status": registration.status,
            "waitlist_position": registration.waitlist_position,
        }
        if has_event_role(request.user, slug, (EventRole.Role.ORGANISER,)):
            body["manage_url"] = manage_tokens.manage_url(
                manage_tokens.token_for_salt(registration.manage_token_salt)
            )
        return Response(RegistrationCreate.OutputSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="registrations_list",
        parameters=LIST_PARAMETERS,
        responses=RegistrationListPageSerializer,
    )
    def get(self, request, slug: str):
        event = event_for_organiser(slug)
        filters = _filters_from_query(request.query_params)
        registrations = selectors.registration_list(event=event, **filters)
        from rest_framework.pagination import PageNumberPagination

        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(registrations, request, view=self)
        return paginator.get_paginated_response(RegistrationList.OutputSerializer(page, many=True).data)


# --- self-service by manage token --------------------------------------------------------------


def _in_zone(value: str | datetime, zone_name: str) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(get_zone(zone_name)).isoformat()


def _links(token: str, registration: Registration) -> dict[str, str]:
    """Links to the attendee's files, for the routes that exist (the badge files only once
    the registration holds a seat)."""
    from django.conf import settings

    names = {"invite_ics": "registration-invite-ics"}
    if registration.status == Registration.Status.CONFIRMED:
        names |= {"badge_png": "registration-badge-png", "badge_pdf": "registration-badge-pdf"}
    links = {}
    for key, name in names.items():
        try:
            links[key] = settings.PUBLIC_BASE_URL + reverse(name, kwargs={"token": token})
        except NoReverseMatch:
            continue
    return links


class ManageRegistration:
    class SessionSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        title = serializers.CharField()
        kind = serializers.CharField()
        room = serializers.CharField(allow_blank=True)
        starts_at = serializers.DateTimeField()
        ends_at = serializers.DateTimeField()
        starts_at_utc = serializers.DateTimeField()
        speakers = serializers.ListField(child=serializers.DictField())

    class EventSerializer(serializers.Serializer):
        slug = serializers.CharField()
        title = serializers.CharField()
        venue = serializers.CharField(allow_blank=True)
        timezone = serializers.CharField()
        starts_at = serializers.DateTimeField(help_text="In the attendee's zone")
        ends_at = serializers.DateTimeField(help_text="In the attendee's zone")
        webcast_url = serializers.URLField(allow_blank=True, required=False)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        status = serializers.ChoiceField(choices=Registration.Status.choices)
        waitlist_position = serializers.IntegerField(allow_null=True)
        full_name = serializers.CharField()
        email = serializers.CharField()
        organisation = serializers.CharField(allow_blank=True)
        country = serializers.CharField()
        category = serializers.ChoiceField(choices=Registration.Category.choices)
        attendance = serializers.ChoiceField(choices=Registration.Attendance.choices)
        timezone = serializers.CharField()
        language = serializers.CharField()
        accessibility_needs = serializers.CharField(allow_blank=True)
        created_at = serializers.DateTimeField()
        cancelled_at = serializers.DateTimeField(allow_null=True)
        event = serializers.DictField(
            help_text="slug, title, venue, timezone, starts_at, ends_at (attendee's zone)"
        )
        agenda = serializers.DictField(help_text='{"timezone": attendee zone, "sessions": [...]}')
        links = serializers.DictField(
            child=serializers.URLField(), help_text="badge_png, badge_pdf, invite_ics"
        )

    class UpdateInputSerializer(serializers.Serializer):
        timezone = TimezoneField(required=False)
        language = serializers.ChoiceField(choices=[(code, code) for code in LANGUAGES], required=False)
        attendance = serializers.ChoiceField(choices=Registration.Attendance.choices, required=False)


def _manage_body(registration: Registration, token: str) -> dict:
    event = registration.event
    zone = registration.timezone
    version = agenda_selectors.agenda_latest_version(event=event)
    sessions = [
        {
            "id": entry["id"],
            "title": entry["title"],
            "kind": entry["kind"],
            "room": entry.get("room", ""),
            "starts_at": _in_zone(entry["starts_at"], zone),
            "ends_at": _in_zone(entry["ends_at"], zone),
            "starts_at_utc": entry["starts_at"],
            "speakers": [
                {k: s.get(k, "") for k in ("id", "name", "title", "organisation")}
                for s in entry.get("speakers", [])
            ],
        }
        for entry in (version.sessions if version else [])
    ]
    event_body = {
        "slug": event.slug,
        "title": event.title,
        "venue": event.venue,
        "timezone": event.timezone,
        "starts_at": _in_zone(event.starts_at, zone),
        "ends_at": _in_zone(event.ends_at, zone),
    }
    if registration.status == Registration.Status.CONFIRMED and registration.attendance == "online":
        event_body["webcast_url"] = event.webcast_url
    return {
        "id": registration.id,
        "status": registration.status,
        "waitlist_position": registration.waitlist_position,
        "full_name": registration.full_name,
        "email": registration.email,
        "organisation": registration.organisation,
        "country": registration.country,
        "category": registration.category,
        "attendance": registration.attendance,
        "timezone": registration.timezone,
        "language": registration.language,
        "accessibility_needs": registration.accessibility_needs,
        "created_at": registration.created_at,
        "cancelled_at": registration.cancelled_at,
        "event": event_body,
        "agenda": {"timezone": zone, "sessions": sessions},
        "links": _links(token, registration),
    }


class ManageRegistrationApi(APIView):
    authentication_classes: list = []
    throttle_classes = [ManageTokenThrottle]

    @extend_schema(
        operation_id="registration_manage_retrieve",
        responses={200: ManageRegistration.OutputSerializer},
        description="The attendee's own registration, with the agenda in their time zone.",
    )
    def get(self, request, token: str):
        registration = selectors.registration_by_manage_token(token=token)
        return Response(_manage_body(registration, token))

    @extend_schema(
        operation_id="registration_manage_update",
        request=ManageRegistration.UpdateInputSerializer,
        responses={200: ManageRegistration.OutputSerializer, 409: PROBLEM},
        description=(
            "Change time zone, language or attendance. Switching to in person takes a free seat or joins "
            "the waitlist; switching to online needs a free online place (409 `event_full`). A cancelled "
            "registration cannot be changed (409 `registration_inactive`)."
        ),
    )
    def patch(self, request, token: str):
        registration = selectors.registration_by_manage_token(token=token)
        serializer = ManageRegistration.UpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        registration = services.registration_update(registration=registration, **serializer.validated_data)
        return Response(_manage_body(registration, token))


class ManageRegistrationCancelApi(APIView):
    authentication_classes: list = []
    throttle_classes = [ManageTokenThrottle]

    @extend_schema(
        operation_id="registration_manage_cancel",
        request=None,
        responses={
            200: inline_serializer(
                "RegistrationManageCancelOutput",
                {"id": serializers.IntegerField(), "status": serializers.CharField()},
            ),
            409: PROBLEM,
        },
        description="Cancel: the badge is revoked, the invite withdrawn (METHOD:CANCEL) and the seat goes "
        "to the first person on the waitlist. Cannot be undone.",
    )
    def post(self, request, token: str):
        registration = selectors.registration_by_manage_token(token=token)
        registration = services.registration_cancel(registration=registration, by="attendee")
        return Response({"id": registration.id, "status": registration.status})
