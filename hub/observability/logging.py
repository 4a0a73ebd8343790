"""Log configuration for `wasm-hub serve`: HUB_LOG_FORMAT=text (default) or json, one object
a line, each with the request id of the request it was emitted for. Handed to uvicorn as its
``log_config``, so every worker process (uvicorn re-applies it after spawning) logs the same way.

Secrets never reach a log line: the access log records the path with the query values of
credential-like parameters masked, never headers, and a last filter masks Authorization-style
credentials and hub API tokens in any message (a library's error text included).
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

from hub.observability.context import request_id

LOG_FORMATS = ("text", "json")

# `Basic <b64>`, `Bearer <jwt>`, hub API tokens (hub.auth.api_tokens: whub_<prefix>_<secret>),
# and key=value pairs whose key names a credential.
_SECRETS = [
    (re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 [REDACTED]"),
    (re.compile(r"whub_[A-Za-z0-9]+_[A-Za-z0-9_-]+"), "whub_[REDACTED]"),
    (
        re.compile(
            r"(?i)\b(password|passwd|secret|token|access_token|refresh_token|client_secret|"
            r"authorization)(\"?\s*[=:]\s*\"?)([^\s\"&,;]+)"
        ),
        r"\1\2[REDACTED]",
    ),
]
SECRET_PARAMS = frozenset(
    {"password", "token", "access_token", "refresh_token", "client_secret", "code", "secret"}
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def safe_query(query: str) -> str:
    """A query string fit for a log: values of credential parameters masked."""
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [(k, "[REDACTED]" if k.lower() in SECRET_PARAMS else v) for k, v in pairs], safe="/:,*"
    )


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id ("-" outside a request) and masks
    secrets in the message and any traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get() or "-"
        return redact(super().format(record))


# Attributes every LogRecord has; anything else was passed with `extra=` and goes into the
# JSON object as a field of its own.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",  # uvicorn's coloured copy of the message
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": request_id.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def dict_config(log_format: str, level: str, access_log: bool = False) -> dict[str, Any]:
    """A logging.config.dictConfig for the server. uvicorn's access log is replaced by the
    hub's own (logger "hub.access", hub.observability.middleware), which carries the route,
    request id, sizes and duration; like uvicorn's it is off unless `--access-log` (its
    warnings, e.g. a body that timed out, still show)."""
    formatter = "json" if log_format == "json" else "text"
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": {"()": JsonFormatter}, "text": {"()": TextFormatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": formatter,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
            "hub.access": {"level": "INFO" if access_log else "WARNING"},
            # Alembic narrates every start-up's migration check at INFO.
            "alembic": {"level": "WARNING"},
        },
    }
