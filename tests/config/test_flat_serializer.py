"""FlatSerializer: DRF's validation and output, with shallow copies of the declared fields."""

from __future__ import annotations

import copy
import threading

import pytest
from rest_framework import serializers

from config.serializers import FlatSerializer
from registrations.api.views import RegistrationCreate

SignUp = RegistrationCreate.InputSerializer
# The same declared fields on DRF's own base, which deep-copies them for every instance.
DeepSignUp = type(
    "DeepSignUp",
    (serializers.Serializer,),
    {
        **{name: copy.deepcopy(field) for name, field in SignUp._declared_fields.items()},
        "validate_consent": SignUp.validate_consent,
    },
)

VALID = {
    "full_name": "Nguyễn Thị Minh",
    "email": " Minh@Example.ORG ",
    "organisation": "Ministry of Planning",
    "country": "vn",
    "category": "member_state",
    "attendance": "in_person",
    "timezone": "Asia/Ho_Chi_Minh",
    "language": "fr",
    "consent": True,
}
INPUTS = [
    VALID,
    {k: v for k, v in VALID.items() if k not in ("language", "timezone", "organisation")},
    {**VALID, "country": "XX", "timezone": "Mars/Olympus", "language": "de", "category": "alien"},
    {**VALID, "email": "not an address", "consent": False, "attendance": 3},
    {**VALID, "full_name": "Evil\r\nBcc: x@example.org", "full_name_extra": "ignored"},
    {},
]


@pytest.mark.parametrize("data", INPUTS)
def test_validation_is_the_same_as_with_drfs_deep_copies(data):
    flat, deep = SignUp(data=data), DeepSignUp(data=data)
    assert flat.is_valid() == deep.is_valid()
    assert flat.errors == deep.errors
    assert dict(flat.validated_data) == dict(deep.validated_data)


def test_instances_bind_their_own_copies_and_the_declared_fields_stay_unbound():
    first, second = SignUp(data=VALID), SignUp(data=VALID)
    assert first.fields["email"] is not second.fields["email"]
    assert first.fields["email"].parent is first
    assert second.fields["email"].parent is second
    declared = SignUp._declared_fields["email"]
    assert getattr(declared, "parent", None) is None
    assert getattr(declared, "field_name", None) is None


def test_concurrent_validations_keep_their_own_errors():
    bad = INPUTS[2]
    expected_bad = DeepSignUp(data=bad)
    expected_bad.is_valid()
    start, failures = threading.Barrier(8), []

    def validate(thread: int):
        start.wait()
        for i in range(150):
            data = VALID if (i + thread) % 2 else bad
            serializer = SignUp(data=data)
            valid = serializer.is_valid()
            if data is VALID and (not valid or serializer.validated_data["country"] != "VN"):
                failures.append((thread, i, serializer.errors))
            if data is bad and serializer.errors != expected_bad.errors:
                failures.append((thread, i, serializer.errors))

    threads = [threading.Thread(target=validate, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []


def test_the_output_is_the_same_as_drfs():
    body = {"id": 7, "status": "waitlisted", "waitlist_position": 3}
    assert RegistrationCreate.OutputSerializer(body).data == {
        "id": 7,
        "status": "waitlisted",
        "waitlist_position": 3,
    }


@pytest.mark.parametrize(
    "field",
    [serializers.ListField(child=serializers.IntegerField()), serializers.DictField(), SignUp()],
)
def test_fields_with_children_are_refused(field):
    with pytest.raises(TypeError, match="plain fields only"):
        type("Nested", (FlatSerializer,), {"inner": field})
