"""`python manage.py ping_worker`: send a task through the broker and wait for a worker's answer."""

from __future__ import annotations

import time
import uuid

from django.core.management.base import BaseCommand, CommandError

from worker.tasks import ping


class Command(BaseCommand):
    help = "Round-trip a task through the broker and a running worker."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=30.0)

    def handle(self, *args, **options):
        payload = uuid.uuid4().hex
        started = time.monotonic()
        try:
            result = ping.apply_async(args=[payload]).get(timeout=options["timeout"])
        except Exception as exc:
            raise CommandError(f"no worker answered within {options['timeout']}s: {type(exc).__name__}")
        if result.get("echo") != payload:
            raise CommandError(f"unexpected answer: {result!r}")
        elapsed = (time.monotonic() - started) * 1000
        self.stdout.write(f"worker pid {result['pid']} answered in {elapsed:.0f} ms")
