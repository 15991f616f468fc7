"""The rendered public agenda and feeds, cached per event "generation".

Each event has a generation token in the shared cache; every rendered variant (agenda JSON per
zone and language, each .ics feed) is stored under a key that includes it. Publishing or editing
the event replaces the token, which retires every variant at once without listing them. A cache
that is down only costs a render from the database: it never fails a request.

In front of the shared cache, each process keeps the renderings it served and the generation it
last read, for at most `AGENDA_LOCAL_CACHE_SECONDS` (default 1 s): under a registration rush the
agenda then costs no network round trip at all, and another process's publish is seen within
that second (the HTTP responses allow clients 60 s anyway). This process's own publishes are
seen at once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger("convene.agenda")

TTL_SECONDS = 24 * 3600
# A lost generation only costs a re-render (a new random one retires nothing valid), so it may
# expire too: slugs of deleted events leave nothing behind for ever.
GENERATION_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Rendered:
    body: bytes
    content_type: str
    etag: str
    last_modified: datetime


def _generation_key(slug: str) -> str:
    return f"agenda:gen:{slug}"


class _Local:
    """Per-process memo: generations with an expiry, renderings by full key (bounded LRU)."""

    max_entries = 512

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generations: dict[str, tuple[str, float]] = {}
        self.rendered: OrderedDict[str, Rendered] = OrderedDict()

    def generation(self, slug: str) -> str | None:
        entry = self.generations.get(slug)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def remember_generation(self, slug: str, value: str) -> None:
        ttl = float(getattr(settings, "AGENDA_LOCAL_CACHE_SECONDS", 1.0))
        if ttl > 0:
            self.generations[slug] = (value, time.monotonic() + ttl)

    def get(self, key: str) -> Rendered | None:
        with self.lock:
            hit = self.rendered.get(key)
            if hit is not None:
                self.rendered.move_to_end(key)
            return hit

    def put(self, key: str, rendered: Rendered) -> None:
        if float(getattr(settings, "AGENDA_LOCAL_CACHE_SECONDS", 1.0)) <= 0:
            return
        with self.lock:
            self.rendered[key] = rendered
            self.rendered.move_to_end(key)
            while len(self.rendered) > self.max_entries:
                self.rendered.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.generations.clear()
            self.rendered.clear()


_local = _Local()


def clear_local() -> None:
    _local.clear()


def _generation(slug: str) -> str:
    value = _local.generation(slug)
    if value is not None:
        return value
    key = _generation_key(slug)
    value = cache.get(key)
    if value is None:
        cache.add(key, uuid.uuid4().hex, GENERATION_TTL_SECONDS)
        value = cache.get(key)
    _local.remember_generation(slug, value)
    return value


def invalidate(slug: str) -> None:
    _local.generations.pop(slug, None)
    try:
        cache.set(_generation_key(slug), uuid.uuid4().hex, GENERATION_TTL_SECONDS)
    except Exception as exc:  # redis raises several types; any of them means "cache not reachable"
        # The variants then live until their TTL at most; log loudly, this is visible staleness.
        logger.error("agenda cache invalidation failed", extra={"slug": slug, "error": type(exc).__name__})


def etag_for(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def peek(slug: str, variant: str) -> Rendered | None:
    """The cached rendering, or None (not cached, or the cache is unreachable). Never renders."""
    try:
        key = f"agenda:{slug}:{_generation(slug)}:{variant}"
        hit = _local.get(key)
        if hit is None:
            hit = cache.get(key)
            if hit is not None:
                _local.put(key, hit)
        return hit
    except Exception:
        return None


def get_or_render(slug: str, variant: str, render: Callable[[], Rendered | None]) -> Rendered | None:
    """The cached rendering of `variant` of event `slug`, or render() it (None: nothing to show,
    not cached)."""
    try:
        key = f"agenda:{slug}:{_generation(slug)}:{variant}"
        hit = _local.get(key)
        if hit is not None:
            return hit
        hit = cache.get(key)
    except Exception as exc:
        logger.warning("agenda cache unavailable", extra={"slug": slug, "error": type(exc).__name__})
        return render()
    if hit is not None:
        _local.put(key, hit)
        return hit
    rendered = render()
    if rendered is not None:
        _local.put(key, rendered)
        try:
            cache.set(key, rendered, TTL_SECONDS)
        except Exception as exc:
            logger.warning("agenda cache unavailable", extra={"slug": slug, "error": type(exc).__name__})
    return rendered
