"""Badge tokens: Ed25519-signed, compact, QR-alphanumeric, verified without the database."""

from __future__ import annotations

import base64
import io
import os
import random
import re

import pytest
import zxingcpp
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from PIL import Image

from registrations import badge_tokens
from registrations.badge_tokens import (
    BadgePayload,
    InvalidBadgeToken,
    b45decode,
    b45encode,
    issue_badge_token,
    new_key_line,
    public_key_line,
    public_keys,
    verify_badge_token,
)

BASE45 = re.compile(r"^[0-9A-Z $%*+\-./:]+$")


@pytest.fixture
def fixed_key(settings, tmp_path):
    line = new_key_line(3)
    settings.BADGE_SIGNING_KEY = line
    settings.BADGE_VERIFY_KEYS = []
    return line


def test_badge_token_round_trip(fixed_key):
    token = issue_badge_token(event_id=12, registration_id=345678, counter=2)

    assert verify_badge_token(token) == BadgePayload(
        version=1, key_id=3, event_id=12, registration_id=345678, counter=2
    )


def test_badge_token_is_short_and_qr_alphanumeric(fixed_key):
    for ids in [(1, 1, 1), (500, 250_000, 3), (2**31 - 1, 2**40, 2**20)]:
        token = issue_badge_token(event_id=ids[0], registration_id=ids[1], counter=ids[2])
        assert len(token) <= 120
        # Every character in the QR alphanumeric set: the code uses that mode, its smallest.
        assert BASE45.match(token)


def test_badge_token_survives_a_real_qr_decoder(fixed_key):
    token = issue_badge_token(event_id=7, registration_id=4321, counter=1)
    from notifications.badges import qr_png

    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png(token))))

    assert [result.text for result in decoded] == [token]
    assert verify_badge_token(decoded[0].text).registration_id == 4321


def test_badge_token_refuses_every_single_bit_flip(fixed_key):
    token = issue_badge_token(event_id=12, registration_id=99, counter=1)
    raw = b45decode(token)
    for position in range(len(raw) * 8):
        tampered = bytearray(raw)
        tampered[position // 8] ^= 1 << (position % 8)
        with pytest.raises(InvalidBadgeToken):
            verify_badge_token(b45encode(bytes(tampered)))


@pytest.mark.parametrize(
    "code",
    [
        "",
        "A",
        "x" * 10_000,
        "hello world",  # lower case: outside the alphabet
        "::::::",  # a base45 triple above 0xFFFF
        "ÉÀ",
    ],
)
def test_badge_token_refuses_garbage(fixed_key, code):
    with pytest.raises(InvalidBadgeToken):
        verify_badge_token(code)


def test_badge_token_refuses_truncation_and_random_bytes(fixed_key):
    token = issue_badge_token(event_id=12, registration_id=99, counter=1)
    for cut in (1, 2, 3, 30, len(token) - 3):
        with pytest.raises(InvalidBadgeToken):
            verify_badge_token(token[:-cut])
    rng = random.Random(6)
    for length in (10, 70, 72, 79):
        with pytest.raises(InvalidBadgeToken):
            verify_badge_token(b45encode(rng.randbytes(length)))


def test_badge_token_refuses_extra_bytes_and_non_canonical_varints(fixed_key):
    token = issue_badge_token(event_id=12, registration_id=99, counter=1)
    raw = b45decode(token)
    signed, signature = raw[:-64], raw[-64:]
    with pytest.raises(InvalidBadgeToken):
        verify_badge_token(b45encode(signed + b"\x00" + signature))
    # Same value (99) spelled with a needless continuation byte.
    respelled = signed.replace(bytes([99]), bytes([99 | 0x80, 0]), 1)
    with pytest.raises(InvalidBadgeToken):
        verify_badge_token(b45encode(respelled + signature))


def test_badge_token_signed_with_an_unknown_key_is_refused(settings, fixed_key):
    settings.BADGE_SIGNING_KEY = new_key_line(9)
    foreign = issue_badge_token(event_id=12, registration_id=99, counter=1)
    settings.BADGE_SIGNING_KEY = fixed_key

    with pytest.raises(InvalidBadgeToken, match="unknown signing key"):
        verify_badge_token(foreign)


def test_badge_token_same_kid_other_key_is_refused(settings, fixed_key):
    settings.BADGE_SIGNING_KEY = new_key_line(3)  # same kid, different key: a forgery attempt
    forged = issue_badge_token(event_id=12, registration_id=99, counter=1)
    settings.BADGE_SIGNING_KEY = fixed_key

    with pytest.raises(InvalidBadgeToken, match="bad signature"):
        verify_badge_token(forged)


def test_badge_token_with_another_valid_signature_of_our_key_is_accepted(fixed_key):
    """verify_badge_token first compares the signature with the one signing the payload again
    gives (Ed25519 is deterministic); a valid signature made with another nonce must still pass."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tests.registrations.ed25519_reference import sign_with_nonce

    private = base64.b64decode(fixed_key.split(":", 1)[1])
    payload = badge_tokens._payload_bytes(key_id=3, event_id=12, registration_id=99, counter=4)
    ours = Ed25519PrivateKey.from_private_bytes(private).sign(payload)
    other = sign_with_nonce(private, payload, nonce=random.Random(7).getrandbits(512))
    Ed25519PrivateKey.from_private_bytes(private).public_key().verify(other, payload)  # valid: raises if not

    assert other != ours
    assert b45decode(issue_badge_token(event_id=12, registration_id=99, counter=4))[-64:] == ours
    assert verify_badge_token(b45encode(payload + other)) == BadgePayload(
        version=1, key_id=3, event_id=12, registration_id=99, counter=4
    )
    tampered = other[:40] + bytes([other[40] ^ 1]) + other[41:]
    with pytest.raises(InvalidBadgeToken, match="bad signature"):
        verify_badge_token(b45encode(payload + tampered))


def test_badge_token_old_key_keeps_verifying_after_rotation(settings):
    old = new_key_line(1)
    settings.BADGE_SIGNING_KEY = old
    old_token = issue_badge_token(event_id=5, registration_id=6, counter=1)

    settings.BADGE_SIGNING_KEY = new_key_line(2)
    settings.BADGE_VERIFY_KEYS = [public_key_line(old)]
    new_token = issue_badge_token(event_id=5, registration_id=6, counter=2)

    assert verify_badge_token(old_token).key_id == 1
    assert verify_badge_token(new_token).key_id == 2
    assert [key["kid"] for key in public_keys()] == [1, 2]


def test_public_keys_verify_a_token_offline(fixed_key):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    token = issue_badge_token(event_id=5, registration_id=6, counter=1)
    (key,) = public_keys()
    raw = b45decode(token)

    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    public.verify(raw[-64:], raw[:-64])  # raises if the bundle key does not match
    assert key == {"kid": 3, "alg": "Ed25519", "public_key": key["public_key"]}


def test_dev_key_is_generated_once_with_mode_0600(settings, tmp_path):
    settings.BADGE_KEY_AUTOGENERATE = True
    settings.BADGE_SIGNING_KEY = ""
    settings.BADGE_KEY_FILE = tmp_path / "keys" / "badge-signing-key"

    token = issue_badge_token(event_id=1, registration_id=2, counter=1)
    first = settings.BADGE_KEY_FILE.read_text()
    badge_tokens._keyring.cache_clear()  # a new process reads the same file

    assert verify_badge_token(token).registration_id == 2
    assert settings.BADGE_KEY_FILE.read_text() == first
    assert os.stat(settings.BADGE_KEY_FILE).st_mode & 0o777 == 0o600


def test_no_key_without_debug_is_a_clear_configuration_error(settings, tmp_path):
    settings.BADGE_KEY_AUTOGENERATE = False
    settings.BADGE_SIGNING_KEY = ""
    settings.BADGE_KEY_FILE = tmp_path / "absent"

    with pytest.raises(ImproperlyConfigured, match="generate_badge_key"):
        issue_badge_token(event_id=1, registration_id=2, counter=1)
    assert not settings.BADGE_KEY_FILE.exists()


@pytest.mark.parametrize(
    "line", ["nokid", "x:AAAA", "1:not-base64!", "1:" + base64.b64encode(b"short").decode()]
)
def test_malformed_key_setting_is_a_configuration_error(settings, line):
    settings.BADGE_SIGNING_KEY = line
    with pytest.raises(ImproperlyConfigured):
        issue_badge_token(event_id=1, registration_id=2, counter=1)


def test_generate_badge_key_command_prints_a_usable_line(settings, capsys):
    call_command("generate_badge_key", "--kid", "4")
    out = capsys.readouterr().out.strip()
    name, _, line = out.partition("=")

    settings.BADGE_SIGNING_KEY = line
    token = issue_badge_token(event_id=1, registration_id=2, counter=1)

    assert name == "BADGE_SIGNING_KEY"
    assert verify_badge_token(token).key_id == 4
    call_command("generate_badge_key", "--public-of", line)
    assert capsys.readouterr().out.strip() == public_key_line(line)


def test_base45_matches_rfc_9285_examples():
    assert b45encode(b"AB") == "BB8"
    assert b45encode(b"Hello!!") == "%69 VD92EX0"
    assert b45encode(b"base-45") == "UJCLQE7W581"
    assert b45decode("QED8WEX0") == b"ietf!"
