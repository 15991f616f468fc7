"""Throttles of the public registration endpoints, on the default cache (Redis in production).

Rates come from settings (scopes `signup_ip`, `signup_email`, `manage_token`). A cache that
does not answer must not take sign-ups down with it: the throttle then lets the request
through and logs it (the database constraints still hold).

The rule is DRF's SimpleRateThrottle's: at most N requests let through in any window of the
rate's duration. On Redis it is decided and recorded in one step, by a script over a sorted
set of the requests let through: one round trip, and two concurrent requests cannot both take
the last place (DRF reads the history and writes it back in two calls, so they can). Other
caches (the embedded stack's file cache) use DRF's own steps.
"""

from __future__ import annotations

import hashlib
import logging
import secrets

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache import cache as default_cache
from django.core.cache.backends.redis import RedisCache
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger("convene.throttles")

# KEYS[1]: the throttle's key. ARGV: now (seconds), the window (seconds), the limit, a member
# unique to this request. Returns nil when the request is let through (and recorded), else the
# time of the oldest request in the window: the wait ends one window after it.
_SLIDING_WINDOW_LUA = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(window))
  return false
end
return redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
"""

_script = None  # the script (its SHA); each call names the client it runs on


def _redis_client(cache):
    """`cache`'s redis-py client; None when `cache` is not Redis."""
    # DRF's throttles hold django.core.cache.cache: a proxy, never itself a RedisCache.
    backend = caches[DEFAULT_CACHE_ALIAS] if cache is default_cache else cache
    if not isinstance(backend, RedisCache):
        return None
    return backend._cache.get_client(write=True)  # noqa: SLF001 (Django keeps its client there)


class _FailOpenThrottle(SimpleRateThrottle):
    _wait: float | None = None

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
            client = _redis_client(self.cache)
            if client is not None:
                return self._allow_on_redis(client)
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

    def _allow_on_redis(self, client) -> bool:
        global _script
        if _script is None:  # two threads may both register it: the same script either way
            _script = client.register_script(_SLIDING_WINDOW_LUA)
        now = self.timer()
        oldest = _script(
            client=client,
            keys=[self.cache.make_and_validate_key(self.key)],
            args=[repr(now), self.duration, self.num_requests, f"{now!r}:{secrets.token_hex(4)}"],
        )
        if oldest is None:
            return True
        self._wait = max(float(oldest) + self.duration - now, 0.0)
        return False

    def wait(self):
        if self._wait is not None:
            return self._wait
        return super().wait()

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
