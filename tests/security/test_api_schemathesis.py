"""Property-based API fuzzing from the published OpenAPI schema (schemathesis).

Every operation of `/api/schema/` gets a fixed, derandomized number of generated requests,
sent in-process to the WSGI app. Path parameters name real objects (an event the token's
user organises, a real manage token) so the requests reach the code behind the routing.
Checks: no 5xx, the response conforms to the documented schema (problem details included),
and the status code is one the schema documents.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from config.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)

EXAMPLES_PER_OPERATION = 12


@schemathesis.check
def problem_details_on_errors(ctx, response, case):
    """Every 4xx/5xx answer of the API is RFC 9457 problem details with a stable code."""
    if response.status_code < 400 or not case.path.startswith("/api/v1/"):
        return None
    headers = {name.lower(): value for name, value in response.headers.items()}
    content_type = headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(f"{response.status_code} answered as {content_type!r}, not problem+json")
    body = response.json()
    missing = {"type", "title", "status", "detail", "code"} - set(body)
    if missing or body["status"] != response.status_code:
        raise AssertionError(f"not problem details (missing {sorted(missing)}): {str(body)[:300]}")
    return None


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_operation_conforms(case, world, wsgi_keeps_test_connection):
    for name in list(case.path_parameters or {}):
        if name == "slug":
            case.path_parameters["slug"] = world.event.slug
        elif name in {"manage_token", "token"}:
            case.path_parameters[name] = world.manage_token
    response = case.call(headers={"Authorization": f"Token {world.organiser_token}"})
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            response_schema_conformance,
            status_code_conformance,
            problem_details_on_errors,
        ],
    )
