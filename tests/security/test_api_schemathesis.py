"""Property-based API fuzzing from the published OpenAPI schema (schemathesis).

Every operation of `/api/schema/` gets a fixed, derandomized number of generated requests,
sent in-process to the WSGI app. Path parameters name real objects (an event the token's
user organises, a real manage token) so the requests reach the code behind the routing.
Checks: no 5xx, the response conforms to the documented schema (problem details included),
and the status code is one the schema documents. A stateful test then runs bounded sequences of
calls chained by the links schemathesis infers from the schema, with the same checks.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from django.db import transaction
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


# What every answer is held to, per operation and in the stateful sequences alike.
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, problem_details_on_errors]


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
        checks=CHECKS,
    )


WORKFLOW_SCENARIOS = 25
WORKFLOW_STEPS = 6


@pytest.mark.django_db
def test_api_workflows_conform(world, wsgi_keeps_test_connection):
    """Stateful: sequences of calls chained by the links schemathesis infers from the schema (a
    listed event's slug into its rooms, sessions, registrations; a created room's id into its
    update...), so requests reach objects that an earlier call of the same scenario created."""

    known_slugs = {world.event.slug, world.other_event.slug}

    class Workflow(schema.as_state_machine()):
        # Every scenario starts from the same database and cache (throttle counters): Hypothesis
        # replays choice sequences, and an answer that depends on what an earlier scenario left
        # behind would make the same choices lead elsewhere.
        def setup(self):
            cache.clear()
            self._savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self._savepoint)

        def before_call(self, case):
            # A slug the link did not supply is a random string: use the world's event instead
            # (a slug from an earlier response, either world event, is kept).
            parameters = case.path_parameters or {}
            if "slug" in parameters and parameters["slug"] not in known_slugs:
                parameters["slug"] = world.event.slug
            for name in {"manage_token", "token"} & set(parameters):
                parameters[name] = world.manage_token

        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": f"Token {world.organiser_token}"}}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response,
                checks=CHECKS,
            )

    Workflow.run(
        settings=settings(
            max_examples=WORKFLOW_SCENARIOS,
            stateful_step_count=WORKFLOW_STEPS,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
