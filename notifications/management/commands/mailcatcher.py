"""`python manage.py mailcatcher`: the embedded SMTP catcher of `make run`."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from notifications.mailcatcher import start_catcher


class Command(BaseCommand):
    help = "Run a local SMTP server that stores every message as an .eml file."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=1025)
        parser.add_argument("--folder", default=str(settings.MAIL_CATCHER_DIR))

    def handle(self, *args, **options):
        controller = start_catcher(folder=options["folder"], host=options["host"], port=options["port"])
        self.stdout.write(
            f"SMTP catcher on {options['host']}:{options['port']}, saving to {options['folder']}"
        )
        self.stdout.flush()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        controller.stop()
