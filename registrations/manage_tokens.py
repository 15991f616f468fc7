"""Manage tokens: the private link an attendee uses to see, change or cancel a registration.

The token (256 bits) is HMAC(SECRET_KEY, random salt). The database keeps only the salt and
the token's SHA-256, so a leaked database reveals no working link, and a worker that mails the
link re-derives it from the salt instead of reading it from anywhere. A new salt reissues it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from django.conf import settings

_PURPOSE = b"convene.registration.manage-token.v1:"


def new_salt() -> str:
    return secrets.token_hex(16)


def token_for_salt(salt: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), _PURPOSE + salt.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def manage_url(token: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/v1/registrations/{token}/"
