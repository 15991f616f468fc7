"""Content negotiation for views that answer a fixed media type (CSV, PNG, PDF, iCalendar):
the Accept header does not select the body, and errors stay problem+json."""

from __future__ import annotations

from rest_framework.negotiation import BaseContentNegotiation


class IgnoreAcceptNegotiation(BaseContentNegotiation):
    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
