"""Bridges between Starlette's async request body and the blocking storage layer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from starlette.requests import ClientDisconnect, Request

from hub.oci.errors import BlobUploadInvalid

T = TypeVar("T")


def has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "chunked" in request.headers.get("transfer-encoding", "").lower()


def body_chunks(request: Request) -> Iterator[bytes]:
    """A blocking iterator over the request body, for use inside a worker thread: each chunk
    is pulled from the event loop as the storage layer asks for it, so memory stays constant."""
    stream: AsyncIterator[bytes] = request.stream()

    async def next_chunk() -> bytes | None:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return None
        except ClientDisconnect:
            raise BlobUploadInvalid(None, "client disconnected before the body ended") from None

    while True:
        chunk = anyio.from_thread.run(next_chunk)
        if chunk is None:
            return
        if chunk:
            yield chunk


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    return await anyio.to_thread.run_sync(fn, *args)


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The whole body if it is at most ``limit`` bytes, else None (manifests only)."""
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > limit:
            return None
    return bytes(data)
