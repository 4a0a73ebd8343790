"""env.proxy_* for logging, time, the tick and properties (part of `ProxyEnv`)."""

from __future__ import annotations

import time

from hub.wasm.host.abi import LOG_LEVELS, Status
from hub.wasm.host.abi import unsigned as _u
from hub.wasm.host.memory import Guest
from hub.wasm.host.state import HostState


def _property_path(g: Guest, path: int, size: int) -> str:
    # Paths are segments joined by NUL ("request\0path"); Envoy's names use dots.
    raw = g.read(_u(path), _u(size))
    return raw.rstrip(b"\0").replace(b"\0", b".").decode("utf-8", "replace")


class PropertyCalls:
    state: HostState

    def proxy_log(self, g: Guest, level: int, ptr: int, size: int) -> int:
        if not 0 <= level < len(LOG_LEVELS):
            return Status.BAD_ARGUMENT
        self.state.log(level, g.text(_u(ptr), _u(size)))
        return Status.OK

    def proxy_get_log_level(self, g: Guest, ptr: int) -> int:
        g.u32(_u(ptr), 0)  # the playground keeps everything, down to trace
        return Status.OK

    def proxy_get_current_time_nanoseconds(self, g: Guest, ptr: int) -> int:
        g.u64(_u(ptr), time.time_ns())
        return Status.OK

    def proxy_set_tick_period_milliseconds(self, g: Guest, period: int) -> int:
        self.state.tick_period_ms = _u(period)
        self.state.record("set_tick_period_milliseconds", period_ms=_u(period))
        return Status.OK

    def proxy_get_property(
        self, g: Guest, path: int, size: int, ptr_ptr: int, size_ptr: int
    ) -> int:
        value = self.state.properties.get(_property_path(g, path, size))
        if value is None:
            return Status.NOT_FOUND
        g.give(value, _u(ptr_ptr), _u(size_ptr))
        return Status.OK

    def proxy_set_property(self, g: Guest, path: int, size: int, value: int, vsize: int) -> int:
        key = _property_path(g, path, size)
        data = g.read(_u(value), _u(vsize))
        if len(data) > self.state.limits.max_header_bytes:
            return Status.BAD_ARGUMENT
        self.state.properties[key] = data
        self.state.record("set_property", path=key, value=data.decode("utf-8", "replace"))
        return Status.OK
