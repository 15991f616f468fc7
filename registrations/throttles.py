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

# KEYS: one per throttle. ARGV: now (seconds), a member unique to this request, then per key its
# window (seconds) and limit. The request is let through, and recorded under every key, only if
# every key has a free place; else nothing is recorded and the reply lists, per refusing key,
# its position (1-based) and the time of its oldest request: the wait ends one window after it.
_SLIDING_WINDOWS_LUA = """
local now, member = tonumber(ARGV[1]), ARGV[2]
local refused = {}
for i, key in ipairs(KEYS) do
  local window, limit = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2] or ARGV[1]
    refused[#refused + 1] = i
    refused[#refused + 1] = oldest
  end
end
if #refused == 0 then
  for i, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, member)
    redis.call('EXPIRE', key, math.ceil(tonumber(ARGV[1 + 2 * i])))
  end
end
return refused
"""

_script = None  # the script (its SHA); each call names the client it runs on


def _redis_client(cache):
    """`cache`'s redis-py client; None when `cache` is not Redis."""
    # DRF's throttles hold django.core.cache.cache: a proxy, never itself a RedisCache.
    backend = caches[DEFAULT_CACHE_ALIAS] if cache is default_cache else cache
    if not isinstance(backend, RedisCache):
        return None
    return backend._cache.get_client(write=True)  # noqa: SLF001 (Django keeps its client there)


def refusals(throttles, request, view) -> list[float]:
    """How long each throttle that refuses `request` asks to wait; empty when it is let through.

    On Redis all of them are decided in one round trip, and a request refused by one takes no
    place in the others. Elsewhere each decides in turn with DRF's steps. A cache that does not
    answer lets the request through (logged)."""
    keyed = []
    for throttle in throttles:
        # Outside the guard below: a malformed body seen by get_cache_key must still answer 400.
        if throttle.rate is not None:
            throttle.key = throttle.get_cache_key(request, view)
            if throttle.key is not None:
                keyed.append(throttle)
    if not keyed:
        return []
    try:
        client = _redis_client(keyed[0].cache)
        if client is not None and all(throttle.cache is keyed[0].cache for throttle in keyed):
            return _refusals_on_redis(client, keyed)
        return [throttle.wait() for throttle in keyed if not throttle.allow_in_cache()]
    except Exception as exc:  # redis-py / cache backends raise many types
        logger.warning("throttle cache unavailable, not throttling", extra={"error": type(exc).__name__})
        return []


def _refusals_on_redis(client, throttles) -> list[float]:
    global _script
    if _script is None:  # two threads may both register it: the same script either way
        _script = client.register_script(_SLIDING_WINDOWS_LUA)
    now = throttles[0].timer()
    args = [repr(now), f"{now!r}:{secrets.token_hex(4)}"]
    for throttle in throttles:
        args += [throttle.duration, throttle.num_requests]
    reply = _script(
        client=client,
        keys=[throttle.cache.make_and_validate_key(throttle.key) for throttle in throttles],
        args=args,
    )
    waits = []
    for index, oldest in zip(reply[::2], reply[1::2], strict=True):
        throttle = throttles[int(index) - 1]
        throttle._wait = max(float(oldest) + throttle.duration - now, 0.0)
        waits.append(throttle._wait)
    return waits


class _FailOpenThrottle(SimpleRateThrottle):
    _wait: float | None = None

    def get_rate(self):
        # Read at request time (the base class reads the rates once, at import): tests and
        # deployments that change REST_FRAMEWORK rates see the change.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        return not refusals([self], request, view)

    def allow_in_cache(self) -> bool:
        """SimpleRateThrottle.allow_request's steps, for `self.key`, on a cache that is not Redis."""
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return self.throttle_failure()
        return self.throttle_success()

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
