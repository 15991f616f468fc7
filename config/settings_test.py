"""Test overlay: the same settings, with safe defaults for a test run and a test database
that subprocesses (Celery workers, web servers started by integration tests) can open too."""

import os
import tempfile

os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("CONVENE_VAR_DIR", os.path.join(tempfile.gettempdir(), f"convene-test-{os.getuid()}"))

from config.settings import *  # noqa: E402, F403
from config.settings import DATABASES, STATIC_ROOT, VAR_DIR  # noqa: E402

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing folder

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so a worker subprocess sees what the test wrote.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

# Each row handed over in its own request, so a test sees its task published when the request
# returns; tests/notifications/test_dispatch_batcher.py turns the window on.
NOTIFICATIONS_DISPATCH_WINDOW_MS = float(os.environ.get("NOTIFICATIONS_DISPATCH_WINDOW_MS", "0"))
