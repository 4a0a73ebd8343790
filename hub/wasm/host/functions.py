"""The host functions a proxy-wasm 0.2.x filter imports from "env" (proxy-wasm/spec
abi-versions/v0.2.1; semantics follow proxy-wasm-cpp-host src/exports.cc, the host inside
Envoy and Istio). Each is a method of `ProxyEnv` taking the guest's memory and the raw
arguments; the table `PROXY_FUNCTIONS` gives its wasm signature ("i" = i32, "I" = i64).

The methods live by ABI area: properties (logging, time, properties), maps (header maps,
buffers), stream (local responses, stream and context control), outbound (HTTP, gRPC and
foreign calls, never the network) and shared (metrics, shared data, queues)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.wasm.host.maps import MapCalls
from hub.wasm.host.memory import Guest
from hub.wasm.host.outbound import OutboundCalls
from hub.wasm.host.properties import PropertyCalls
from hub.wasm.host.shared import SharedCalls
from hub.wasm.host.state import HostState
from hub.wasm.host.stream import StreamCalls


class ProxyEnv(PropertyCalls, MapCalls, StreamCalls, OutboundCalls, SharedCalls):
    def __init__(self, state: HostState) -> None:
        self.state = state

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
