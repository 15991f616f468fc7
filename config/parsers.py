"""Request body parsers. Hostile bodies must end in a 400, never in a 500."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, also refusing nesting deep enough to exhaust the recursion limit
    (`[[[[…` a few thousand deep): `json` raises RecursionError there, which is no ValueError."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply")
