"""`{% include_shared "name" var … %}`: an include that sees only the named variables, rendered
once per distinct set of their values. For the parts of an email that every attendee of an
event reads the same way (the date and place, the agenda): rendering them again for each of
thousands of attendees took a seventh of a confirmation's template time, more with an agenda."""

from __future__ import annotations

import threading
from collections import OrderedDict

from django import template
from django.template.base import Node
from django.utils import translation
from django.utils.safestring import SafeString

register = template.Library()

_MAX_PARTS = 512
_rendered: OrderedDict[tuple, str] = OrderedDict()
_lock = threading.Lock()


class _Unkeyable(Exception):
    """A value the key cannot hold exactly: the part is rendered without the cache."""


def _frozen(value):
    # The type goes into the key with the value: a SafeString renders unescaped where an equal
    # str is escaped, and True == 1.
    kind = type(value)
    if value is None or kind in (bool, int, str, SafeString):
        return (kind, value)
    if kind in (list, tuple):
        return (kind, tuple(_frozen(item) for item in value))
    if kind is dict:
        return (kind, tuple((key, _frozen(item)) for key, item in value.items()))
    raise _Unkeyable(kind)


class SharedIncludeNode(Node):
    def __init__(self, template_name: str, names: list[str]):
        self.template_name = template_name
        self.names = names

    def render(self, context) -> str:
        values = {name: context[name] for name in self.names if name in context}
        try:
            key = (
                self.template_name,
                translation.get_language(),
                context.autoescape,
                context.use_l10n,
                context.use_tz,
                tuple((name, _frozen(value)) for name, value in values.items()),
            )
        except _Unkeyable:
            return self._render(context, values)
        with _lock:
            text = _rendered.get(key)
            if text is not None:
                _rendered.move_to_end(key)
                return text
        text = self._render(context, values)
        with _lock:
            _rendered[key] = text
            if len(_rendered) > _MAX_PARTS:
                _rendered.popitem(last=False)
        return text

    def _render(self, context, values: dict) -> str:
        part = context.template.engine.get_template(self.template_name)
        return part.render(context.new(values))


@register.tag("include_shared")
def include_shared(parser, token) -> SharedIncludeNode:
    bits = token.split_contents()
    if len(bits) < 2 or bits[1][0] not in "'\"" or bits[1][0] != bits[1][-1]:
        raise template.TemplateSyntaxError(f"{bits[0]} takes a quoted template name, then variable names")
    return SharedIncludeNode(bits[1][1:-1], bits[2:])
