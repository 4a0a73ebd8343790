"""Everything one run of a filter can see and change: the HTTP maps and buffers of the one
stream, the plugin and VM configuration, properties, metrics, shared data and queues, and the
record of what the filter did (logs, attempted calls, a local response). Host functions
(functions.py, wasi.py) read and write it; lifecycle.py decides which maps exist when, the way
Envoy does (a map that is not available in a phase answers NOT_FOUND)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from hub.wasm.host.abi import LOG_LEVELS, BufferType, MapType, MetricType, Pairs
from hub.wasm.host.limits import Limits

ROOT_CONTEXT = 1
STREAM_CONTEXT = 2


@dataclass
class Metric:
    name: str
    type: MetricType
    value: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type.name.lower(), "value": self.value}


@dataclass
class CannedResponse:
    """A response the caller of the playground supplies for the filter's proxy_http_call."""

    upstream: str | None  # the cluster it answers for; None answers any
    status: int
    headers: Pairs
    body: bytes
    trailers: Pairs


@dataclass
class LocalResponse:
    status: int
    details: str
    body: bytes
    headers: Pairs
    grpc_status: int
    sent_in: str


@dataclass
class HostState:
    limits: Limits
    plugin_config: bytes = b""
    vm_config: bytes = b""
    root_id: str = ""
    properties: dict[str, bytes] = field(default_factory=dict)
    canned: list[CannedResponse] = field(default_factory=list)
    # Maps and buffers present now; None or missing = not available in this phase.
    maps: dict[MapType, Pairs | None] = field(default_factory=dict)
    buffers: dict[BufferType, bytearray | None] = field(default_factory=dict)
    callback: str = "(instantiation)"
    contexts: set[int] = field(default_factory=set)
    effective_context: int = 0
    logs: list[dict[str, Any]] = field(default_factory=list)
    log_bytes: int = 0
    logs_dropped: int = 0
    metrics: dict[int, Metric] = field(default_factory=dict)
    shared_data: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    queues: dict[int, deque[bytes]] = field(default_factory=dict)
    queue_names: dict[str, int] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    calls_dropped: int = 0
    local_response: LocalResponse | None = None
    continued: set[int] = field(default_factory=set)
    closed: set[int] = field(default_factory=set)
    pending_http: list[tuple[int, CannedResponse | None]] = field(default_factory=list)
    next_token: int = 1
    tick_period_ms: int = 0
    done_called: bool = False
    status: tuple[int, bytes] = (0, b"")
    started_ns: int = field(default_factory=time.time_ns)

    # -- what the filter leaves behind ---------------------------------------------------

    def log(self, level: int, message: str, source: str = "proxy_log") -> None:
        size = len(message.encode())
        if (
            len(self.logs) >= self.limits.max_log_entries
            or self.log_bytes + size > self.limits.max_log_bytes
        ):
            self.logs_dropped += 1
            return
        self.log_bytes += size
        name = LOG_LEVELS[level] if 0 <= level < len(LOG_LEVELS) else str(level)
        self.logs.append(
            {"level": name, "message": message, "callback": self.callback, "source": source}
        )

    def record(self, kind: str, **details: Any) -> None:
        if len(self.calls) >= self.limits.max_calls:
            self.calls_dropped += 1
            return
        self.calls.append({"kind": kind, "callback": self.callback, **details})

    # -- maps and buffers ------------------------------------------------------------------

    def map(self, kind: int) -> Pairs | None:
        try:
            return self.maps.get(MapType(kind))
        except ValueError:
            return None

    def buffer(self, kind: int) -> bytearray | None:
        try:
            return self.buffers.get(BufferType(kind))
        except ValueError:
            return None

    def body_fits(self, size: int) -> bool:
        return size <= self.limits.max_body_bytes

    def map_fits(self, pairs: Pairs, extra: Pairs) -> bool:
        """Would the map stay within the header limits with `extra` added?"""
        entries = len(pairs) + len(extra)
        size = sum(len(k) + len(v) + 10 for k, v in (*pairs, *extra))
        return entries <= self.limits.max_headers and size <= self.limits.max_header_bytes

    def shared_bytes(self) -> int:
        held = sum(len(v) for v, _ in self.shared_data.values())
        return held + sum(len(item) for queue in self.queues.values() for item in queue)

    # -- http calls --------------------------------------------------------------------------

    def answer_for(self, upstream: str) -> CannedResponse | None:
        """The first unused canned response for this upstream (or for any), consumed."""
        for i, canned in enumerate(self.canned):
            if canned.upstream in (None, upstream):
                return self.canned.pop(i)
        return None
