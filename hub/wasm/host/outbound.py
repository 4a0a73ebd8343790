"""env.proxy_* for calls out of the filter (part of `ProxyEnv`). Nothing here reaches the
network: proxy_http_call is answered from the canned responses the caller gave (or fails as
Envoy fails for an unknown cluster); gRPC and foreign function calls always fail."""

from __future__ import annotations

from typing import Any

from hub.wasm.host.abi import PairsError, Status, deserialize_pairs
from hub.wasm.host.abi import unsigned as _u
from hub.wasm.host.memory import Guest
from hub.wasm.host.state import HostState


class OutboundCalls:
    state: HostState

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

    def _grpc(self, g: Guest, kind: str, args: tuple[int, ...]) -> int:
        # Both gRPC calls begin (service, size, service name, size, method, size); the rest
        # (metadata, message, timeout, token pointer) goes unread as the call is refused.
        service, ssize, name, nsize, method, msize = args[:6]
        self.state.record(
            kind,
            upstream=g.text(_u(service), _u(ssize)),
            service=g.text(_u(name), _u(nsize)),
            method=g.text(_u(method), _u(msize)),
            answer="PARSE_FAILURE: the playground has no gRPC upstreams",
        )
        return Status.PARSE_FAILURE

    # The wasm signatures (12 and 9 i32s) are PROXY_FUNCTIONS'; wasmtime passes exactly those.
    def proxy_grpc_call(self, g: Guest, *args: int) -> int:
        return self._grpc(g, "grpc_call", args)

    def proxy_grpc_stream(self, g: Guest, *args: int) -> int:
        return self._grpc(g, "grpc_stream", args)

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
