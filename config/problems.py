"""RFC 9457 problem details for every error the API returns.

Services raise `ApplicationError` subclasses with a stable `code`; DRF and Django errors are
translated here, so a client sees one shape everywhere: type, title, status, detail, code and,
for validation, `errors` per field.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger("convene.errors")

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://convene.dev/problems/"


class ApplicationError(Exception):
    """A business rule said no. Subclasses set a stable `code` and an HTTP status."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "application_error"
    title = "The request cannot be carried out"

    def __init__(self, detail: str | None = None, *, extra: dict | None = None, errors: dict | None = None):
        self.detail = detail or self.title
        self.extra = extra or {}
        self.errors = errors
        super().__init__(self.detail)


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    title = "Not found"


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
    title = "Conflict"


class ServiceUnavailable(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "service_unavailable"
    title = "Service temporarily unavailable"


def problem(
    *, status_code: int, code: str, title: str, detail: str, errors: dict | None = None, **extra
) -> dict:
    body = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return body


def problem_response(body: dict, headers: dict | None = None) -> Response:
    response = Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)
    return response


def database_unavailable(exc: Exception) -> tuple[dict, dict]:
    """The database went away (restart, failover, terminated backend): say so, retryably.

    Body and headers of the 503, for DRF views and for the views that answer without DRF.
    """
    logger.warning("database unavailable", extra={"error": type(exc).__name__})
    body = problem(
        status_code=503,
        code="database_unavailable",
        title="Service temporarily unavailable",
        detail="The database is not answering; retry shortly.",
    )
    return body, {"Retry-After": "2"}


def _flatten_errors(detail) -> dict[str, list[str]]:
    """DRF error trees → {"field": ["message", ...], "nested.field": [...]}."""
    flat: dict[str, list[str]] = {}

    def walk(node, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, list):
            if all(not isinstance(item, dict | list) for item in node):
                flat.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in node)
            else:
                for index, item in enumerate(node):
                    walk(item, f"{prefix}.{index}" if prefix else str(index))
        else:
            flat.setdefault(prefix or "non_field_errors", []).append(str(node))

    walk(detail, "")
    return flat


_DRF_CODES = {
    exceptions.ParseError: ("malformed_request", "Malformed request body"),
    exceptions.AuthenticationFailed: ("authentication_failed", "Authentication failed"),
    exceptions.NotAuthenticated: ("not_authenticated", "Authentication required"),
    exceptions.PermissionDenied: ("permission_denied", "Permission denied"),
    exceptions.NotFound: ("not_found", "Not found"),
    exceptions.MethodNotAllowed: ("method_not_allowed", "Method not allowed"),
    exceptions.NotAcceptable: ("not_acceptable", "Not acceptable"),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", "Unsupported media type"),
    exceptions.Throttled: ("throttled", "Too many requests"),
}


def exception_handler(exc, context) -> Response:
    set_rollback()
    headers: dict[str, str] = {}

    if isinstance(exc, ApplicationError):
        body = problem(
            status_code=exc.status_code,
            code=exc.code,
            title=exc.title,
            detail=str(exc.detail),
            errors=exc.errors,
            **exc.extra,
        )
        return problem_response(body)

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail=detail)

    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten_errors(exc.detail)
        body = problem(
            status_code=400,
            code="validation_error",
            title="Invalid input",
            detail="; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())[:1000],
            errors=errors,
        )
        return problem_response(body)

    if isinstance(exc, exceptions.APIException):
        code, title = next(
            (value for cls, value in _DRF_CODES.items() if isinstance(exc, cls)),
            (getattr(exc, "default_code", "error"), "Error"),
        )
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait + 0.999))
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        body = problem(status_code=exc.status_code, code=code, title=title, detail=str(detail))
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            headers.setdefault("WWW-Authenticate", 'Token realm="api"')
        return problem_response(body, headers)

    if isinstance(exc, OperationalError | InterfaceError):
        return problem_response(*database_unavailable(exc))

    if isinstance(exc, DatabaseError):
        logger.exception("database error")
    else:
        logger.exception("unhandled error", extra={"error": type(exc).__name__})
    body = problem(
        status_code=500,
        code="internal_error",
        title="Internal server error",
        detail="Something went wrong on our side; it has been logged.",
    )
    return problem_response(body)


# --- Django-level handlers (routes outside DRF, e.g. an unknown URL) -------------------------


def _json_problem(status_code: int, code: str, title: str, detail: str) -> JsonResponse:
    return JsonResponse(
        problem(status_code=status_code, code=code, title=title, detail=detail),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
        json_dumps_params={"ensure_ascii": False},
    )


def handler404(request, exception=None):
    return _json_problem(404, "not_found", "Not found", "No such resource.")


def handler400(request, exception=None):
    return _json_problem(400, "bad_request", "Bad request", "The request could not be understood.")


def handler403(request, exception=None):
    return _json_problem(403, "permission_denied", "Permission denied", "You may not do this.")


def handler500(request):
    return _json_problem(500, "internal_error", "Internal server error", "Something went wrong on our side.")
