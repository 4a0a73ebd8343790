"""One ASGI middleware around the whole app: the request id (X-Request-Id accepted or made,
echoed on the response, stamped on every log line), the access log line, the metrics, the
request-body timeout, and the last-resort 500 (logged with the request id, answered in the
API's error envelope instead of a bare text page).

Pure ASGI rather than BaseHTTPMiddleware: bodies stream through untouched in both directions.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.observability.context import accept_or_new, request_id
from hub.observability.logging import safe_query
from hub.observability.metrics import UPLOAD_ROUTES, method_label, metrics, route_template

access_log = logging.getLogger("hub.access")
error_log = logging.getLogger("hub.error")
HEADER = b"x-request-id"
# Probes and scrapes come every few seconds: counted, but no access log lines.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


class BodyTimeout(Exception):
    """The client stopped sending its request body, or sends it too slowly to finish."""


class BodyClock:
    """Times the waits for request-body chunks. Only time spent waiting on the client counts
    (not time the server spends writing to storage between reads). Refuses a body when one wait
    exceeds ``idle`` seconds (a stalled client), or once the waits add up to more than ``idle``
    seconds while averaging under ``min_rate`` bytes a second (a trickling one, which would
    otherwise hold a worker thread for as long as it likes)."""

    def __init__(self, idle: float, min_rate: float) -> None:
        self.idle = idle
        self.min_rate = min_rate
        self.waited = 0.0
        self.received = 0

    async def wait(self, receive: Receive) -> Message:
        started = time.monotonic()
        try:
            with anyio.fail_after(self.idle):
                message = await receive()
        except TimeoutError:
            raise BodyTimeout(
                f"no request body data for {self.idle:g} s after {self.received} bytes"
            ) from None
        self.waited += time.monotonic() - started
        self.received += len(message.get("body", b""))
        if (
            message.get("more_body")
            and self.waited > self.idle
            and self.received < self.min_rate * self.waited
        ):
            raise BodyTimeout(
                f"the request body arrives at {self.received / self.waited:.0f} bytes/s "
                f"({self.received} bytes in {self.waited:.0f} s); at least "
                f"{self.min_rate:g} bytes/s is required"
            )
        return message


def _has_body(headers: dict[bytes, bytes]) -> bool:
    length = headers.get(b"content-length", b"").strip()
    if length:
        return length != b"0"
    return b"chunked" in headers.get(b"transfer-encoding", b"").lower()


def _error_body(status: int, code: str, message: str, rid: str) -> bytes:
    error = {"code": code, "message": message, "detail": {"request_id": rid}}
    return json.dumps({"errors": [error]}).encode()


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, body_timeout: float = 60.0, body_min_rate: float = 1024.0):
        self.app = app
        self.body_timeout = body_timeout
        self.body_min_rate = body_min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        rid = accept_or_new(headers.get(HEADER, b"").decode("latin-1") or None)
        # Set, not reset afterwards: uvicorn logs a crash after the app returns, in this same
        # context, so its line carries the id too.
        request_id.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        m = metrics()
        started = time.perf_counter()
        state: dict[str, Any] = {"status": None, "bytes_in": 0, "bytes_out": 0}
        clock = BodyClock(self.body_timeout, self.body_min_rate)
        body_pending = _has_body(headers)

        async def receive_timed() -> Message:
            nonlocal body_pending
            if not body_pending:
                # After the body (or with none), receive() only waits for a disconnect, which
                # may rightly take as long as a download does.
                return await receive()
            message = await clock.wait(receive)
            if message["type"] == "http.request":
                state["bytes_in"] += len(message.get("body", b""))
                body_pending = bool(message.get("more_body"))
            else:
                body_pending = False
            return message

        async def send_tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                message["headers"] = [
                    *(h for h in message.get("headers", []) if h[0].lower() != HEADER),
                    (HEADER, rid.encode()),
                ]
            elif message["type"] == "http.response.body":
                state["bytes_out"] += len(message.get("body", b""))
            await send(message)

        async def refuse(status: int, code: str, text: str, close: bool) -> None:
            body = _error_body(status, code, text, rid)
            extra = [(b"connection", b"close")] if close else []
            await send_tagged(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        *extra,
                    ],
                }
            )
            await send_tagged({"type": "http.response.body", "body": body})

        m.in_flight.inc()
        uploading = False
        try:
            # The route is known only after routing; uploads are told by their path here.
            uploading = route_template(scope) in UPLOAD_ROUTES and scope["method"] != "GET"
            if uploading:
                m.uploads_in_flight.inc()
            await self.app(scope, receive_timed, send_tagged)
        except BodyTimeout as exc:
            m.body_timeouts.inc()
            access_log.warning("request body timed out: %s", exc)
            if state["status"] is None:
                # 408 and close: the rest of the body will never be read on this connection.
                await refuse(408, "REQUEST_TIMEOUT", f"{exc}; send the request again", True)
        except Exception:
            error_log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if state["status"] is None:
                await refuse(
                    500,
                    "UNKNOWN",
                    f"internal server error; quote request id {rid} when reporting it",
                    False,
                )
        finally:
            m.in_flight.dec()
            if uploading:
                m.uploads_in_flight.dec()
            self._record(scope, state, time.perf_counter() - started)

    def _record(self, scope: Scope, state: dict[str, Any], seconds: float) -> None:
        route = route_template(scope)
        method = method_label(scope["method"])
        status = state["status"] or 500
        m = metrics()
        m.requests.labels(method, route, str(status)).inc()
        m.latency.labels(method, route).observe(seconds)
        m.bytes_in.labels(route).inc(state["bytes_in"])
        m.bytes_out.labels(route).inc(state["bytes_out"])
        if route in QUIET_ROUTES or not access_log.isEnabledFor(logging.INFO):
            return
        query = safe_query(scope.get("query_string", b"").decode("latin-1"))
        access_log.info(
            "%s %s%s %s %.1fms",
            scope["method"],
            scope["path"],
            f"?{query}" if query else "",
            status,
            seconds * 1000,
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "bytes_in": state["bytes_in"],
                "bytes_out": state["bytes_out"],
                "client": (scope.get("client") or ("-",))[0],
            },
        )
