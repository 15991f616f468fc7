"""Check-in API: scan, check in by id, undo, stats, offline bundle, name search.

The permission classes here fetch the event together with the role check (one query) and hand
it to the view, because the scan path counts its queries.
"""

from __future__ import annotations

import json
from functools import lru_cache

from django.contrib.auth import get_user_model
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse
from drf_spectacular.drainage import set_override
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from config.problems import PROBLEM_CONTENT_TYPE, TYPE_BASE, database_unavailable
from config.schema import ProblemSerializer
from registrations import checkin_selectors, checkin_services
from registrations.checkin_services import RESULT_DETAIL, ScanOutcome
from registrations.models import CheckIn, EventRole, Registration, Scan
from registrations.permissions import IsEventCheckinStaff, IsEventOrganiser

TAGS = ["check-in"]


def _storable(value: str) -> str:
    """Drop what PostgreSQL text cannot hold (NUL, lone surrogates from JSON escapes)."""
    return "".join(ch for ch in value if ch != "\x00" and not 0xD800 <= ord(ch) <= 0xDFFF)


def _refuse_unstorable(value):
    if value and _storable(value) != value:
        raise serializers.ValidationError("Contains characters that cannot be stored.")
    return value


class CheckinTokenAuthentication(TokenAuthentication):
    """DRF token auth with the token and its user read in one plain SQL statement.

    The same rules as TokenAuthentication (unknown key or inactive user → 401); only the lookup
    is cheaper, because it runs on every scan.
    """

    # Model.from_db wants the loaded fields in the model's field order.
    _USER_FIELDS = ("id", "is_superuser", "username", "is_staff", "is_active")

    @staticmethod
    @lru_cache(maxsize=4)
    def _sql(vendor: str) -> tuple[str, list[str]]:
        User = get_user_model()
        fields = [
            f.attname
            for f in User._meta.concrete_fields
            if f.attname in CheckinTokenAuthentication._USER_FIELDS
        ]
        quote = connection.ops.quote_name
        token_meta, user_meta = Token._meta, User._meta
        cols = ", ".join(f"u.{quote(user_meta.get_field(name).column)}" for name in fields)
        sql = (
            f"SELECT {cols} FROM {quote(token_meta.db_table)} t JOIN {quote(user_meta.db_table)} u "  # noqa: S608
            f"ON u.{quote(user_meta.pk.column)} = t.{quote(token_meta.get_field('user').column)} "
            f"WHERE t.{quote(token_meta.pk.column)} = %s"
        )
        return sql, fields

    def authenticate_credentials(self, key):
        sql, fields = self._sql(connection.vendor)
        with connection.cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user = get_user_model().from_db(connection.alias, fields, row)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token = Token(key=key, user_id=user.pk)
        token._state.adding = False
        return user, token


# The same `tokenAuth` scheme as TokenAuthentication (drf-spectacular's TokenScheme matches
# subclasses): tell it the shared name is intended.
set_override(CheckinTokenAuthentication, "suppress_collision_warning", True)

AUTHENTICATION = [CheckinTokenAuthentication, SessionAuthentication]


class _EventRoleMixin:
    roles: tuple[str, ...] = ()

    def has_permission(self, request, view) -> bool:
        view.event = checkin_selectors.event_for_role(
            slug=view.kwargs.get("slug", ""), user=request.user, roles=self.roles
        )
        return view.event is not None


class CheckinStaffOnEvent(_EventRoleMixin, IsEventCheckinStaff):
    roles = (EventRole.Role.ORGANISER, EventRole.Role.CHECKIN)


class OrganiserOnEvent(_EventRoleMixin, IsEventOrganiser):
    roles = (EventRole.Role.ORGANISER,)


# --- shared serializers -----------------------------------------------------------------------


class ScanRegistrationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()
    organisation = serializers.CharField()
    category = serializers.ChoiceField(choices=Registration.Category.choices)
    attendance = serializers.ChoiceField(choices=Registration.Attendance.choices)


class ScanOkSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=[Scan.Result.OK])
    checkin_id = serializers.IntegerField(help_text="For undo: DELETE .../checkins/{checkin_id}/")
    direction = serializers.ChoiceField(choices=CheckIn.Direction.choices)
    checked_in_at = serializers.DateTimeField()
    gate = serializers.CharField()
    registration = ScanRegistrationSerializer()


class ScanRefusedSerializer(serializers.Serializer):
    """RFC 9457 problem details; for a recorded scan also its `result` (the same as `code`).

    Errors that are not scan outcomes (validation, permission) are plain problem details.
    """

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="The scan result, or a request error code")
    result = serializers.ChoiceField(
        choices=[c for c in Scan.Result.choices if c[0] != Scan.Result.OK],
        required=False,
        help_text="Present when the scan was recorded",
    )
    direction = serializers.ChoiceField(choices=CheckIn.Direction.choices, required=False)
    registration = ScanRegistrationSerializer(
        allow_null=True,
        required=False,
        help_text="Null for invalid and wrong_event: nothing is known or shown.",
    )
    first_checked_in_at = serializers.DateTimeField(
        required=False, help_text="already_checked_in: when the person entered"
    )
    gate = serializers.CharField(required=False, help_text="already_checked_in: where the person entered")
    checkin_id = serializers.IntegerField(required=False)
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field messages, for validation errors.",
    )


def _registration_data(registration: Registration | None) -> dict | None:
    if registration is None:
        return None
    return {
        "id": registration.id,
        "full_name": registration.full_name,
        "organisation": registration.organisation,
        "category": registration.category,
        "attendance": registration.attendance,
    }


def _scan_answer(outcome: ScanOutcome) -> tuple[dict, int, dict, str | None]:
    """The body, status, headers and content type of a scan's answer."""
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    status_code = outcome.http_status
    if outcome.result == Scan.Result.OK:
        checkin = outcome.checkin
        body = {
            "result": outcome.result,
            "checkin_id": checkin.id,
            "direction": checkin.direction,
            "checked_in_at": _DATETIME.to_representation(checkin.created_at),
            "gate": checkin.gate,
            "registration": _registration_data(outcome.registration),
        }
        return body, status_code, headers, None
    result = outcome.result
    shown = result not in (Scan.Result.INVALID, Scan.Result.WRONG_EVENT)
    body = {
        "type": TYPE_BASE + result,
        "title": Scan.Result(result).label,
        "status": status_code,
        "detail": RESULT_DETAIL[result],
        "code": result,
        "result": result,
        "direction": outcome.direction,
        "registration": _registration_data(outcome.registration) if shown else None,
    }
    if result == Scan.Result.ALREADY_CHECKED_IN and outcome.checkin is not None:
        body["first_checked_in_at"] = _DATETIME.to_representation(outcome.checkin.created_at)
        body["gate"] = outcome.checkin.gate
        body["checkin_id"] = outcome.checkin.id
    return body, status_code, headers, PROBLEM_CONTENT_TYPE


def scan_response(outcome: ScanOutcome) -> Response:
    body, status_code, headers, content_type = _scan_answer(outcome)
    return Response(body, status=status_code, headers=headers, content_type=content_type)


_DATETIME = serializers.DateTimeField()


SCAN_RESPONSES = {
    201: ScanOkSerializer,
    (400, PROBLEM_CONTENT_TYPE): OpenApiResponse(
        ScanRefusedSerializer,
        description="`invalid` (not our badge); or malformed input (`validation_error`, `exit_not_allowed`)",
    ),
    (403, PROBLEM_CONTENT_TYPE): OpenApiResponse(
        ScanRefusedSerializer,
        description="`wrong_event`, `revoked`, `not_confirmed`, `online_only`; or `permission_denied`",
    ),
    (404, PROBLEM_CONTENT_TYPE): OpenApiResponse(
        ScanRefusedSerializer, description="`registration_not_found` (check-in by id)"
    ),
    (409, PROBLEM_CONTENT_TYPE): OpenApiResponse(
        ScanRefusedSerializer,
        description="`already_checked_in`, `not_checked_in` (re-entry exits), `checkin_contention`",
    ),
}


# The scan row's columns bound what a scan may carry (the DRF input and the door-rush path alike).
_GATE_MAX = Scan._meta.get_field("gate").max_length
_NONCE_MAX = Scan._meta.get_field("nonce").max_length


class _ScanInputMixin(serializers.Serializer):
    gate = serializers.CharField(
        max_length=_GATE_MAX, required=False, allow_blank=True, default="", validators=[_refuse_unstorable]
    )
    nonce = serializers.CharField(
        validators=[_refuse_unstorable],
        max_length=_NONCE_MAX,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="Client-generated id of this scan (e.g. a UUID): a replay returns the first answer.",
    )
    scanned_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Client time, for offline uploads"
    )
    direction = serializers.ChoiceField(
        choices=CheckIn.Direction.choices,
        default=CheckIn.Direction.IN,
        help_text="`out` only on events whose check-in policy is `reentry`",
    )

    def validate_nonce(self, value):
        return value or None


# --- views ----------------------------------------------------------------------------------


class CheckinCreateApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [CheckinStaffOnEvent]

    class InputSerializer(_ScanInputMixin):
        # No max_length: an oversized or empty code is an `invalid` scan, not a validation error.
        code = serializers.CharField(allow_blank=True, trim_whitespace=False)

    @extend_schema(
        operation_id="checkins_create",
        tags=TAGS,
        summary="Scan a badge",
        request=InputSerializer,
        responses=SCAN_RESPONSES,
    )
    def post(self, request, slug: str):
        data = self._validated(request)
        outcome = checkin_services.checkin_perform(event=self.event, user=request.user, **data)
        return scan_response(outcome)

    def dispatch(self, request, *args, **kwargs):
        # The door rush: a well-formed entry scan with an API token is answered without DRF's
        # machinery (see checkin_services.checkin_scan_by_token). Anything else, and whatever
        # that path declines, goes through DRF below with the full rules and error answers.
        scan = _plain_token_scan(request)
        if scan is not None:
            try:
                outcome = checkin_services.checkin_scan_by_token(slug=kwargs["slug"], **scan)
            except checkin_services.NotHandledHere:
                pass
            except (OperationalError, InterfaceError) as exc:
                body, headers = database_unavailable(exc)
                return _json_response(body, body["status"], headers, PROBLEM_CONTENT_TYPE, self)
            else:
                body, status_code, headers, content_type = _scan_answer(outcome)
                return _json_response(body, status_code, headers, content_type, self)
        return super().dispatch(request, *args, **kwargs)

    def _validated(self, request) -> dict:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


_PLAIN_SCAN_KEYS = frozenset({"code", "gate", "nonce", "direction", "scanned_at"})
_PLAIN_SCAN_MAX_BYTES = 4096


def _plain_token_scan(request) -> dict | None:
    """The API token, code, gate and nonce of a plain entry scan; None for anything else.

    "Plain" means what CheckinCreateApi.InputSerializer would accept unchanged, sent with a DRF
    API token for a JSON answer: an entry (no exit), scanned now (no offline `scanned_at`).
    """
    meta = request.META
    if request.method != "POST" or request.content_type != "application/json":
        return None
    if request.encoding not in (None, "utf-8"):
        return None
    if meta.get("HTTP_ACCEPT", "*/*") not in ("*/*", "application/json"):
        return None
    auth = meta.get("HTTP_AUTHORIZATION", "").split()
    if len(auth) != 2 or auth[0].lower() != "token":
        return None
    try:
        if int(meta.get("CONTENT_LENGTH") or 0) > _PLAIN_SCAN_MAX_BYTES:
            return None
        data = json.loads(request.body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not data.keys() <= _PLAIN_SCAN_KEYS:
        return None
    code, gate, nonce = data.get("code"), data.get("gate", ""), data.get("nonce")
    if data.get("direction", CheckIn.Direction.IN) != CheckIn.Direction.IN:
        return None
    if data.get("scanned_at") is not None:
        return None
    if not (isinstance(code, str) and isinstance(gate, str) and (nonce is None or isinstance(nonce, str))):
        return None
    gate, nonce = gate.strip(), (nonce or "").strip()  # as DRF's CharField trims them
    if len(gate) > _GATE_MAX or len(nonce) > _NONCE_MAX or _storable(gate + nonce) != gate + nonce:
        return None
    return {"api_token": auth[1], "code": code, "gate": gate, "nonce": nonce or None}


_RENDERER = JSONRenderer()


def _json_response(
    body: dict, status_code: int, headers: dict, content_type: str | None, view
) -> HttpResponse:
    """What DRF would send for `body`: its JSON rendering and its Allow header."""
    response = HttpResponse(
        _RENDERER.render(body), status=status_code, content_type=content_type or _RENDERER.media_type
    )
    for name, value in headers.items():
        response[name] = value
    response["Allow"] = ", ".join(view.allowed_methods)
    return response


class CheckinManualApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [CheckinStaffOnEvent]

    class InputSerializer(_ScanInputMixin):
        registration_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)

    @extend_schema(
        operation_id="checkins_manual",
        tags=TAGS,
        summary="Check someone in by registration id (found by name search)",
        request=InputSerializer,
        responses=SCAN_RESPONSES,
    )
    def post(self, request, slug: str):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = checkin_services.checkin_perform_manual(
            event=self.event, user=request.user, **serializer.validated_data
        )
        return scan_response(outcome)


class CheckinUndoApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [OrganiserOnEvent]

    @extend_schema(
        operation_id="checkins_undo",
        tags=TAGS,
        summary="Undo a check-in (organisers)",
        request=None,
        responses={
            204: OpenApiResponse(description="Undone (the row is kept, marked undone)"),
            (404, PROBLEM_CONTENT_TYPE): OpenApiResponse(ProblemSerializer, description="checkin_not_found"),
            (409, PROBLEM_CONTENT_TYPE): OpenApiResponse(
                ProblemSerializer, description="already_undone, reentered_since"
            ),
        },
    )
    def delete(self, request, slug: str, checkin_id: int):
        checkin_services.checkin_undo(event=self.event, checkin_id=checkin_id, user=request.user)
        return Response(status=204)


class CheckinStatsApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [CheckinStaffOnEvent]

    class OutputSerializer(serializers.Serializer):
        class ByCategory(serializers.Serializer):
            category = serializers.ChoiceField(choices=Registration.Category.choices)
            expected = serializers.IntegerField()
            checked_in = serializers.IntegerField()

        class ByAttendance(serializers.Serializer):
            attendance = serializers.ChoiceField(choices=Registration.Attendance.choices)
            expected = serializers.IntegerField()
            checked_in = serializers.IntegerField()

        class Arrivals(serializers.Serializer):
            starts_at = serializers.DateTimeField()
            ends_at = serializers.DateTimeField()
            count = serializers.IntegerField()

        event = serializers.CharField()
        generated_at = serializers.DateTimeField()
        expected = serializers.IntegerField(help_text="Confirmed registrations")
        checked_in = serializers.IntegerField(help_text="Confirmed registrations with an active entry")
        by_category = ByCategory(many=True)
        by_attendance = ByAttendance(many=True)
        arrivals = Arrivals(many=True, help_text="Entries per 5 minutes (UTC buckets)")

    @extend_schema(
        operation_id="checkins_stats", tags=TAGS, summary="Door statistics", responses=OutputSerializer
    )
    def get(self, request, slug: str):
        return Response(self.OutputSerializer(checkin_selectors.checkin_stats(event=self.event)).data)


class CheckinBundleApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [CheckinStaffOnEvent]

    class OutputSerializer(serializers.Serializer):
        class EventRef(serializers.Serializer):
            id = serializers.IntegerField()
            slug = serializers.CharField()

        class Key(serializers.Serializer):
            kid = serializers.IntegerField()
            alg = serializers.ChoiceField(choices=["Ed25519"])
            public_key = serializers.CharField(help_text="base64 of the raw 32-byte public key")

        class Counter(serializers.Serializer):
            registration_id = serializers.IntegerField()
            counter = serializers.IntegerField()

        event = EventRef()
        generated_at = serializers.DateTimeField()
        keys = Key(many=True)
        revoked_registration_ids = serializers.ListField(child=serializers.IntegerField())
        badge_counters = Counter(
            many=True, help_text="Badges of these registrations with a lower counter are revoked"
        )

    @extend_schema(
        operation_id="checkins_bundle",
        tags=TAGS,
        summary="Offline scanner bundle: public keys and revoked registrations",
        responses=OutputSerializer,
    )
    def get(self, request, slug: str):
        return Response(self.OutputSerializer(checkin_selectors.checkin_bundle(event=self.event)).data)


class CheckinSearchApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [CheckinStaffOnEvent]

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        full_name = serializers.CharField()
        organisation = serializers.CharField()
        category = serializers.ChoiceField(choices=Registration.Category.choices)
        attendance = serializers.ChoiceField(choices=Registration.Attendance.choices)
        status = serializers.ChoiceField(choices=Registration.Status.choices)
        checked_in = serializers.BooleanField()

    @extend_schema(
        operation_id="checkins_search",
        tags=TAGS,
        summary="Find people by name or organisation (for check-in without a badge)",
        parameters=[OpenApiParameter("q", str, description="At least 2 characters", required=True)],
        responses=OutputSerializer(many=True),
    )
    def get(self, request, slug: str):
        query = _storable(request.query_params.get("q", ""))[:100]
        matches = checkin_selectors.checkin_search(event=self.event, query=query)
        return Response(self.OutputSerializer(matches, many=True).data)
