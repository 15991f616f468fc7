"""Throttles of the public registration endpoints, on the default cache (Redis in production).

Rates come from settings (scopes `signup_ip`, `signup_email`, `manage_token`). A cache that
does not answer must not take sign-ups down with it: the throttle then lets the request
through and logs it (the database constraints still hold).
"""

from __future__ import annotations

import hashlib
import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger("convene.throttles")


class _FailOpenThrottle(SimpleRateThrottle):
    def get_rate(self):
        # Read at request time (the base class reads the rates once, at import): tests and
        # deployments that change REST_FRAMEWORK rates see the change.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        # SimpleRateThrottle.allow_request, with the cache calls guarded (and only those: a
        # malformed body seen by get_cache_key must still answer 400).
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        try:
            self.history = self.cache.get(self.key, [])
            self.now = self.timer()
            while self.history and self.history[-1] <= self.now - self.duration:
                self.history.pop()
            if len(self.history) >= self.num_requests:
                return self.throttle_failure()
            return self.throttle_success()
        except Exception as exc:  # redis-py / cache backends raise many types
            logger.warning("throttle cache unavailable, not throttling", extra={"error": type(exc).__name__})
            return True

    @staticmethod
    def _is_staff_request(request) -> bool:
        # Organisers registering people on their behalf are authenticated; not throttled here.
        user = getattr(request, "user", None)
        return bool(user and user.is_authenticated)


class SignupIpThrottle(_FailOpenThrottle):
    scope = "signup_ip"

    def get_cache_key(self, request, view):
        if request.method != "POST" or self._is_staff_request(request):
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class SignupEmailThrottle(_FailOpenThrottle):
    """Per address (trimmed, case-folded; hashed so no address sits in the cache)."""

    scope = "signup_email"

    def get_cache_key(self, request, view):
        if request.method != "POST" or self._is_staff_request(request):
            return None
        data = request.data
        email = data.get("email") if isinstance(data, dict) else None
        if not isinstance(email, str) or not email.strip():
            return None
        ident = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ManageTokenThrottle(_FailOpenThrottle):
    """Per client IP: guessing manage tokens is hopeless (256 bits), but hammering is not free."""

    scope = "manage_token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
