"""Limits uvicorn's default HTTP parser lacks. httptools (llhttp) accepts request headers of
any size: one connection can make a worker buffer megabytes of header before the app sees
anything. This protocol refuses a request whose header section exceeds HUB_MAX_HEADER_BYTES
(default 64 KiB; a registry's largest header is a bearer token of a few KiB) with 431 and
closes the connection, as nginx and Go's net/http do. uvicorn's h11 parser has its own limit
(h11_max_incomplete_event_size), set to the same value by `wasm-hub serve`.

How it counts: llhttp reports a header only once it is complete, so the bytes received while
a request's header section is still open are counted instead; the read that completes the
section is not counted (it may carry body bytes), so the bound is the limit plus one read.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

DEFAULT_MAX_HEADER_BYTES = 64 * 1024
log = logging.getLogger("hub.http")


def max_header_bytes() -> int:
    return int(os.environ.get("HUB_MAX_HEADER_BYTES") or DEFAULT_MAX_HEADER_BYTES)


def protocol_options() -> dict[str, Any]:
    """uvicorn.run() keyword arguments: the bounded httptools protocol when httptools is
    installed (uvicorn's "auto" choice), else h11 with the same limit."""
    limit = max_header_bytes()
    try:
        from hub.http_bounded import BoundedHttpToolsProtocol
    except ImportError:  # no httptools: uvicorn would pick h11 anyway
        return {"http": "h11", "h11_max_incomplete_event_size": limit}
    return {"http": BoundedHttpToolsProtocol, "h11_max_incomplete_event_size": limit}


def refusal(limit: int) -> bytes:
    body = json.dumps(
        {
            "errors": [
                {
                    "code": "HEADERS_TOO_LARGE",
                    "message": f"the request's headers exceed {limit} bytes; send smaller ones",
                }
            ]
        }
    ).encode()
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )
