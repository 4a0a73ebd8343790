"""Drive a filter the way Envoy does (proxy-wasm-cpp-host, Envoy's wasm HTTP filter):

  VM:      _initialize (then main) or _start; proxy_on_context_create(root, 0);
           proxy_on_vm_start(root, vm config size); proxy_on_configure(root, config size)
  timer:   proxy_on_tick(root), up to MAX_TICKS times, if the filter set a tick period
  request: proxy_on_context_create(stream, root); proxy_on_request_headers / _body / _trailers
  response: proxy_on_response_headers / _body / _trailers (upstream's, or the local response)
  end:     proxy_on_log; proxy_on_done; proxy_on_delete

A callback that answers anything but Continue pauses its direction; canned http-call
responses are delivered (proxy_on_http_call_response) and the filter may resume with
proxy_continue_stream; a stream still paused afterwards is reported as stalled. A local
response (proxy_send_local_response) short-circuits: no upstream, and the response
callbacks run on the local response, as they do in Envoy. A trap or an exceeded limit ends
the run where it happened (Envoy marks the VM failed and calls nothing more)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from hub.wasm.host.abi import BufferType, MapType, Pairs, StreamType, action_name
from hub.wasm.host.limits import Limits, Verdict
from hub.wasm.host.result import diff_headers, message_json
from hub.wasm.host.sandbox import Aborted, Sandbox, compile_module, unresolved_imports
from hub.wasm.host.state import ROOT_CONTEXT, STREAM_CONTEXT, CannedResponse, HostState

ABI_EXPORTS = {
    "proxy_abi_version_0_2_1": "0.2.1",
    "proxy_abi_version_0_2_0": "0.2.0",
}
OLD_ABI_EXPORTS = ("proxy_abi_version_0_1_0",)
CONTINUE_ACTIONS = (0, 2)  # Continue, ContinueAndEndStream
# Envoy calls proxy_on_tick every tick period for as long as the VM lives; a run lasts
# milliseconds, so the playground calls it a few times at once instead of waiting.
MAX_TICKS = 3


@dataclass
class Message:
    headers: Pairs
    body: bytearray
    trailers: Pairs | None


def _pairs(raw: Any) -> Pairs:
    if isinstance(raw, dict):
        return [(str(k).lower(), str(v)) for k, v in raw.items()]
    return [(str(k).lower(), str(v)) for k, v in raw or []]


def _request(raw: dict[str, Any]) -> Message:
    headers = _pairs(raw.get("headers"))
    given = dict(headers)
    authority = given.get(":authority") or given.get("host") or "localhost"
    plain = [(k, v) for k, v in headers if not k.startswith(":") and k != "host"]
    pseudo = [
        (":method", str(raw.get("method") or "GET").upper()),
        (":path", str(raw.get("path") or "/")),
        (":authority", authority),
        (":scheme", given.get(":scheme", "http")),
    ]
    trailers = raw.get("trailers")
    return Message(
        pseudo + plain,
        bytearray(str(raw.get("body") or "").encode()),
        _pairs(trailers) if trailers else None,
    )


def _response(raw: dict[str, Any]) -> Message:
    headers = [(k, v) for k, v in _pairs(raw.get("headers")) if k != ":status"]
    trailers = raw.get("trailers")
    return Message(
        [(":status", str(int(raw.get("status") or 200)))] + headers,
        bytearray(str(raw.get("body") or "").encode()),
        _pairs(trailers) if trailers else None,
    )


def _properties(job: dict[str, Any], request: Message, root_id: str) -> dict[str, bytes]:
    """What Envoy answers for the common proxy_get_property paths (segments joined by '.');
    strings as bytes, integers as 8-byte little-endian, like Envoy's serialization."""
    given = dict(request.headers)
    path = given[":path"]
    props: dict[str, bytes] = {
        "plugin_root_id": root_id.encode(),
        "plugin_name": (job.get("plugin_name") or root_id or "playground").encode(),
        "plugin_vm_id": b"",
        "request.path": path.encode(),
        "request.url_path": path.split("?", 1)[0].encode(),
        "request.query": (path.split("?", 1)[1] if "?" in path else "").encode(),
        "request.host": given[":authority"].encode(),
        "request.method": given[":method"].encode(),
        "request.scheme": given[":scheme"].encode(),
        "request.protocol": b"HTTP/1.1",
        "request.id": b"playground-request",
        "source.address": b"127.0.0.1:40000",
        "source.port": (40000).to_bytes(8, "little"),
        "destination.address": b"127.0.0.1:8080",
        "destination.port": (8080).to_bytes(8, "little"),
        "cluster_name": b"playground-upstream",
        "route_name": b"playground-route",
    }
    for key, value in (job.get("properties") or {}).items():
        props[str(key)] = str(value).encode()
    return props


def _canned(raw: list[dict[str, Any]] | None) -> list[CannedResponse]:
    return [
        CannedResponse(
            upstream=c.get("upstream") or None,
            status=0 if c.get("fail") else int(c.get("status") or 200),
            headers=_pairs(c.get("headers")),
            body=str(c.get("body") or "").encode(),
            trailers=_pairs(c.get("trailers")),
        )
        for c in raw or []
    ]


class Run:
    def __init__(self, data: bytes, job: dict[str, Any]) -> None:
        self.data, self.job = data, job
        self.limits = Limits.from_json(job.get("limits") or {})
        self.request = _request(job.get("request") or {})
        self.upstream_response = _response(job.get("response") or {})
        self.root_id = str(job.get("root_id") or "")
        self.state = HostState(
            limits=self.limits,
            plugin_config=str(job.get("config") or "").encode(),
            vm_config=str(job.get("vm_config") or "").encode(),
            root_id=self.root_id,
            properties=_properties(job, self.request, self.root_id),
            canned=_canned(job.get("http_calls")),
        )
        self.sandbox: Sandbox | None = None
        self.callbacks: list[dict[str, Any]] = []
        self.abi: str | None = None
        self.timing: dict[str, float] = {}
        self.outcome = "forwarded"
        self.notes: list[str] = []

    # -- calling the guest ---------------------------------------------------------------------

    def _call(self, name: str, *args: int) -> int | None:
        assert self.sandbox is not None
        if not self.sandbox.has(name):
            return None
        self.state.continued.clear()
        try:
            result = self.sandbox.call(name, *args)
        finally:
            timing = self.sandbox.timings[-1] if self.sandbox.timings else {}
            entry: dict[str, Any] = {"callback": name, "ms": timing.get("ms")}
            if "returned" in timing:
                entry["returned"] = timing["returned"]
                if name.endswith(("_headers", "_body", "_trailers")):
                    entry["action"] = action_name(name, timing["returned"])
            self.callbacks.append(entry)
        return result

    def _deliver(self) -> None:
        """Answer the http calls the last callback made, as Envoy would once they return."""
        for _ in range(32):
            if not self.state.pending_http:
                return
            token, canned = self.state.pending_http.pop(0)
            assert canned is not None
            failed = canned.status == 0
            headers = [] if failed else [(":status", str(canned.status)), *canned.headers]
            self.state.maps[MapType.HTTP_CALL_RESPONSE_HEADERS] = headers
            self.state.maps[MapType.HTTP_CALL_RESPONSE_TRAILERS] = list(canned.trailers)
            self.state.buffers[BufferType.HTTP_CALL_RESPONSE_BODY] = bytearray(
                b"" if failed else canned.body
            )
            self._call(
                "proxy_on_http_call_response",
                ROOT_CONTEXT,
                token,
                len(headers),
                0 if failed else len(canned.body),
                len(canned.trailers),
            )
            for kind in (MapType.HTTP_CALL_RESPONSE_HEADERS, MapType.HTTP_CALL_RESPONSE_TRAILERS):
                self.state.maps.pop(kind, None)
            self.state.buffers.pop(BufferType.HTTP_CALL_RESPONSE_BODY, None)

    def _proceeds(self, action: int | None, stream: StreamType, end_of_stream: bool) -> bool:
        """After a stream callback: does this direction carry on?"""
        self._deliver()
        if action is None or action in CONTINUE_ACTIONS:
            return True
        if stream in self.state.continued:
            return True
        if not end_of_stream and self.callbacks[-1]["callback"].endswith("_body"):
            return True  # StopIterationAndBuffer before the end: Envoy buffers, trailers follow
        return False

    # -- phases ----------------------------------------------------------------------------------

    def start_vm(self) -> None:
        started = time.perf_counter()
        module, cached = compile_module(self.data)
        self.timing["compile_ms"] = round((time.perf_counter() - started) * 1000, 3)
        self.timing["compile_cached"] = cached
        exports = {e.name for e in module.exports}
        self.abi = next((v for k, v in ABI_EXPORTS.items() if k in exports), None)
        if self.abi is None:
            old = [k for k in OLD_ABI_EXPORTS if k in exports]
            raise Aborted(
                Verdict(
                    "link",
                    f"exports {old[0]}: this host speaks proxy-wasm 0.2.x"
                    if old
                    else "exports no proxy_abi_version_0_2_x function: not a proxy-wasm 0.2.x "
                    "module (Envoy: 'Wasm module is missing the Proxy-Wasm ABI version')",
                )
            )
        problems = unresolved_imports(module)
        if problems:
            raise Aborted(
                Verdict("link", "imports the host cannot satisfy: " + "; ".join(problems))
            )
        if "proxy_on_memory_allocate" not in exports and "malloc" not in exports:
            raise Aborted(
                Verdict(
                    "link",
                    "exports neither proxy_on_memory_allocate nor malloc: the host cannot hand "
                    "it any data (Envoy: 'Wasm module is missing malloc function')",
                )
            )
        self.sandbox = Sandbox(module, self.state, self.limits)
        started = time.perf_counter()
        self.sandbox.instantiate()
        self.timing["instantiate_ms"] = round((time.perf_counter() - started) * 1000, 3)
        if self.sandbox.has("_initialize"):
            self._call("_initialize")
            if self.sandbox.has("main"):
                self._call("main", 0, 0)
        elif self.sandbox.has("_start"):
            self._call("_start")
        self.state.contexts.add(ROOT_CONTEXT)
        self._call("proxy_on_context_create", ROOT_CONTEXT, 0)
        self.state.buffers[BufferType.VM_CONFIGURATION] = bytearray(self.state.vm_config)
        ok = self._call("proxy_on_vm_start", ROOT_CONTEXT, len(self.state.vm_config))
        self.state.buffers.pop(BufferType.VM_CONFIGURATION, None)
        if ok == 0:
            raise Aborted(
                Verdict(
                    "rejected",
                    "proxy_on_vm_start returned false: Envoy fails the VM",
                    "proxy_on_vm_start",
                )
            )
        self._deliver()

    def configure(self) -> None:
        config = self.state.plugin_config
        self.state.buffers[BufferType.PLUGIN_CONFIGURATION] = bytearray(config)
        ok = self._call("proxy_on_configure", ROOT_CONTEXT, len(config))
        self.state.buffers.pop(BufferType.PLUGIN_CONFIGURATION, None)
        if ok == 0:
            raise Aborted(
                Verdict(
                    "rejected",
                    "proxy_on_configure returned false: Envoy rejects this configuration",
                    "proxy_on_configure",
                )
            )
        self._deliver()

    def tick(self) -> None:
        """proxy_on_tick on the root context while a tick period is set (proxy_set_tick_period_
        milliseconds; setting 0 stops the timer), at most MAX_TICKS times, each under the CPU
        budget of any callback; the http calls a tick makes are answered as after configure."""
        assert self.sandbox is not None
        period = self.state.tick_period_ms
        if not period or not self.sandbox.has("proxy_on_tick"):
            return
        ticks = 0
        while ticks < MAX_TICKS and self.state.tick_period_ms:
            self._call("proxy_on_tick", ROOT_CONTEXT)
            ticks += 1
            self._deliver()
        self.notes.append(
            f"the filter set a {period} ms tick period: proxy_on_tick ran {ticks} "
            f"time{'' if ticks == 1 else 's'} after proxy_on_configure, without waiting "
            f"(at most {MAX_TICKS})"
        )

    def _direction(
        self, prefix: str, message: Message, maps: tuple[MapType, MapType], body: BufferType
    ) -> bool:
        """Headers, body, trailers of one direction; False when it stops (stall or local
        response sent)."""
        stream = StreamType.HTTP_REQUEST if prefix == "request" else StreamType.HTTP_RESPONSE
        head_map, trailer_map = maps
        self.state.maps[head_map] = message.headers
        has_body, has_trailers = bool(message.body), message.trailers is not None
        action = self._call(
            f"proxy_on_{prefix}_headers",
            STREAM_CONTEXT,
            len(message.headers),
            int(not has_body and not has_trailers),
        )
        if self._stopped(action, stream, not has_body and not has_trailers, "headers"):
            return False
        if action == 2:  # ContinueAndEndStream: the rest of this direction is dropped
            message.body.clear()
            message.trailers = None
            return True
        if has_body:
            self.state.buffers[body] = message.body
            action = self._call(
                f"proxy_on_{prefix}_body", STREAM_CONTEXT, len(message.body), int(not has_trailers)
            )
            if self._stopped(action, stream, not has_trailers, "body"):
                return False
        if message.trailers is not None:
            self.state.maps[trailer_map] = message.trailers
            action = self._call(
                f"proxy_on_{prefix}_trailers", STREAM_CONTEXT, len(message.trailers)
            )
            if self._stopped(action, stream, True, "trailers"):
                return False
        return True

    def _stopped(self, action: int | None, stream: StreamType, eos: bool, part: str) -> bool:
        if self.state.local_response is not None and self.outcome != "local_response":
            return True
        if self._proceeds(action, stream, eos):
            return False
        if self.state.local_response is not None:
            return True
        side = "request" if stream == StreamType.HTTP_REQUEST else "response"
        self.outcome = "stalled"
        self.notes.append(
            f"the {side} was paused in proxy_on_{side}_{part} and never resumed: Envoy would "
            "hold it until the stream times out"
        )
        return True

    def _local(self) -> Message:
        local = self.state.local_response
        assert local is not None
        headers = [(":status", str(local.status)), *local.headers]
        names = {k for k, _ in headers}
        if local.body and "content-type" not in names:
            headers.append(("content-type", "text/plain"))
        headers.append(("content-length", str(len(local.body))))
        return Message(headers, bytearray(local.body), None)

    def serve(self) -> dict[str, Any]:
        """One request through the filter; the views of the upstream and of the client."""
        self.state.contexts.add(STREAM_CONTEXT)
        self._call("proxy_on_context_create", STREAM_CONTEXT, ROOT_CONTEXT)
        original_request = list(self.request.headers)
        upstream: dict[str, Any] | None = None
        client: dict[str, Any] | None = None
        reached = self._direction(
            "request",
            self.request,
            (MapType.REQUEST_HEADERS, MapType.REQUEST_TRAILERS),
            BufferType.HTTP_REQUEST_BODY,
        )
        if reached:
            upstream = message_json(self.request)
            response = self.upstream_response
        elif self.state.local_response is not None:
            self.outcome = "local_response"
            response = self._local()
        else:
            response = None
        original_response = list(response.headers) if response else []
        if response is not None:
            done = self._direction(
                "response",
                response,
                (MapType.RESPONSE_HEADERS, MapType.RESPONSE_TRAILERS),
                BufferType.HTTP_RESPONSE_BODY,
            )
            local = self.state.local_response
            if not done and local is not None and local.sent_in.startswith("proxy_on_response"):
                if local.sent_in == "proxy_on_response_headers":
                    self.outcome = "local_response"
                    response = self._local()  # replaces the upstream's, headers not yet sent
                    original_response = list(response.headers)
                else:
                    self.outcome = "reset"
                    self.notes.append(
                        f"a local response from {local.sent_in} comes after the response "
                        "headers went to the client: Envoy resets the stream"
                    )
                    response = None
            if response is not None and self.outcome != "stalled":
                client = message_json(response)
        self._call("proxy_on_log", STREAM_CONTEXT)
        done_result = self._call("proxy_on_done", STREAM_CONTEXT)
        if done_result == 0 and not self.state.done_called:
            self.notes.append("proxy_on_done returned false and proxy_done was never called")
        self._call("proxy_on_delete", STREAM_CONTEXT)
        return {
            "upstream": {"reached": reached, "request": upstream},
            "client": {"response": client},
            "diff": {
                "request_headers": diff_headers(original_request, self.request.headers)
                if reached
                else None,
                "response_headers": diff_headers(original_response, response.headers)
                if client is not None and response is not None
                else None,
            },
        }
