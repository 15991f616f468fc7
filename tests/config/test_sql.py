"""config.sql.literal: only the code's plain constants are ever written into a statement."""

from __future__ import annotations

import pytest

from config import sql
from registrations.models import Registration


def test_choices_and_flags_are_written_as_sql_constants():
    assert sql.literal(Registration.Status.CONFIRMED) == "'confirmed'"
    assert sql.literal("in_person") == "'in_person'"
    assert sql.literal(True) == "TRUE"
    assert sql.literal(False) == "FALSE"


@pytest.mark.parametrize("value", ["", "o'clock", "a b", "x;--", "é", "a" * 65, 7, None])
def test_anything_that_could_need_quoting_is_refused(value):
    with pytest.raises(ValueError):
        sql.literal(value)
