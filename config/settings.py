"""Convene settings: one module, configured by environment variables (see .env.example)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG")
# Runtime state of the embedded stack (SQLite file, filesystem broker, caught mail).
VAR_DIR = Path(os.environ.get("CONVENE_VAR_DIR", BASE_DIR / "var")).resolve()

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("DJANGO_SECRET_KEY must be set unless DJANGO_DEBUG is on")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Host part of calendar UIDs ("session-<uuid>@<host>"): stable as long as PUBLIC_BASE_URL is.
PUBLIC_HOST = urlsplit(PUBLIC_BASE_URL).hostname or "localhost"
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", PUBLIC_BASE_URL)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "sessions.apps.AgendaConfig",
    "registrations",
    "notifications",
    "worker",
]

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "convene.sqlite3",
            # Several processes (web, worker, beat) share the file: wait for locks instead of failing.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
# The hot paths' hand-written statements are prepared per connection (config/postgresql).
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with a cheaper health check and prepared hot statements (see the module).
    DATABASES["default"]["ENGINE"] = "config.postgresql"
    options = DATABASES["default"].setdefault("OPTIONS", {})
    # A dead server must not hang a request: fail fast, answer 503.
    options["connect_timeout"] = int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5"))
    # psycopg prepares nothing when this is None (Django's default). Django's own cursors bind
    # on the client and never prepare; only config.postgresql's prepared_cursor() does.
    options["prepare_threshold"] = 5 if DATABASE_PREPARED_STATEMENTS else None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker and cache ----------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# Every Redis socket is bounded: a hung Redis delays a request by at most this, never forever.
REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT", "1.0"))

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "convene"),
            "OPTIONS": {
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    # kombu's Redis transport, reusing its redis-py client (see worker/transport.py).
    CELERY_BROKER_TRANSPORT = "worker.transport:Transport"
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_timeout": REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        # Longer than the longest task, so a slow task is not redelivered while still running.
        "visibility_timeout": 3600,
        # A publish makes one connection attempt (kombu's default retries for ~2 s more on a
        # refused connection): a failed dispatch is left to the outbox sweep. The worker's own
        # reconnect loop passes its retry count explicitly and is unaffected.
        "max_retries": 0,
    }
    # The result backend's sockets too (celery's defaults: 120 s read, no connect timeout).
    CELERY_REDIS_SOCKET_TIMEOUT = REDIS_SOCKET_TIMEOUT
    CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = REDIS_SOCKET_TIMEOUT
    CELERY_WORKER_REMOTE_CONTROL = True
else:
    BROKER_DIR = VAR_DIR / "broker"
    for sub in ("queue", "processed", "results"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CACHES = {
        "default": {
            # Shared by the web, worker and beat processes of the embedded stack.
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    CELERY_BROKER_URL = "filesystem://"
    CELERY_RESULT_BACKEND = f"file://{BROKER_DIR / 'results'}"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Exchange bindings; kombu's default is ./control, in whatever directory a process runs.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    # The filesystem transport has no broadcast exchange for remote control.
    CELERY_WORKER_REMOTE_CONTROL = False

CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER")

# --- Email ----------------------------------------------------------------------------------
# Django's SMTP backend, able to render the next message while the server takes one.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "notifications.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "1025"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
# A worker keeps its SMTP session open between delivery tasks for this long (servers commonly
# drop idle sessions after 30-300 s; a NOOP checks the session before each reuse anyway).
SMTP_SESSION_IDLE_SECONDS = float(os.environ.get("SMTP_SESSION_IDLE_SECONDS", "20"))
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT", "10"))
# notifications.smtp: pipeline MAIL, RCPT and DATA where the server offers PIPELINING (RFC 2920);
# off for a relay that offers it and mishandles it.
EMAIL_PIPELINING = env_bool("EMAIL_PIPELINING", True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Convene <events@convene.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The ORGANIZER of calendar invites; replies are not expected (RSVP=FALSE).
CALENDAR_ORGANIZER_EMAIL = os.environ.get("CALENDAR_ORGANIZER_EMAIL", "events@convene.localhost")
CALENDAR_ORGANIZER_NAME = os.environ.get("CALENDAR_ORGANIZER_NAME", "Convene")
# Where the embedded SMTP catcher of `make run` keeps every message as an .eml file.
MAIL_CATCHER_DIR = Path(os.environ.get("MAIL_CATCHER_DIR", VAR_DIR / "mail"))

# --- Outbox delivery (notifications/services.py; tests shorten these through the env) --------
NOTIFICATIONS_CHUNK_SIZE = int(os.environ.get("NOTIFICATIONS_CHUNK_SIZE", "100"))
NOTIFICATIONS_MAX_ATTEMPTS = int(os.environ.get("NOTIFICATIONS_MAX_ATTEMPTS", "10"))
# Exponential backoff with jitter between attempts: base * 2^(attempt-1), capped.
NOTIFICATIONS_RETRY_BASE_SECONDS = float(os.environ.get("NOTIFICATIONS_RETRY_BASE_SECONDS", "30"))
NOTIFICATIONS_RETRY_MAX_SECONDS = float(os.environ.get("NOTIFICATIONS_RETRY_MAX_SECONDS", "3600"))
# The sweep (beat, every NOTIFICATIONS_SWEEP_INTERVAL s) re-dispatches pending rows due longer
# than the grace, and re-opens claims not renewed for the stale period (the worker died).
NOTIFICATIONS_SWEEP_INTERVAL = float(os.environ.get("NOTIFICATIONS_SWEEP_INTERVAL", "30"))
NOTIFICATIONS_PENDING_GRACE_SECONDS = float(os.environ.get("NOTIFICATIONS_PENDING_GRACE_SECONDS", "60"))
NOTIFICATIONS_CLAIM_STALE_SECONDS = float(os.environ.get("NOTIFICATIONS_CLAIM_STALE_SECONDS", "300"))
NOTIFICATIONS_REMINDER_INTERVAL = float(os.environ.get("NOTIFICATIONS_REMINDER_INTERVAL", "60"))
NOTIFICATIONS_REMINDER_HOURS_BEFORE = float(os.environ.get("NOTIFICATIONS_REMINDER_HOURS_BEFORE", "24"))
# Rows committed one by one (sign-ups) are handed to the broker by a background thread, those
# of this many milliseconds together (one task per chunk); 0 hands each over in its request.
NOTIFICATIONS_DISPATCH_WINDOW_MS = float(os.environ.get("NOTIFICATIONS_DISPATCH_WINDOW_MS", "50"))
# After a failed publish, this process skips the broker for this long (the sweep catches up),
# so a burst of sign-ups during an outage pays the socket timeout once, not once per request.
NOTIFICATIONS_BROKER_BACKOFF_SECONDS = float(os.environ.get("NOTIFICATIONS_BROKER_BACKOFF_SECONDS", "5"))

# --- Badge signing keys (Ed25519) -----------------------------------------------------------
# "kid:base64-private-key" for signing; older keys stay for verification after a rotation.
BADGE_SIGNING_KEY = os.environ.get("BADGE_SIGNING_KEY", "")
BADGE_VERIFY_KEYS = env_list("BADGE_VERIFY_KEYS")
BADGE_KEY_FILE = Path(os.environ.get("BADGE_KEY_FILE", VAR_DIR / "badge-signing-key"))
# Emails carry the PNG badge (the QR that opens the door) and link the printable A6 PDF, which
# the manage link's badge.pdf draws for whoever asks. On attaches the PDF to every email too:
# drawing it (fonts of six scripts, subset per badge) costs 30-100 ms of CPU per message, four
# times the rest of a confirmation, which a bulk send pays for every recipient.
BADGE_PDF_IN_EMAIL = env_bool("BADGE_PDF_IN_EMAIL", False)
# Without BADGE_SIGNING_KEY, development (DEBUG at start-up; test runs too, although pytest-django
# turns DEBUG off) generates a key once into BADGE_KEY_FILE. Production must set the key.
BADGE_KEY_AUTOGENERATE = DEBUG

# --- Auth, i18n, time -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("fr", "Français"),
    ("es", "Español"),
    ("ar", "العربية"),
    ("zh", "中文"),
    ("ru", "Русский"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [
    d for d in [BASE_DIR / "static", BASE_DIR / "node_modules" / "jsqr" / "dist"] if d.exists()
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- REST framework and schema --------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.problems.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_RATES": {
        "signup_ip": os.environ.get("THROTTLE_SIGNUP_IP", "60/min"),
        "signup_email": os.environ.get("THROTTLE_SIGNUP_EMAIL", "5/min"),
        "manage_token": os.environ.get("THROTTLE_MANAGE", "120/min"),
    },
    "NUM_PROXIES": int(os.environ["NUM_PROXIES"]) if os.environ.get("NUM_PROXIES") else None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Convene API",
    "DESCRIPTION": "Registration, agenda, calendar invites, QR badges and check-in for hybrid events.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "NotificationStatusEnum": "notifications.models.Notification.Status",
        "NotificationKindEnum": "notifications.models.Notification.Kind",
        # Named too, since other choice sets share the field names `status` and `kind`.
        "RegistrationStatusEnum": "registrations.models.Registration.Status",
        "SessionKindEnum": "sessions.models.Session.Kind",
    },
}

# --- Security (checked by `manage.py check --deploy` when DJANGO_DEBUG is off) --------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD")
    # Preloading is a hard-to-undo commitment of the whole domain, made by its owner on purpose
    # (DJANGO_SECURE_HSTS_PRELOAD=1); not making it is a choice, so `check --deploy` keeps quiet.
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# --- Logging: one JSON line per event on stdout, with the request id ------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "config.logging.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own request logger prints raw paths, which may hold manage tokens.
        "django.request": {"handlers": ["stdout"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
}
