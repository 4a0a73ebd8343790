"""The id of the request being served, visible to every log record emitted while serving it
(handler threads too: anyio.to_thread copies the context into the worker thread)."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("hub_request_id", default=None)

# A caller's X-Request-Id is kept when it is a plain token a log search can use; anything else
# (control characters, JSON breakers, kilobytes of text) is replaced, so a client cannot forge
# or corrupt log lines through it.
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


def accept_or_new(raw: str | None) -> str:
    if raw is not None and _ACCEPTABLE.match(raw):
        return raw
    return uuid.uuid4().hex
