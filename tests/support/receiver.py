"""A webhook receiver on 127.0.0.1: records every POST (path, headers, raw body, time) and
can answer 500 to the first N requests on a path, to exercise the hub's retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float
    status: int  # what the receiver answered

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def signed_with(self, secret: str) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers.get("x-hub-signature-256", ""), expected)


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.fail: dict[str, int] = defaultdict(int)  # path -> 500s still to answer
        self.fail_always: set[str] = set()
        self.fail_first_attempt: set[str] = set()  # 500 when X-Hub-Delivery-Attempt is 1
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    first = self.headers.get("x-hub-delivery-attempt") == "1"
                    failing = (
                        self.path in receiver.fail_always
                        or receiver.fail[self.path] > 0
                        or (first and self.path in receiver.fail_first_attempt)
                    )
                    if receiver.fail[self.path] > 0:
                        receiver.fail[self.path] -= 1
                    status = 500 if failing else 204
                    receiver.received.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                            status,
                        )
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def on(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def wait(self, path: str, count: int, timeout: float = 15.0) -> list[Received]:
        """At least ``count`` requests on ``path``; fails with what did arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.on(path)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{path}: wanted {count} requests, got {self.on(path)}")
