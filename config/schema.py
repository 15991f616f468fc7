"""drf-spectacular conventions: unique component names and documented error shapes."""

from __future__ import annotations

from drf_spectacular import openapi
from rest_framework import serializers


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as every error response of this API."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable machine-readable error code.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field messages, for validation errors.",
    )


class AutoSchema(openapi.AutoSchema):
    def get_serializer_name(self, serializer, direction):
        cls = serializer.__class__
        outer, _, inner = cls.__qualname__.rpartition(".")
        if outer:
            # RegistrationCreateApi.InputSerializer -> RegistrationCreateInput
            outer = outer.split(".")[-1].removesuffix("Api").removesuffix("View")
            return outer + inner.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        problem_ref = self.resolve_serializer(ProblemSerializer, "response").ref
        content = {"application/problem+json": {"schema": problem_ref}}
        codes = {"400": "Invalid input", "429": "Too many requests", "503": "Service unavailable"}
        if self.method != "GET":
            codes["415"] = "Unsupported media type"
        if "{" in self.path:
            codes["404"] = "Not found"
        if self.get_auth() and any(self.view.get_permissions()):
            codes.update({"401": "Not authenticated", "403": "Permission denied"})
        for code, description in codes.items():
            responses.setdefault(code, {"description": description, "content": content})
        return responses
