"""The sign-up and manage-token throttles on Redis: DRF's rule, decided in one atomic step."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.test import RequestFactory

from registrations.throttles import SignupIpThrottle

pytestmark = pytest.mark.skipif(
    not isinstance(caches["default"], RedisCache), reason="needs REDIS_URL: the atomic path is the Redis one"
)


@pytest.fixture
def signup_ip_rate(settings):
    def set_rate(rate: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                "signup_ip": rate,
            },
        }

    return set_rate


def _request(ip: str = "198.51.100.20"):
    request = RequestFactory().post("/api/v1/events/x/registrations/", REMOTE_ADDR=ip)
    request.user = AnonymousUser()  # what the view's authentication leaves on a public sign-up
    return request


def test_concurrent_requests_never_take_more_places_than_the_rate_has(signup_ip_rate):
    signup_ip_rate("10/min")
    threads, start = 40, threading.Barrier(40)
    allowed: list[bool] = []

    def one_request():
        throttle = SignupIpThrottle()
        start.wait()
        allowed.append(throttle.allow_request(_request(), view=None))

    workers = [threading.Thread(target=one_request) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)

    # DRF's read-then-write history lets several of 40 simultaneous requests take one place.
    assert len(allowed) == threads
    assert allowed.count(True) == 10


def test_the_window_slides_and_the_wait_ends_one_window_after_the_oldest_request(signup_ip_rate, monkeypatch):
    signup_ip_rate("2/min")
    clock = {"now": 1_000_000.0}

    def throttle_at(now: float) -> SignupIpThrottle:
        clock["now"] = now
        throttle = SignupIpThrottle()
        monkeypatch.setattr(throttle, "timer", lambda: clock["now"])
        return throttle

    assert throttle_at(1_000_000.0).allow_request(_request(), None)
    assert throttle_at(1_000_020.0).allow_request(_request(), None)
    refused = throttle_at(1_000_030.0)
    assert not refused.allow_request(_request(), None)
    assert refused.wait() == pytest.approx(30.0)  # the first request leaves the window at +60 s
    # A refused request takes no place: just after the first one leaves, one place is free.
    assert throttle_at(1_000_060.5).allow_request(_request(), None)
    assert not throttle_at(1_000_061.0).allow_request(_request(), None)
    # Another address has its own places.
    assert throttle_at(1_000_061.0).allow_request(_request("203.0.113.9"), None)


def test_with_djangos_own_redis_cache_a_new_client_per_call_runs_the_same_script(signup_ip_rate, settings):
    # Django's RedisCache builds a redis-py client for every call (config.cache keeps one).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.CACHES["default"]["LOCATION"],
            "KEY_PREFIX": "test-throttle-stock",
        }
    }
    signup_ip_rate("2/min")
    caches["default"].clear()

    allowed = [SignupIpThrottle().allow_request(_request("192.0.2.44"), None) for _ in range(3)]

    assert allowed == [True, True, False]
    key = caches["default"].make_and_validate_key("throttle_signup_ip_192.0.2.44")
    assert caches["default"]._cache.get_client().zcard(key) == 2  # the script's sorted set


def _sign_up_rates(settings, **rates) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def _post(client, event, email: str):
    from tests.registrations.conftest import signup_payload

    return client.post(
        f"/api/v1/events/{event.slug}/registrations/",
        data=signup_payload(email=email),
        content_type="application/json",
        REMOTE_ADDR="198.51.100.77",
    )


@pytest.mark.django_db
def test_a_sign_up_decides_both_throttles_in_one_round_trip(client, settings):
    from tests.factories import EventFactory

    _sign_up_rates(settings, signup_ip="50/min", signup_email="5/min")
    event = EventFactory()
    redis = caches["default"]._cache.get_client()

    def script_calls() -> int:
        stats = redis.info("commandstats")
        return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "eval"))

    before = script_calls()
    assert _post(client, event, "amina@example.org").status_code == 201
    assert script_calls() - before == 1
    ip_key = caches["default"].make_and_validate_key("throttle_signup_ip_198.51.100.77")
    assert redis.zcard(ip_key) == 1


@pytest.mark.django_db
def test_a_sign_up_refused_per_address_takes_no_place_per_ip(client, settings):
    from tests.factories import EventFactory

    _sign_up_rates(settings, signup_ip="3/min", signup_email="1/min")
    event = EventFactory()

    first = _post(client, event, "amina@example.org")
    refused = _post(client, event, "AMINA@example.org")  # the address's one place is taken
    others = [_post(client, event, f"p{n}@example.org").status_code for n in range(3)]

    assert (first.status_code, refused.status_code) == (201, 429)
    assert 1 <= int(refused["Retry-After"]) <= 60
    # DRF asks each throttle in turn, and the per-IP one would have counted the refused
    # request: 201, 429 there. Here the IP's 3 places went to 3 sign-ups.
    assert others == [201, 201, 429]


def test_a_rate_of_zero_refuses_with_a_wait_of_one_window(signup_ip_rate):
    signup_ip_rate("0/min")
    throttle = SignupIpThrottle()
    assert not throttle.allow_request(_request("192.0.2.90"), None)
    assert throttle.wait() == pytest.approx(60.0)
