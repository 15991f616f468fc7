"""A DRF serializer base for the hot paths: the same fields, without DRF's per-instance deep copy."""

from __future__ import annotations

import copy

from rest_framework import serializers


class FlatSerializer(serializers.Serializer):
    """A serializer of plain fields whose instances get shallow copies of the declared fields.

    DRF deep-copies every declared field for every serializer instance, which calls each field's
    __init__ again (a ChoiceField flattens its choices anew): for the public sign-up's input and
    output, about a sixth of the request's CPU. A field's own state is set when it is declared
    and only read after that; binding a field to its serializer sets attributes on that copy
    alone, so no two instances share what binding changes and the declared fields stay unbound.
    A field with children (a nested serializer, ListField, DictField) would share its child, and
    binding the child would then be shared too: such fields are refused when the class is made.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, field in cls._declared_fields.items():
            if isinstance(field, serializers.BaseSerializer) or hasattr(field, "child"):
                raise TypeError(f"{cls.__qualname__}.{name}: a FlatSerializer takes plain fields only")

    def get_fields(self):
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}
