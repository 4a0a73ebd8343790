"""env.proxy_* for header maps and buffers (part of `ProxyEnv`). A filter may change the
request and response headers and trailers and the two HTTP bodies; the rest it only reads."""

from __future__ import annotations

from hub.wasm.host.abi import (
    BufferType,
    MapType,
    Pairs,
    PairsError,
    Status,
    deserialize_pairs,
    serialize_pairs,
)
from hub.wasm.host.abi import unsigned as _u
from hub.wasm.host.memory import Guest
from hub.wasm.host.state import HostState

MUTABLE_MAPS = {
    MapType.REQUEST_HEADERS,
    MapType.REQUEST_TRAILERS,
    MapType.RESPONSE_HEADERS,
    MapType.RESPONSE_TRAILERS,
}
MUTABLE_BUFFERS = {0, 1}  # HTTP_REQUEST_BODY, HTTP_RESPONSE_BODY


def _known_map(kind: int) -> bool:
    return 0 <= kind <= max(MapType)


def _known_buffer(kind: int) -> bool:
    return 0 <= kind <= max(BufferType)


class MapCalls:
    state: HostState

    # -- header maps -------------------------------------------------------------------------

    def _pairs(self, kind: int) -> Pairs | None:
        return self.state.map(kind)

    def _readable(self, kind: int) -> Pairs | int:
        """The map, or the status a read of it answers (bad kind, or no such map here)."""
        if not _known_map(kind):
            return Status.BAD_ARGUMENT
        pairs = self._pairs(kind)
        if pairs is None:
            return Status.NOT_FOUND
        return pairs

    def _mutable(self, kind: int) -> Pairs | int:
        pairs = self._readable(kind)
        if isinstance(pairs, int):
            return pairs
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

    def proxy_get_header_map_value(
        self, g: Guest, kind: int, key: int, ksize: int, ptr_ptr: int, size_ptr: int
    ) -> int:
        if not _known_map(kind):
            return Status.BAD_ARGUMENT
        pairs = self._pairs(kind)
        # The name is read before the missing-map answer, so a bad pointer faults first.
        name = g.text(_u(key), _u(ksize)).lower()
        if pairs is None:
            return Status.NOT_FOUND
        for k, v in pairs:
            if k == name:
                g.give(v.encode(), _u(ptr_ptr), _u(size_ptr))
                return Status.OK
        return Status.NOT_FOUND

    def _put(
        self, g: Guest, kind: int, key: int, ksize: int, value: int, vsize: int, replace: bool
    ) -> int:
        name, text = g.text(_u(key), _u(ksize)).lower(), g.text(_u(value), _u(vsize))
        pairs = self._mutable(kind)
        if isinstance(pairs, int):
            return pairs
        if not replace:
            if not self._fits(pairs, [(name, text)]):
                return Status.BAD_ARGUMENT
            pairs.append((name, text))
            return Status.OK
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

    def proxy_add_header_map_value(
        self, g: Guest, kind: int, key: int, ksize: int, value: int, vsize: int
    ) -> int:
        return self._put(g, kind, key, ksize, value, vsize, replace=False)

    def proxy_replace_header_map_value(
        self, g: Guest, kind: int, key: int, ksize: int, value: int, vsize: int
    ) -> int:
        return self._put(g, kind, key, ksize, value, vsize, replace=True)

    def proxy_remove_header_map_value(self, g: Guest, kind: int, key: int, ksize: int) -> int:
        name = g.text(_u(key), _u(ksize)).lower()
        pairs = self._mutable(kind)
        if isinstance(pairs, int):
            return pairs
        pairs[:] = [(k, v) for k, v in pairs if k != name]
        return Status.OK

    def proxy_get_header_map_pairs(self, g: Guest, kind: int, ptr_ptr: int, size_ptr: int) -> int:
        pairs = self._readable(kind)
        if isinstance(pairs, int):
            return pairs
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
        pairs = self._readable(kind)
        if isinstance(pairs, int):
            return pairs
        g.u32(_u(ptr), len(serialize_pairs(pairs)))
        return Status.OK

    # -- buffers -------------------------------------------------------------------------------

    def _buffer(self, kind: int) -> bytearray | int:
        """The buffer, or the status a read of it answers (bad kind, or no such buffer)."""
        if not _known_buffer(kind):
            return Status.BAD_ARGUMENT
        buffer = self.state.buffer(kind)
        if buffer is None:
            return Status.NOT_FOUND
        return buffer

    def proxy_get_buffer_bytes(
        self, g: Guest, kind: int, start: int, length: int, ptr_ptr: int, size_ptr: int
    ) -> int:
        buffer = self._buffer(kind)
        if isinstance(buffer, int):
            return buffer
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
        buffer = self._buffer(kind)
        if isinstance(buffer, int):
            return buffer
        g.u32(_u(length_ptr), len(buffer))
        g.u32(_u(flags_ptr), 0)
        return Status.OK

    def proxy_set_buffer_bytes(
        self, g: Guest, kind: int, start: int, length: int, ptr: int, size: int
    ) -> int:
        if not _known_buffer(kind):
            return Status.BAD_ARGUMENT
        # The data is read before the missing-buffer answer, so a bad pointer faults first.
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
