"""The attendee field rules: which characters are refused, and e-mail normalisation."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from registrations import validators


def _refused_by_definition(char: str, *, allow_newlines: bool) -> bool:
    # The rule as written in the module docstring: C0/C1 controls, surrogates, line and
    # paragraph separators, and Unicode noncharacters.
    if allow_newlines and char == "\n":
        return False
    code = ord(char)
    return (
        unicodedata.category(char) in {"Cc", "Cs", "Zl", "Zp"}
        or 0xFDD0 <= code <= 0xFDEF
        or (code & 0xFFFE) == 0xFFFE
    )


@pytest.mark.parametrize("allow_newlines", [False, True])
def test_the_refused_characters_are_exactly_those_of_the_rule_over_all_of_unicode(allow_newlines):
    wrong = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if (validators.forbidden_character(chr(code), allow_newlines=allow_newlines) is not None)
        != _refused_by_definition(chr(code), allow_newlines=allow_newlines)
    ]
    assert wrong == []


def test_the_first_refused_character_is_reported():
    assert validators.forbidden_character("Amina\u2028Diallo\x07") == "\u2028"
    assert validators.forbidden_character("line one\nline two", allow_newlines=True) is None
    assert validators.forbidden_character("محمد\u200dعلي") is None  # zero-width joiner stays


def test_an_address_with_any_kind_of_space_is_refused():
    spaces = [chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace()]
    for space in spaces:
        with pytest.raises(ValueError):
            validators.normalise_email(f"amina{space}diallo@example.org")
