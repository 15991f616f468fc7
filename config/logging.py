"""JSON log lines with the request id; anything that looks like a secret token is masked."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Manage tokens (43 url-safe base64 chars), API tokens (40 hex) and badge codes are all long runs
# of token characters; no legitimate log field is. Masking them keeps secrets out of any log line.
SECRET_LIKE = re.compile(r"[A-Za-z0-9_\-]{32,}")


def mask_secrets(text: str) -> str:
    return SECRET_LIKE.sub("[redacted]", text)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


_STANDARD_ATTRS = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "request_id"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "msg": mask_secrets(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                # Objects (Django's `request` on django.request records) become their text,
                # which may hold a path with a token: mask that too.
                plain = value is None or isinstance(value, bool | int | float)
                entry[key] = value if plain else mask_secrets(str(value))
        if record.exc_info:
            entry["exc"] = mask_secrets(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)
