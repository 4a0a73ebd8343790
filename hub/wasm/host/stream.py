"""env.proxy_* that steer the HTTP stream and the context: local responses, continue and
close, the route cache, the effective context, proxy_done and the last call's status (part
of `ProxyEnv`)."""

from __future__ import annotations

from hub.wasm.host.abi import PairsError, Status, StreamType, deserialize_pairs
from hub.wasm.host.abi import unsigned as _u
from hub.wasm.host.memory import Guest
from hub.wasm.host.state import HostState, LocalResponse


class StreamCalls:
    state: HostState

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

    def _mark_stream(self, stream: int, into: set[int], kind: str) -> int:
        if not 0 <= stream <= max(StreamType):
            return Status.BAD_ARGUMENT
        into.add(stream)
        self.state.record(kind, stream=StreamType(stream).name.lower())
        return Status.OK

    def proxy_continue_stream(self, g: Guest, stream: int) -> int:
        return self._mark_stream(stream, self.state.continued, "continue_stream")

    def proxy_close_stream(self, g: Guest, stream: int) -> int:
        return self._mark_stream(stream, self.state.closed, "close_stream")

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
