"""The attendee's files by manage token: badge.png, badge.pdf, invite.ics — built by the same
notifications builders as the e-mail attachments, so the download and the e-mail agree."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.views import APIView

from config.problems import Conflict, ServiceUnavailable
from config.schema import ProblemSerializer
from registrations import selectors
from registrations.api.negotiation import IgnoreAcceptNegotiation
from registrations.badge_tokens import badge_token_for
from registrations.models import Registration
from registrations.throttles import ManageTokenThrottle


class NoBadge(Conflict):
    code = "no_badge"
    title = "No badge for this registration"


class NoInvite(Conflict):
    code = "no_invite"
    title = "No calendar invite for this registration"


def _badge_registration(token: str) -> Registration:
    registration = selectors.registration_by_manage_token(token=token)
    # As in the e-mails: a badge admits someone to the venue, so only a confirmed in-person seat.
    if registration.status != Registration.Status.CONFIRMED or registration.attendance != "in_person":
        raise NoBadge(
            f"Badges are issued to confirmed in-person attendees; this registration is "
            f"{registration.status} ({registration.attendance})."
        )
    return registration


def _private(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


class _FileApi(APIView):
    authentication_classes: list = []
    throttle_classes = [ManageTokenThrottle]
    content_negotiation_class = IgnoreAcceptNegotiation


class BadgePngApi(_FileApi):
    @extend_schema(
        operation_id="registration_badge_png",
        responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY), 409: ProblemSerializer},
        description="The QR code of the entry badge (confirmed in-person attendees).",
    )
    def get(self, request, token: str):
        from notifications import badges

        registration = _badge_registration(token)
        return _private(
            HttpResponse(badges.qr_png(badge_token_for(registration)), content_type="image/png"), "badge.png"
        )


class BadgePdfApi(_FileApi):
    @extend_schema(
        operation_id="registration_badge_pdf",
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY), 409: ProblemSerializer},
        description="The printable badge (confirmed in-person attendees), in the attendee's language.",
    )
    def get(self, request, token: str):
        from notifications import badges, messages

        registration = _badge_registration(token)
        language = messages.language_for(registration.language)
        data = messages.badge_data(registration, registration.event, language, badge_token_for(registration))
        try:
            pdf = badges.badge_pdf(data)
        except badges.FontsMissing:
            raise ServiceUnavailable("The badge fonts are not installed on this server.")
        return _private(HttpResponse(pdf, content_type="application/pdf"), "badge.pdf")


class InviteIcsApi(_FileApi):
    @extend_schema(
        operation_id="registration_invite_ics",
        responses={(200, "text/calendar"): OpenApiResponse(OpenApiTypes.STR), 409: ProblemSerializer},
        description="The attendee's calendar invite: METHOD:REQUEST while confirmed, METHOD:CANCEL once "
        "cancelled (same UID and a higher SEQUENCE as the e-mailed one).",
    )
    def get(self, request, token: str):
        from notifications import messages
        from sessions.selectors import agenda_latest_version

        registration = selectors.registration_by_manage_token(token=token)
        method = {Registration.Status.CONFIRMED: "REQUEST", Registration.Status.CANCELLED: "CANCEL"}.get(
            registration.status
        )
        if method is None:
            raise NoInvite(f"A {registration.status} registration has no calendar invite yet.")
        event = registration.event
        with translation.override(messages.language_for(registration.language)):
            body = messages.attendee_invite(
                registration,
                event,
                agenda_latest_version(event=event),
                method=method,
                email=registration.email,
            )
        response = HttpResponse(body, content_type=f"text/calendar; charset=utf-8; method={method}")
        return _private(response, "invite.ics")
