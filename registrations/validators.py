"""Field rules for what attendees type: names in any script, e-mail addresses, countries.

Names are kept exactly as typed (no case folding, no Unicode normalisation: "Nguyễn", "محمد",
"李小龙" and "देवनागरी" come back byte for byte). What is refused are characters that have no
business in a name and can break what the name is written into: C0/C1 controls (CR and LF
would inject e-mail headers and split CSV rows), line/paragraph separators and surrogates.
Zero-width joiners stay allowed: Devanagari and Persian spelling needs them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import pycountry
from email_validator import EmailNotValidError, validate_email

from sessions.timezones import is_valid_timezone

NAME_MAX_LENGTH = 200
ORGANISATION_MAX_LENGTH = 300
ACCESSIBILITY_MAX_LENGTH = 2000
LANGUAGES = ("en", "fr", "es", "ar", "zh", "ru")


def _refused_class(*, allow_newlines: bool) -> re.Pattern:
    # The categories' members are fixed by Unicode's stability policy: Cc is U+0000..U+001F and
    # U+007F..U+009F, Cs the surrogates, Zl U+2028, Zp U+2029. The noncharacters are
    # U+FDD0..U+FDEF and the last two code points of each of the 17 planes.
    controls = "\x00-\x09\x0b-\x1f\x7f-\x9f" if allow_newlines else "\x00-\x1f\x7f-\x9f"
    planes = "".join(chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(17))
    return re.compile(f"[{controls}\u2028\u2029\ud800-\udfff\ufdd0-\ufdef{planes}]")


_REFUSED = {False: _refused_class(allow_newlines=False), True: _refused_class(allow_newlines=True)}
_WHITESPACE = re.compile(r"\s")  # str.isspace()'s characters


def forbidden_character(value: str, *, allow_newlines: bool = False) -> str | None:
    """The first character of `value` that is refused, or None."""
    found = _REFUSED[allow_newlines].search(value)
    return found.group() if found else None


def describe_character(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, 'control character')}"


def text_problem(value: str, *, max_length: int, required: bool, allow_newlines: bool = False) -> str | None:
    """Why `value` is not acceptable as a one-line (or multi-line) text field, or None."""
    if required and not value.strip():
        return "This field may not be blank."
    if len(value) > max_length:
        return f"Ensure this field has no more than {max_length} characters."
    char = forbidden_character(value, allow_newlines=allow_newlines)
    if char is not None:
        return f"Control and line-break characters are not allowed ({describe_character(char)})."
    return None


@dataclass(frozen=True)
class NormalisedEmail:
    email: str  # trimmed, domain lower-cased (and IDNA-normalised): what we send to
    normalized: str  # case-folded: what uniqueness per event is decided on


def normalise_email(value: str) -> NormalisedEmail:
    """Validate an address (RFC 5322/6531 syntax, no DNS lookup) and normalise it.

    Raises ValueError with a readable message."""
    candidate = value.strip()
    if not candidate:
        raise ValueError("Enter an e-mail address.")
    if forbidden_character(candidate) is not None or _WHITESPACE.search(candidate):
        raise ValueError("An e-mail address cannot contain spaces or control characters.")
    try:
        result = validate_email(candidate, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise ValueError(str(exc))
    email = result.normalized
    if len(email) > 254:
        raise ValueError("An e-mail address has at most 254 characters.")
    return NormalisedEmail(email=email, normalized=email.lower())


def normalise_country(value: str) -> str:
    """ISO 3166-1 alpha-2 code, upper-cased, checked against pycountry. Raises ValueError."""
    code = value.strip().upper()
    if (
        len(code) != 2
        or not code.isascii()
        or not code.isalpha()
        or pycountry.countries.get(alpha_2=code) is None
    ):
        raise ValueError(f"'{value[:10]}' is not an ISO 3166-1 alpha-2 country code.")
    return code


def check_timezone(value: str) -> str:
    if not is_valid_timezone(value):
        raise ValueError(f"'{value[:64]}' is not an IANA time zone this server knows.")
    return value
