"""Organiser API for registrations (token auth, organiser role on the event in the URL):
detail, approve, reject, cancel on someone's behalf, capacity, CSV export, summary."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.schema import ProblemSerializer
from registrations import data as country_data
from registrations import selectors, services
from registrations.api.fields import OneLineTextField
from registrations.api.negotiation import IgnoreAcceptNegotiation
from registrations.api.views import (
    LIST_PARAMETERS,
    RegistrationList,
    _filters_from_query,
    event_for_organiser,
)
from registrations.models import Registration
from registrations.permissions import IsEventOrganiser
from sessions.timezones import get_zone

PROBLEM = ProblemSerializer


class OrganiserApi(APIView):
    permission_classes = [IsEventOrganiser]


class DecisionInputSerializer(serializers.Serializer):
    reason = OneLineTextField(max_length=2000, required=False, allow_blank=True, allow_newlines=True)


class RegistrationDetailApi(OrganiserApi):
    @extend_schema(operation_id="registrations_retrieve", responses=RegistrationList.OutputSerializer)
    def get(self, request, slug: str, registration_id: int):
        event = event_for_organiser(slug)
        registration = selectors.registration_get(event=event, registration_id=registration_id)
        return Response(RegistrationList.OutputSerializer(registration).data)


class _DecisionApi(OrganiserApi):
    def decide(self, request, slug: str, registration_id: int, service):
        event = event_for_organiser(slug)
        registration = selectors.registration_get(event=event, registration_id=registration_id)
        serializer = DecisionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        registration = service(registration=registration, **serializer.validated_data)
        return Response(RegistrationList.OutputSerializer(registration).data)


_DECISION_SCHEMA = {
    "request": DecisionInputSerializer,
    "responses": {200: RegistrationList.OutputSerializer, 409: PROBLEM},
}


class RegistrationApproveApi(_DecisionApi):
    @extend_schema(
        operation_id="registrations_approve",
        description="pending_approval → confirmed (409 `invalid_status_transition` otherwise).",
        **_DECISION_SCHEMA,
    )
    def post(self, request, slug: str, registration_id: int):
        return self.decide(request, slug, registration_id, services.registration_approve)


class RegistrationRejectApi(_DecisionApi):
    @extend_schema(
        operation_id="registrations_reject",
        description="pending_approval or waitlisted → rejected; a held seat goes to the waitlist.",
        **_DECISION_SCHEMA,
    )
    def post(self, request, slug: str, registration_id: int):
        return self.decide(request, slug, registration_id, services.registration_reject)


class RegistrationCancelApi(_DecisionApi):
    @extend_schema(
        operation_id="registrations_cancel",
        description="Cancel on the attendee's behalf: badge revoked, invite withdrawn, waitlist promoted.",
        **_DECISION_SCHEMA,
    )
    def post(self, request, slug: str, registration_id: int):
        def cancel(*, registration, reason: str = ""):
            return services.registration_cancel(registration=registration, by="organiser", reason=reason)

        return self.decide(request, slug, registration_id, cancel)


class EventCapacity:
    class InputSerializer(serializers.Serializer):
        capacity = serializers.IntegerField(min_value=0, max_value=1_000_000)
        online_capacity = serializers.IntegerField(
            min_value=0, max_value=10_000_000, allow_null=True, required=False, help_text="null = unlimited"
        )

    class OutputSerializer(serializers.Serializer):
        capacity = serializers.IntegerField()
        online_capacity = serializers.IntegerField(allow_null=True)
        seats_left = serializers.IntegerField()
        waitlisted = serializers.IntegerField()
        promoted = serializers.ListField(
            child=serializers.IntegerField(), help_text="Registration ids, in order"
        )


class EventCapacityApi(OrganiserApi):
    def _body(self, event, promoted: list[Registration]) -> dict:
        usage = services.seat_usage(event.id)
        return {
            "capacity": event.capacity,
            "online_capacity": event.online_capacity,
            "seats_left": max(event.capacity - usage.in_person, 0),
            "waitlisted": usage.waitlisted,
            "promoted": [r.id for r in promoted],
        }

    @extend_schema(operation_id="events_capacity_retrieve", responses=EventCapacity.OutputSerializer)
    def get(self, request, slug: str):
        event = event_for_organiser(slug)
        return Response(EventCapacity.OutputSerializer(self._body(event, [])).data)

    @extend_schema(
        operation_id="events_capacity_update",
        request=EventCapacity.InputSerializer,
        responses=EventCapacity.OutputSerializer,
        description="Change the in-person (and online) capacity; an increase promotes the waitlist in order, "
        "in the same transaction. Lowering it never unseats anyone.",
    )
    def patch(self, request, slug: str):
        event = event_for_organiser(slug)
        serializer = EventCapacity.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        promoted = services.registration_capacity_change(
            event=event,
            capacity=data["capacity"],
            online_capacity=data["online_capacity"] if "online_capacity" in data else services.UNCHANGED,
        )
        return Response(EventCapacity.OutputSerializer(self._body(event, promoted)).data)


# --- export ------------------------------------------------------------------------------------

# A cell a spreadsheet would read as a formula (or as a DDE command) starts with one of these.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str:
    """A CSV cell that spreadsheets show as text: formula-like strings get a leading quote
    (OWASP "CSV injection"); numbers and dates are written as they are."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


EXPORT_COLUMNS = [
    "id",
    "status",
    "waitlist_position",
    "full_name",
    "email",
    "organisation",
    "country",
    "m49_region",
    "m49_subregion",
    "ldc",
    "lldc",
    "sids",
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
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_lines(event, filters: dict) -> Iterator[bytes]:
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    zone = get_zone(event.timezone)
    areas = country_data.m49_areas()
    ldc, lldc, sids = country_data.ldc(), country_data.lldc(), country_data.sids()

    def when(moment):
        return moment.astimezone(zone).isoformat() if moment else None

    # The BOM tells spreadsheet programs the file is UTF-8 (names in every script).
    yield "\ufeff".encode() + writer.writerow(EXPORT_COLUMNS).encode()
    for r in selectors.registration_export_rows(event=event, **filters):
        area = areas.get(r.country)
        row = [
            r.id,
            r.status,
            r.waitlist_position,
            r.full_name,
            r.email,
            r.organisation,
            r.country,
            area.region if area else "",
            area.subregion if area else "",
            r.country in ldc,
            r.country in lldc,
            r.country in sids,
            r.category,
            r.attendance,
            r.timezone,
            r.language,
            r.accessibility_needs,
            r.decision_reason,
            when(r.consent_at),
            when(r.created_at),
            when(r.updated_at),
            when(r.cancelled_at),
        ]
        yield writer.writerow([neutralise(value) for value in row]).encode()


class RegistrationExportApi(OrganiserApi):
    content_negotiation_class = IgnoreAcceptNegotiation

    @extend_schema(
        operation_id="registrations_export_csv",
        parameters=[p for p in LIST_PARAMETERS if p.name not in ("page", "ordering")],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="UTF-8 with BOM")},
        description="Every registration of the event, streamed. Cells that a spreadsheet would read as a "
        "formula (starting with =, +, -, @, tab or CR) are prefixed with a quote.",
    )
    def get(self, request, slug: str):
        event = event_for_organiser(slug)
        filters = _filters_from_query(request.query_params)
        filters.pop("ordering", None)
        response = StreamingHttpResponse(export_lines(event, filters), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{event.slug}-registrations.csv"'
        response["Cache-Control"] = "no-store"
        return response


class RegistrationSummary:
    class OutputSerializer(serializers.Serializer):
        total = serializers.IntegerField(help_text="Participants: confirmed, pending approval, waitlisted")
        capacity = serializers.IntegerField()
        online_capacity = serializers.IntegerField(allow_null=True)
        seats_left = serializers.IntegerField()
        confirmed_in_person = serializers.IntegerField()
        by_status = serializers.DictField(child=serializers.IntegerField())
        by_category = serializers.DictField(child=serializers.IntegerField())
        by_attendance = serializers.DictField(child=serializers.IntegerField())
        by_country = serializers.DictField(child=serializers.IntegerField())
        by_region = serializers.DictField(child=serializers.IntegerField(), help_text="UN M49 regions")
        by_subregion = serializers.DictField(child=serializers.IntegerField(), help_text="UN M49 sub-regions")
        country_groups = serializers.DictField(child=serializers.IntegerField(), help_text="ldc, lldc, sids")
        sources = serializers.DictField(child=serializers.CharField())


class RegistrationSummaryApi(OrganiserApi):
    @extend_schema(operation_id="registrations_summary", responses=RegistrationSummary.OutputSerializer)
    def get(self, request, slug: str):
        event = event_for_organiser(slug)
        return Response(selectors.registration_summary(event=event))


__all__ = [
    "RegistrationDetailApi",
    "RegistrationApproveApi",
    "RegistrationRejectApi",
    "RegistrationCancelApi",
    "EventCapacityApi",
    "RegistrationExportApi",
    "RegistrationSummaryApi",
]
