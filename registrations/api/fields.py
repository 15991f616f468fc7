"""Serializer fields for attendee input (rules in registrations/validators.py)."""

from __future__ import annotations

from rest_framework import serializers

from registrations import validators


class OneLineTextField(serializers.CharField):
    """Text in any script, kept as typed; control and line-break characters refused (unless
    `allow_newlines`, for free text such as accessibility needs)."""

    def __init__(self, *, allow_newlines: bool = False, **kwargs):
        self.allow_newlines = allow_newlines
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("Not a valid string.")
        # Checked before CharField trims: a trailing CR/LF is refused, not silently dropped.
        char = validators.forbidden_character(data, allow_newlines=self.allow_newlines)
        if char is not None:
            raise serializers.ValidationError(
                f"Control and line-break characters are not allowed ({validators.describe_character(char)})."
            )
        return super().to_internal_value(data)


class EmailAddressField(serializers.CharField):
    """RFC-valid address, trimmed, domain lower-cased (email-validator, no DNS lookups)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 320)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("Enter a valid e-mail address.")
        try:
            return validators.normalise_email(data).email
        except ValueError as exc:
            raise serializers.ValidationError(f"Enter a valid e-mail address: {exc}")


class CountryField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("Not an ISO 3166-1 alpha-2 country code.")
        try:
            return validators.normalise_country(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc))


class TimezoneField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("Not an IANA time zone name.")
        try:
            return validators.check_timezone(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc))
