"""Signed badge tokens: what the QR code on a badge holds.

Layout (bytes): version (1) | key id, event id, registration id, issue counter (unsigned LEB128
varints) | Ed25519 signature over everything before it (64). Encoded with base45 (RFC 9285), whose
alphabet is exactly QR alphanumeric mode, so the QR stays small: about 105 characters for
realistic ids. No personal data: a scanner learns ids only; names come from the server.

Verification is parse + signature only (no database), so a scan of garbage costs no query.
Revocation (cancelled/rejected registration, reissued badge) is the server's job, by comparing
the counter with `Registration.badge_counter`.

Keys: `settings.BADGE_SIGNING_KEY` = "kid:base64(raw 32-byte private key)" signs;
`settings.BADGE_VERIFY_KEYS` = ["kid:base64(raw 32-byte public key)", ...] keep verifying older
badges after a rotation. Without a configured key, development (`BADGE_KEY_AUTOGENERATE`, i.e.
DEBUG at start-up) generates one into
`settings.BADGE_KEY_FILE` (mode 0600) so development and tests work; otherwise ImproperlyConfigured.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import threading
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

FORMAT_VERSION = 1
SIGNATURE_LENGTH = 64
MAX_TOKEN_LENGTH = 120
# Anything longer is refused before decoding: a 10 kB "token" costs nothing.
_MAX_DECODED = (MAX_TOKEN_LENGTH // 3) * 2 + 1
_MAX_VARINT_BYTES = 9  # up to 2**63

BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_BASE45_INDEX = {ch: i for i, ch in enumerate(BASE45_ALPHABET)}


class InvalidBadgeToken(Exception):
    """Garbage, bad signature, unknown key, wrong length, unsupported version..."""


@dataclass(frozen=True)
class BadgePayload:
    version: int
    key_id: int
    event_id: int
    registration_id: int
    counter: int


# --- base45 (RFC 9285) ----------------------------------------------------------------------


def b45encode(data: bytes) -> str:
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        c, n = n % 45, n // 45
        d, e = n % 45, n // 45
        out.append(BASE45_ALPHABET[c] + BASE45_ALPHABET[d] + BASE45_ALPHABET[e])
    if len(data) % 2:
        n = data[-1]
        out.append(BASE45_ALPHABET[n % 45] + BASE45_ALPHABET[n // 45])
    return "".join(out)


def b45decode(text: str) -> bytes:
    if len(text) % 3 == 1:
        raise ValueError("bad base45 length")
    try:
        values = [_BASE45_INDEX[ch] for ch in text]
    except KeyError:
        raise ValueError("character outside the base45 alphabet")
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i : i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 45 * 45
            if n > 0xFFFF:
                raise ValueError("base45 triple out of range")
            out += bytes((n >> 8, n & 0xFF))
        else:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise ValueError("base45 pair out of range")
            out.append(n)
    return bytes(out)


# --- varints --------------------------------------------------------------------------------


def _put_varint(value: int, out: bytearray) -> None:
    if value < 0:
        raise ValueError("negative value in a badge token")
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _get_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for shift_index in range(_MAX_VARINT_BYTES):
        if pos >= len(data):
            raise InvalidBadgeToken("truncated payload")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * shift_index)
        if not byte & 0x80:
            # A non-minimal encoding (trailing 0x80 0x00) would give one payload two spellings.
            if shift_index and byte == 0:
                raise InvalidBadgeToken("non-canonical varint")
            return value, pos
    raise InvalidBadgeToken("varint too long")


# --- keys -----------------------------------------------------------------------------------

_key_lock = threading.Lock()


def _parse_key_line(line: str, what: str) -> tuple[int, bytes]:
    kid_text, sep, b64 = line.strip().partition(":")
    try:
        if not sep:
            raise ValueError
        kid = int(kid_text)
        if not 0 <= kid < 2**31:
            raise ValueError
        raw = base64.b64decode(b64, validate=True)
        if len(raw) != 32:
            raise ValueError
    except (ValueError, binascii.Error):
        raise ImproperlyConfigured(f"{what} must look like 'kid:base64-of-32-raw-bytes'")
    return kid, raw


def new_key_line(kid: int = 1) -> str:
    """A fresh "kid:base64-private-key" line (what `generate_badge_key` prints)."""
    raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return f"{kid}:{base64.b64encode(raw).decode()}"


def public_key_line(private_line: str) -> str:
    """The "kid:base64-public-key" for a private key line (for BADGE_VERIFY_KEYS after a rotation)."""
    kid, raw = _parse_key_line(private_line, "the private key")
    public = Ed25519PrivateKey.from_private_bytes(raw).public_key()
    return f"{kid}:{base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()}"


def _dev_key_line() -> str:
    path = settings.BADGE_KEY_FILE
    with _key_lock:
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        line = new_key_line(1)
        # O_EXCL: when two processes race, one writes and both read the winner's key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(line + "\n")
        return line


@dataclass(frozen=True)
class _Keyring:
    signing_kid: int
    signing_key: Ed25519PrivateKey
    verify: dict[int, Ed25519PublicKey]


@lru_cache(maxsize=1)
def _keyring() -> _Keyring:
    line = settings.BADGE_SIGNING_KEY
    if not line:
        if not getattr(settings, "BADGE_KEY_AUTOGENERATE", settings.DEBUG):
            raise ImproperlyConfigured(
                "BADGE_SIGNING_KEY is not set: run `manage.py generate_badge_key` and put the line "
                "in the environment"
            )
        line = _dev_key_line()
    kid, raw = _parse_key_line(line, "BADGE_SIGNING_KEY")
    signing = Ed25519PrivateKey.from_private_bytes(raw)
    verify: dict[int, Ed25519PublicKey] = {kid: signing.public_key()}
    for entry in settings.BADGE_VERIFY_KEYS:
        old_kid, old_raw = _parse_key_line(entry, "BADGE_VERIFY_KEYS entry")
        if old_kid == kid:
            continue  # the current key wins over a stale copy of itself
        verify[old_kid] = Ed25519PublicKey.from_public_bytes(old_raw)
    return _Keyring(signing_kid=kid, signing_key=signing, verify=verify)


def _reset_keyring(*, setting: str, **kwargs) -> None:
    if setting in {
        "BADGE_SIGNING_KEY",
        "BADGE_VERIFY_KEYS",
        "BADGE_KEY_FILE",
        "BADGE_KEY_AUTOGENERATE",
        "DEBUG",
    }:
        _keyring.cache_clear()


setting_changed.connect(_reset_keyring)


def public_keys() -> list[dict]:
    """Every key a badge may be signed with: for offline scanners (the check-in bundle)."""
    ring = _keyring()
    return [
        {
            "kid": kid,
            "alg": "Ed25519",
            "public_key": base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode(),
        }
        for kid, key in sorted(ring.verify.items())
    ]


# --- issue and verify -----------------------------------------------------------------------


def _payload_bytes(*, key_id: int, event_id: int, registration_id: int, counter: int) -> bytes:
    out = bytearray([FORMAT_VERSION])
    for value in (key_id, event_id, registration_id, counter):
        _put_varint(value, out)
    return bytes(out)


def issue_badge_token(*, event_id: int, registration_id: int, counter: int) -> str:
    """The text to put in the QR code, signed with the current key."""
    ring = _keyring()
    payload = _payload_bytes(
        key_id=ring.signing_kid, event_id=event_id, registration_id=registration_id, counter=counter
    )
    token = b45encode(payload + ring.signing_key.sign(payload))
    if len(token) > MAX_TOKEN_LENGTH:
        raise ValueError(f"badge token would be {len(token)} characters (max {MAX_TOKEN_LENGTH})")
    return token


def badge_token_for(registration) -> str:
    """The current badge of a registration (its counter: older badges are revoked)."""
    return issue_badge_token(
        event_id=registration.event_id, registration_id=registration.id, counter=registration.badge_counter
    )


def decode_badge_token(code: str) -> tuple[BadgePayload, bytes, bytes]:
    """Parse without checking the signature: (payload, signed bytes, signature)."""
    if not isinstance(code, str) or not code:
        raise InvalidBadgeToken("empty token")
    if len(code) > MAX_TOKEN_LENGTH:
        raise InvalidBadgeToken("token too long")
    try:
        data = b45decode(code)
    except ValueError as exc:
        raise InvalidBadgeToken(str(exc))
    if len(data) > _MAX_DECODED or len(data) < 1 + 4 + SIGNATURE_LENGTH:
        raise InvalidBadgeToken("wrong length")
    signed, signature = data[:-SIGNATURE_LENGTH], data[-SIGNATURE_LENGTH:]
    if signed[0] != FORMAT_VERSION:
        raise InvalidBadgeToken("unsupported token version")
    pos = 1
    fields = []
    for _ in range(4):
        value, pos = _get_varint(signed, pos)
        fields.append(value)
    if pos != len(signed):
        raise InvalidBadgeToken("trailing bytes in payload")
    key_id, event_id, registration_id, counter = fields
    payload = BadgePayload(
        version=signed[0], key_id=key_id, event_id=event_id, registration_id=registration_id, counter=counter
    )
    return payload, signed, signature


def verify_badge_token(code: str) -> BadgePayload:
    """Signature + parse only, no database. Raises InvalidBadgeToken."""
    payload, signed, signature = decode_badge_token(code)
    ring = _keyring()
    if payload.key_id == ring.signing_kid and hmac.compare_digest(ring.signing_key.sign(signed), signature):
        # Ed25519 signs deterministically (RFC 8032, 5.1.6): a badge issued with the current key
        # carries exactly the signature that signing its payload again gives, and signing costs
        # half of verifying (46 against 97 µs here; a door rush scans each badge once). Any other
        # signature, valid or not, is verified below.
        return payload
    key = ring.verify.get(payload.key_id)
    if key is None:
        raise InvalidBadgeToken("unknown signing key")
    try:
        key.verify(signature, signed)
    except InvalidSignature:
        raise InvalidBadgeToken("bad signature")
    return payload
