"""uvicorn's httptools protocol with a bound on the header section (see hub.http_limits).
Imports httptools: only loaded when it is installed."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hub.http_limits import log, max_header_bytes, refusal

LINGER_SECONDS = 1.0


class HeadersTooLarge(Exception):
    """Raised from a parser callback; httptools turns it into a parse error, and uvicorn
    into send_400_response, which answers 431 instead when this was the reason."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limit = max_header_bytes()
        self._in_headers = True  # a connection starts with a request's header section
        self._sections = 0  # header sections completed on this connection
        self._pending = 0  # bytes of reads that went wholly into an open header section
        self._parsed = 0  # bytes of the request line and headers llhttp has reported
        self._refused = False
        self._refused_reason = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: the rest of an oversized request is read and dropped
        whole_read_in_headers = self._in_headers
        sections = self._sections
        super().data_received(data)
        if whole_read_in_headers and self._in_headers and self._sections == sections:
            # llhttp reports a header only once it is complete: count the raw bytes of a
            # section still open, so one endless header cannot grow without bound.
            self._pending += len(data)
            if self._pending > self._limit and not self.transport.is_closing():
                self._refuse()

    def on_message_begin(self) -> None:
        self._parsed = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._parsed += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._parsed += len(name) + len(value) + 4  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._sections += 1
        if self._parsed > self._limit or self._pending > self._limit:
            self._refused_reason = True
            raise HeadersTooLarge
        self._pending = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_headers = True  # whatever comes next is the next request's headers
        self._pending = 0

    def send_400_response(self, msg: str) -> None:
        if self._refused_reason:
            self._refuse()
        else:
            super().send_400_response(msg)

    def _refuse(self) -> None:
        self._refused = True
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "-"
        log.warning("refused a request from %s: headers over %d bytes", client, self._limit)
        self.transport.write(refusal(self._limit))
        # A lingering close (as nginx does): closing with unread input makes the kernel send
        # a reset, which can destroy the 431 before the client reads it. So end our side,
        # drop whatever else arrives, and close a moment later.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_SECONDS, self.transport.close)
