"""Numbers of the proxy-wasm ABI 0.2.x (proxy-wasm/spec abi-versions/v0.2.1, "Types") and the
serialized form of header maps ("Serialization"). Pure data; no wasmtime here."""

from __future__ import annotations

import struct
from enum import IntEnum

U32 = 0xFFFFFFFF


def unsigned(value: int) -> int:
    """wasmtime hands i32 arguments over signed; pointers and sizes are unsigned."""
    return value & U32


class Status(IntEnum):
    """proxy_status_t (the AssemblyScript SDK calls it WasmResult)."""

    OK = 0
    NOT_FOUND = 1
    BAD_ARGUMENT = 2
    SERIALIZATION_FAILURE = 3
    PARSE_FAILURE = 4
    BAD_EXPRESSION = 5
    INVALID_MEMORY_ACCESS = 6
    EMPTY = 7
    CAS_MISMATCH = 8
    RESULT_MISMATCH = 9
    INTERNAL_FAILURE = 10
    BROKEN_CONNECTION = 11
    UNIMPLEMENTED = 12


class MapType(IntEnum):
    REQUEST_HEADERS = 0
    REQUEST_TRAILERS = 1
    RESPONSE_HEADERS = 2
    RESPONSE_TRAILERS = 3
    GRPC_INITIAL_METADATA = 4
    GRPC_TRAILING_METADATA = 5
    HTTP_CALL_RESPONSE_HEADERS = 6
    HTTP_CALL_RESPONSE_TRAILERS = 7


class BufferType(IntEnum):
    HTTP_REQUEST_BODY = 0
    HTTP_RESPONSE_BODY = 1
    DOWNSTREAM_DATA = 2
    UPSTREAM_DATA = 3
    HTTP_CALL_RESPONSE_BODY = 4
    GRPC_CALL_MESSAGE = 5
    VM_CONFIGURATION = 6
    PLUGIN_CONFIGURATION = 7
    FOREIGN_FUNCTION_ARGUMENTS = 8


class StreamType(IntEnum):
    HTTP_REQUEST = 0
    HTTP_RESPONSE = 1
    DOWNSTREAM = 2
    UPSTREAM = 3


class MetricType(IntEnum):
    COUNTER = 0
    GAUGE = 1
    HISTOGRAM = 2


LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "critical")

# What a callback's return value means. The 0.2.1 spec has CONTINUE=0 / PAUSE=1; Envoy and the
# SDKs name the finer values (FilterHeadersStatus, FilterDataStatus, FilterTrailersStatus).
HEADER_ACTIONS = (
    "Continue",
    "StopIteration",
    "ContinueAndEndStream",
    "StopAllIterationAndBuffer",
    "StopAllIterationAndWatermark",
)
DATA_ACTIONS = (
    "Continue",
    "StopIterationAndBuffer",
    "StopIterationAndWatermark",
    "StopIterationNoBuffer",
)
TRAILER_ACTIONS = ("Continue", "StopIteration")


def action_name(callback: str, value: int) -> str:
    names = (
        HEADER_ACTIONS
        if callback.endswith("_headers")
        else DATA_ACTIONS
        if callback.endswith("_body")
        else TRAILER_ACTIONS
    )
    return names[value] if 0 <= value < len(names) else f"unknown ({value})"


Pairs = list[tuple[str, str]]


class PairsError(ValueError):
    """Serialized pairs that do not follow the spec's layout."""


def serialize_pairs(pairs: Pairs) -> bytes:
    """count, (key length, value length) per pair, then each key and value NUL-terminated;
    all integers little-endian u32."""
    if not pairs:
        return b""
    head = [struct.pack("<I", len(pairs))]
    body: list[bytes] = []
    for key, value in pairs:
        k, v = key.encode(), value.encode()
        head.append(struct.pack("<II", len(k), len(v)))
        body += [k, b"\0", v, b"\0"]
    return b"".join(head + body)


def deserialize_pairs(data: bytes) -> Pairs:
    """The inverse; an empty map may be b"" or a single NUL byte (spec "Serialization")."""
    if len(data) <= 1:
        return []
    if len(data) < 4:
        raise PairsError("serialized pairs shorter than their count")
    (count,) = struct.unpack_from("<I", data, 0)
    pos = 4
    if count > (len(data) - 4) // 8:
        raise PairsError(f"serialized pairs claim {count} entries in {len(data)} bytes")
    sizes = []
    for _ in range(count):
        sizes.append(struct.unpack_from("<II", data, pos))
        pos += 8
    pairs: Pairs = []
    for key_len, value_len in sizes:
        end = pos + key_len
        if end >= len(data) or data[end] != 0:
            raise PairsError("a serialized key is not NUL-terminated within the data")
        key = data[pos:end]
        pos = end + 1
        end = pos + value_len
        if end >= len(data) or data[end] != 0:
            raise PairsError("a serialized value is not NUL-terminated within the data")
        value = data[pos:end]
        pos = end + 1
        pairs.append((key.decode("utf-8", "replace"), value.decode("utf-8", "replace")))
    return pairs
