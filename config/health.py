"""Operational endpoints: /healthz (database, broker, cache) and /healthz/live (static 204)."""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger("convene.health")


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_broker() -> None:
    from worker import app

    with app.connection_for_write() as conn:
        # Bounded: the Redis transport options carry socket timeouts; no retry loop here.
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        conn.default_channel  # noqa: B018  (opens the channel: a real round trip to the broker)


def _check_cache() -> None:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was stored")
    cache.delete(key)


CHECKS = {"database": _check_database, "broker": _check_broker, "cache": _check_cache}


def healthz(request):
    report: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
            report[name] = "ok"
        except Exception as exc:  # any failure means "down", whatever the driver raises
            logger.warning("health check failed", extra={"component": name, "error": type(exc).__name__})
            report[name] = "down"
    down = [name for name, state in report.items() if state != "ok"]
    if down:
        body = {
            "type": "https://convene.dev/problems/unhealthy",
            "title": "Service unhealthy",
            "status": 503,
            "detail": "Not answering: " + ", ".join(down),
            "code": "unhealthy",
            **report,
        }
        return JsonResponse(body, status=503, content_type="application/problem+json")
    return JsonResponse(report)


def live(request):
    """The cheapest endpoint: the whole middleware stack, no I/O. The benchmarks' floor."""
    return HttpResponse(status=204)
