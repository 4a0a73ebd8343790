"""The host functions a proxy-wasm 0.2.x filter imports from "env" (proxy-wasm/spec
abi-versions/v0.2.1; semantics follow proxy-wasm-cpp-host src/exports.cc, the host inside
Envoy and Istio). Each is a method of `ProxyEnv` taking the guest's memory and the raw
arguments; the table `PROXY_FUNCTIONS` gives its wasm signature ("i" = i32, "I" = i64).

Nothing here reaches the network: proxy_http_call is answered from the canned responses the
caller gave (or fails as Envoy fails for an unknown cluster), gRPC calls always fail."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from hub.wasm.host.abi import (
    LOG_LEVELS,
    MapType,
    MetricType,
    Pairs,
    PairsError,
    Status,
    StreamType,
    deserialize_pairs,
    serialize_pairs,
)
from hub.wasm.host.memory import Guest
from hub.wasm.host.state import HostState, LocalResponse, Metric

U32 = 0xFFFFFFFF
MUTABLE_MAPS = {
    MapType.REQUEST_HEADERS,
    MapType.REQUEST_TRAILERS,
    MapType.RESPONSE_HEADERS,
    MapType.RESPONSE_TRAILERS,
}
MUTABLE_BUFFERS = {0, 1}  # HTTP_REQUEST_BODY, HTTP_RESPONSE_BODY


def _u(value: int) -> int:
    """wasmtime hands i32 arguments over signed; pointers and sizes are unsigned."""
    return value & U32


class ProxyEnv:
    def __init__(self, state: HostState) -> None:
        self.state = state

    # -- logging, time, properties ---------------------------------------------------------

    def proxy_log(self, g: Guest, level: int, ptr: int, size: int) -> int:
        if not 0 <= level < len(LOG_LEVELS):
            return Status.BAD_ARGUMENT
        self.state.log(level, g.text(_u(ptr), _u(size)))
        return Status.OK

    def proxy_get_log_level(self, g: Guest, ptr: int) -> int:
        g.u32(_u(ptr), 0)  # the playground keeps everything, down to trace
        return Status.OK

    def proxy_get_current_time_nanoseconds(self, g: Guest, ptr: int) -> int:
        import time

        g.u64(_u(ptr), time.time_ns())
        return Status.OK

    def proxy_set_tick_period_milliseconds(self, g: Guest, period: int) -> int:
        self.state.tick_period_ms = _u(period)
        self.state.record("set_tick_period_milliseconds", period_ms=_u(period))
        return Status.OK

    def proxy_get_property(
        self, g: Guest, path: int, size: int, ptr_ptr: int, size_ptr: int
    ) -> int:
        # Paths are segments joined by NUL ("request\0path"); Envoy's names use dots.
        key = (
            g.read(_u(path), _u(size)).rstrip(b"\0").replace(b"\0", b".").decode("utf-8", "replace")
        )
        value = self.state.properties.get(key)
        if value is None:
            return Status.NOT_FOUND
        g.give(value, _u(ptr_ptr), _u(size_ptr))
        return Status.OK

    def proxy_set_property(self, g: Guest, path: int, size: int, value: int, vsize: int) -> int:
        key = (
            g.read(_u(path), _u(size)).rstrip(b"\0").replace(b"\0", b".").decode("utf-8", "replace")
        )
        data = g.read(_u(value), _u(vsize))
        if len(data) > self.state.limits.max_header_bytes:
            return Status.BAD_ARGUMENT
        self.state.properties[key] = data
        self.state.record("set_property", path=key, value=data.decode("utf-8", "replace"))
        return Status.OK

    # -- header maps -------------------------------------------------------------------------

    def _pairs(self, kind: int) -> Pairs | None:
        return self.state.map(kind)

    def proxy_get_header_map_value(
        self, g: Guest, kind: int, key: int, ksize: int, ptr_ptr: int, size_ptr: int
    ) -> int:
        if not 0 <= kind <= max(MapType):
            return Status.BAD_ARGUMENT
        pairs = self._pairs(kind)
        name = g.text(_u(key), _u(ksize)).lower()
        if pairs is None:
            return Status.NOT_FOUND
        for k, v in pairs:
            if k == name:
                g.give(v.encode(), _u(ptr_ptr), _u(size_ptr))
                return Status.OK
        return Status.NOT_FOUND

    def _mutable(self, kind: int) -> Pairs | int:
        if not 0 <= kind <= max(MapType):
            return Status.BAD_ARGUMENT
        pairs = self._pairs(kind)
        if pairs is None:
            return Status.NOT_FOUND
        if MapType(kind) not in MUTABLE_MAPS:
            return Status.BAD_ARGUMENT
        return pairs

    def _fits(self, pairs: Pairs, extra: Pairs) -> bool:
        if self.state.map_fits(pairs, extra):
            return True
        self.state.record(
            "header_map",
            refused=f"over {self.state.limits.max_headers} headers or "
            f"{self.state.limits.max_header_bytes} bytes",
        )
        return False

    def proxy_add_header_map_value(
        self, g: Guest, kind: int, key: int, ksize: int, value: int, vsize: int
    ) -> int:
        name, text = g.text(_u(key), _u(ksize)).lower(), g.text(_u(value), _u(vsize))
        pairs = self._mutable(kind)
        if isinstance(pairs, int):
            return pairs
        if not self._fits(pairs, [(name, text)]):
            return Status.BAD_ARGUMENT
        pairs.append((name, text))
        return Status.OK

    def proxy_replace_header_map_value(
        self, g: Guest, kind: int, key: int, ksize: int, value: int, vsize: int
    ) -> int:
        name, text = g.text(_u(key), _u(ksize)).lower(), g.text(_u(value), _u(vsize))
        pairs = self._mutable(kind)
        if isinstance(pairs, int):
            return pairs
        # Envoy's setCopy: the first entry keeps its place with the new value, others go.
        at = next((i for i, (k, _) in enumerate(pairs) if k == name), None)
        if not self._fits([(k, v) for k, v in pairs if k != name], [(name, text)]):
            return Status.BAD_ARGUMENT
        pairs[:] = [(k, v) for k, v in pairs if k != name]
        if at is None:
            pairs.append((name, text))
        else:
            pairs.insert(at, (name, text))
        return Status.OK

    def proxy_remove_header_map_value(self, g: Guest, kind: int, key: int, ksize: int) -> int:
        name = g.text(_u(key), _u(ksize)).lower()
        pairs = self._mutable(kind)
        if isinstance(pairs, int):
            return pairs
        pairs[:] = [(k, v) for k, v in pairs if k != name]
        return Status.OK

    def proxy_get_header_map_pairs(self, g: Guest, kind: int, ptr_ptr: int, size_ptr: int) -> int:
        if not 0 <= kind <= max(MapType):
            return Status.BAD_ARGUMENT
        pairs = self._pairs(kind)
        if pairs is None:
            return Status.NOT_FOUND
        g.give(serialize_pairs(pairs), _u(ptr_ptr), _u(size_ptr))
        return Status.OK

    def proxy_set_header_map_pairs(self, g: Guest, kind: int, ptr: int, size: int) -> int:
        data = g.read(_u(ptr), _u(size))
        pairs = self._mutable(kind)
        if isinstance(pairs, int):
            return pairs
        try:
            new = deserialize_pairs(data)
        except PairsError:
            return Status.BAD_ARGUMENT
        if not self._fits([], new):
            return Status.BAD_ARGUMENT
        pairs[:] = [(k.lower(), v) for k, v in new]
        return Status.OK

    def proxy_get_header_map_size(self, g: Guest, kind: int, ptr: int) -> int:
        if not 0 <= kind <= max(MapType):
            return Status.BAD_ARGUMENT
        pairs = self._pairs(kind)
        if pairs is None:
            return Status.NOT_FOUND
        g.u32(_u(ptr), len(serialize_pairs(pairs)))
        return Status.OK

    # -- buffers -------------------------------------------------------------------------------

    def proxy_get_buffer_bytes(
        self, g: Guest, kind: int, start: int, length: int, ptr_ptr: int, size_ptr: int
    ) -> int:
        if not 0 <= kind <= 8:
            return Status.BAD_ARGUMENT
        buffer = self.state.buffer(kind)
        if buffer is None:
            return Status.NOT_FOUND
        start, length = _u(start), _u(length)
        # cpp-host: never overread; an empty result writes a null pointer and size 0.
        if start > len(buffer):
            length = 0
        length = min(length, len(buffer) - start) if length else 0
        if length == 0:
            g.u32(_u(ptr_ptr), 0)
            g.u32(_u(size_ptr), 0)
            return Status.OK
        g.give(bytes(buffer[start : start + length]), _u(ptr_ptr), _u(size_ptr))
        return Status.OK

    def proxy_get_buffer_status(self, g: Guest, kind: int, length_ptr: int, flags_ptr: int) -> int:
        if not 0 <= kind <= 8:
            return Status.BAD_ARGUMENT
        buffer = self.state.buffer(kind)
        if buffer is None:
            return Status.NOT_FOUND
        g.u32(_u(length_ptr), len(buffer))
        g.u32(_u(flags_ptr), 0)
        return Status.OK

    def proxy_set_buffer_bytes(
        self, g: Guest, kind: int, start: int, length: int, ptr: int, size: int
    ) -> int:
        if not 0 <= kind <= 8:
            return Status.BAD_ARGUMENT
        data = g.read(_u(ptr), _u(size))
        buffer = self.state.buffer(kind)
        if buffer is None:
            return Status.NOT_FOUND
        if kind not in MUTABLE_BUFFERS:
            return Status.BAD_ARGUMENT
        start, length = min(_u(start), len(buffer)), _u(length)
        new_size = len(buffer) - min(length, len(buffer) - start) + len(data)
        if not self.state.body_fits(new_size):
            self.state.record(
                "set_buffer_bytes", refused=f"body over {self.state.limits.max_body_bytes} bytes"
            )
            return Status.BAD_ARGUMENT
        buffer[start : start + length] = data
        return Status.OK

    # -- the stream --------------------------------------------------------------------------

    def proxy_send_local_response(
        self,
        g: Guest,
        status: int,
        details: int,
        details_size: int,
        body: int,
        body_size: int,
        headers: int,
        headers_size: int,
        grpc_status: int,
    ) -> int:
        text = g.text(_u(details), _u(details_size))
        data = g.read(_u(body), _u(body_size))
        raw = g.read(_u(headers), _u(headers_size))
        try:
            pairs = deserialize_pairs(raw)
        except PairsError:
            return Status.BAD_ARGUMENT
        if not self.state.body_fits(len(data)):
            return Status.BAD_ARGUMENT
        self.state.record("send_local_response", status=_u(status), details=text)
        if self.state.local_response is None:
            self.state.local_response = LocalResponse(
                status=_u(status),
                details=text,
                body=data,
                headers=[(k.lower(), v) for k, v in pairs],
                grpc_status=grpc_status,
                sent_in=self.state.callback,
            )
        return Status.OK

    def proxy_continue_stream(self, g: Guest, stream: int) -> int:
        if not 0 <= stream <= max(StreamType):
            return Status.BAD_ARGUMENT
        self.state.continued.add(stream)
        self.state.record("continue_stream", stream=StreamType(stream).name.lower())
        return Status.OK

    def proxy_close_stream(self, g: Guest, stream: int) -> int:
        if not 0 <= stream <= max(StreamType):
            return Status.BAD_ARGUMENT
        self.state.closed.add(stream)
        self.state.record("close_stream", stream=StreamType(stream).name.lower())
        return Status.OK

    def proxy_continue_request(self, g: Guest) -> int:  # ABI 0.1.0 / 0.2.0 spelling
        return self.proxy_continue_stream(g, StreamType.HTTP_REQUEST)

    def proxy_continue_response(self, g: Guest) -> int:
        return self.proxy_continue_stream(g, StreamType.HTTP_RESPONSE)

    def proxy_clear_route_cache(self, g: Guest) -> int:
        self.state.record("clear_route_cache")
        return Status.OK

    def proxy_set_effective_context(self, g: Guest, context_id: int) -> int:
        if _u(context_id) not in self.state.contexts:
            return Status.BAD_ARGUMENT
        self.state.effective_context = _u(context_id)
        return Status.OK

    def proxy_done(self, g: Guest) -> int:
        self.state.done_called = True
        return Status.OK

    def proxy_get_status(self, g: Guest, code_ptr: int, ptr_ptr: int, size_ptr: int) -> int:
        code, message = self.state.status
        g.u32(_u(code_ptr), code)
        g.give(message, _u(ptr_ptr), _u(size_ptr))
        return Status.OK

    # -- outbound calls: canned or failed, never the network ---------------------------------

    def proxy_http_call(
        self,
        g: Guest,
        upstream: int,
        upstream_size: int,
        headers: int,
        headers_size: int,
        body: int,
        body_size: int,
        trailers: int,
        trailers_size: int,
        timeout_ms: int,
        token_ptr: int,
    ) -> int:
        name = g.text(_u(upstream), _u(upstream_size))
        try:
            pairs = deserialize_pairs(g.read(_u(headers), _u(headers_size)))
            deserialize_pairs(g.read(_u(trailers), _u(trailers_size)))
        except PairsError:
            return Status.BAD_ARGUMENT
        data = g.read(_u(body), _u(body_size))
        g.u32(_u(token_ptr), 0)  # cpp-host checks the pointer before starting the call
        call: dict[str, Any] = {
            "upstream": name,
            "headers": [list(p) for p in pairs[:50]],
            "body": data.decode("utf-8", "replace")[:4096],
            "timeout_ms": _u(timeout_ms),
        }
        missing = [h for h in (":method", ":path", ":authority") if h not in dict(pairs)]
        if missing:
            self.state.record("http_call", **call, answer=f"BAD_ARGUMENT: no {', '.join(missing)}")
            return Status.BAD_ARGUMENT
        canned = self.state.answer_for(name)
        if canned is None:
            self.state.record(
                "http_call",
                **call,
                answer="BAD_ARGUMENT: no canned response for this upstream "
                "(Envoy answers so for a cluster it does not know)",
            )
            return Status.BAD_ARGUMENT
        token = self.state.next_token
        self.state.next_token += 1
        self.state.pending_http.append((token, canned))
        self.state.record("http_call", **call, token=token, answer=f"canned {canned.status}")
        g.u32(_u(token_ptr), token)
        return Status.OK

    def _grpc(
        self,
        g: Guest,
        kind: str,
        service: int,
        ssize: int,
        name: int,
        nsize: int,
        method: int,
        msize: int,
    ) -> int:
        self.state.record(
            kind,
            upstream=g.text(_u(service), _u(ssize)),
            service=g.text(_u(name), _u(nsize)),
            method=g.text(_u(method), _u(msize)),
            answer="PARSE_FAILURE: the playground has no gRPC upstreams",
        )
        return Status.PARSE_FAILURE

    def proxy_grpc_call(
        self,
        g: Guest,
        s: int,
        ss: int,
        n: int,
        ns: int,
        m: int,
        ms: int,
        md: int,
        mds: int,
        req: int,
        reqs: int,
        timeout: int,
        token: int,
    ) -> int:
        return self._grpc(g, "grpc_call", s, ss, n, ns, m, ms)

    def proxy_grpc_stream(
        self,
        g: Guest,
        s: int,
        ss: int,
        n: int,
        ns: int,
        m: int,
        ms: int,
        md: int,
        mds: int,
        token: int,
    ) -> int:
        return self._grpc(g, "grpc_stream", s, ss, n, ns, m, ms)

    def proxy_grpc_send(self, g: Guest, token: int, ptr: int, size: int, end: int) -> int:
        return Status.NOT_FOUND

    def proxy_grpc_cancel(self, g: Guest, token: int) -> int:
        return Status.NOT_FOUND

    def proxy_grpc_close(self, g: Guest, token: int) -> int:
        return Status.NOT_FOUND

    def proxy_call_foreign_function(
        self, g: Guest, name: int, nsize: int, args: int, asize: int, res_ptr: int, res_size: int
    ) -> int:
        self.state.record(
            "call_foreign_function", name=g.text(_u(name), _u(nsize)), answer="NOT_FOUND"
        )
        return Status.NOT_FOUND

    # -- metrics -------------------------------------------------------------------------------

    def proxy_define_metric(self, g: Guest, kind: int, name: int, size: int, id_ptr: int) -> int:
        if not 0 <= kind <= max(MetricType):
            return Status.BAD_ARGUMENT
        text = g.text(_u(name), _u(size))
        found = next((i for i, m in self.state.metrics.items() if m.name == text), None)
        if found is None:
            if len(self.state.metrics) >= self.state.limits.max_metrics:
                return Status.INTERNAL_FAILURE
            found = len(self.state.metrics) + 1
            self.state.metrics[found] = Metric(text, MetricType(kind))
        g.u32(_u(id_ptr), found)
        return Status.OK

    def proxy_increment_metric(self, g: Guest, metric_id: int, delta: int) -> int:
        metric = self.state.metrics.get(_u(metric_id))
        if metric is None:
            return Status.NOT_FOUND
        if metric.type == MetricType.COUNTER and delta < 0:
            return Status.BAD_ARGUMENT
        metric.value += delta
        return Status.OK

    def proxy_record_metric(self, g: Guest, metric_id: int, value: int) -> int:
        metric = self.state.metrics.get(_u(metric_id))
        if metric is None:
            return Status.NOT_FOUND
        metric.value = value & 0xFFFFFFFFFFFFFFFF
        return Status.OK

    def proxy_get_metric(self, g: Guest, metric_id: int, ptr: int) -> int:
        metric = self.state.metrics.get(_u(metric_id))
        if metric is None:
            return Status.NOT_FOUND
        g.u64(_u(ptr), metric.value)
        return Status.OK

    # -- shared data and queues (one VM here, so "shared" with itself) -----------------------

    def proxy_get_shared_data(
        self, g: Guest, key: int, ksize: int, ptr_ptr: int, size_ptr: int, cas_ptr: int
    ) -> int:
        found = self.state.shared_data.get(g.text(_u(key), _u(ksize)))
        if found is None:
            return Status.NOT_FOUND
        g.give(found[0], _u(ptr_ptr), _u(size_ptr))
        g.u32(_u(cas_ptr), found[1])
        return Status.OK

    def proxy_set_shared_data(
        self, g: Guest, key: int, ksize: int, value: int, vsize: int, cas: int
    ) -> int:
        name, data = g.text(_u(key), _u(ksize)), g.read(_u(value), _u(vsize))
        current = self.state.shared_data.get(name)
        if _u(cas) and current is not None and current[1] != _u(cas):
            return Status.CAS_MISMATCH
        held = self.state.shared_bytes() - (len(current[0]) if current else 0)
        if held + len(data) > self.state.limits.max_shared_bytes:
            return Status.INTERNAL_FAILURE
        version = (current[1] + 1) if current else 1
        self.state.shared_data[name] = (data, version)
        self.state.record("set_shared_data", key=name, size=len(data))
        return Status.OK

    def proxy_register_shared_queue(self, g: Guest, name: int, size: int, token_ptr: int) -> int:
        text = g.text(_u(name), _u(size))
        token = self.state.queue_names.get(text)
        if token is None:
            token = len(self.state.queue_names) + 1
            self.state.queue_names[text] = token
            self.state.queues[token] = deque()
        g.u32(_u(token_ptr), token)
        return Status.OK

    def proxy_resolve_shared_queue(
        self, g: Guest, vm: int, vsize: int, name: int, size: int, token_ptr: int
    ) -> int:
        g.read(_u(vm), _u(vsize))
        token = self.state.queue_names.get(g.text(_u(name), _u(size)))
        if token is None:
            return Status.NOT_FOUND
        g.u32(_u(token_ptr), token)
        return Status.OK

    def proxy_enqueue_shared_queue(self, g: Guest, token: int, ptr: int, size: int) -> int:
        data = g.read(_u(ptr), _u(size))
        queue = self.state.queues.get(_u(token))
        if queue is None:
            return Status.NOT_FOUND
        if self.state.shared_bytes() + len(data) > self.state.limits.max_shared_bytes:
            return Status.INTERNAL_FAILURE
        queue.append(data)
        return Status.OK

    def proxy_dequeue_shared_queue(self, g: Guest, token: int, ptr_ptr: int, size_ptr: int) -> int:
        queue = self.state.queues.get(_u(token))
        if queue is None:
            return Status.NOT_FOUND
        if not queue:
            return Status.EMPTY
        g.give(queue.popleft(), _u(ptr_ptr), _u(size_ptr))
        return Status.OK

    # -- emscripten leftovers Envoy also provides -------------------------------------------

    def emscripten_notify_memory_growth(self, g: Guest, index: int) -> None:
        return None

    def pthread_equal(self, g: Guest, left: int, right: int) -> int:
        return int(left == right)


def _sig(params: str, results: str = "i") -> tuple[str, str]:
    return params, results


# (params, results) per import name, "i" = i32, "I" = i64 (spec v0.2.1 and exports.h).
PROXY_FUNCTIONS: dict[str, tuple[str, str]] = {
    "proxy_log": _sig("iii"),
    "proxy_get_log_level": _sig("i"),
    "proxy_get_current_time_nanoseconds": _sig("i"),
    "proxy_set_tick_period_milliseconds": _sig("i"),
    "proxy_get_property": _sig("iiii"),
    "proxy_set_property": _sig("iiii"),
    "proxy_get_header_map_value": _sig("iiiii"),
    "proxy_add_header_map_value": _sig("iiiii"),
    "proxy_replace_header_map_value": _sig("iiiii"),
    "proxy_remove_header_map_value": _sig("iii"),
    "proxy_get_header_map_pairs": _sig("iii"),
    "proxy_set_header_map_pairs": _sig("iii"),
    "proxy_get_header_map_size": _sig("ii"),
    "proxy_get_buffer_bytes": _sig("iiiii"),
    "proxy_get_buffer_status": _sig("iii"),
    "proxy_set_buffer_bytes": _sig("iiiii"),
    "proxy_send_local_response": _sig("iiiiiiii"),
    "proxy_continue_stream": _sig("i"),
    "proxy_close_stream": _sig("i"),
    "proxy_continue_request": _sig(""),
    "proxy_continue_response": _sig(""),
    "proxy_clear_route_cache": _sig(""),
    "proxy_set_effective_context": _sig("i"),
    "proxy_done": _sig(""),
    "proxy_get_status": _sig("iii"),
    "proxy_http_call": _sig("iiiiiiiiii"),
    "proxy_grpc_call": _sig("iiiiiiiiiiii"),
    "proxy_grpc_stream": _sig("iiiiiiiii"),
    "proxy_grpc_send": _sig("iiii"),
    "proxy_grpc_cancel": _sig("i"),
    "proxy_grpc_close": _sig("i"),
    "proxy_call_foreign_function": _sig("iiiiii"),
    "proxy_define_metric": _sig("iiii"),
    "proxy_increment_metric": _sig("iI"),
    "proxy_record_metric": _sig("iI"),
    "proxy_get_metric": _sig("ii"),
    "proxy_get_shared_data": _sig("iiiii"),
    "proxy_set_shared_data": _sig("iiiii"),
    "proxy_register_shared_queue": _sig("iii"),
    "proxy_resolve_shared_queue": _sig("iiiii"),
    "proxy_enqueue_shared_queue": _sig("iii"),
    "proxy_dequeue_shared_queue": _sig("iii"),
    "emscripten_notify_memory_growth": _sig("i", ""),
    "pthread_equal": _sig("ii"),
}


def bound(env: ProxyEnv, name: str) -> Callable[..., Any]:
    method: Callable[..., Any] = getattr(env, name)
    return method
