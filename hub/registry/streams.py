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


# How much of a request body the event loop gathers before handing it to the storage thread.
# uvicorn delivers a body in pieces of at most ~64 KiB (its flow-control high-water mark);
# fetching each piece from the worker thread costs a cross-thread round trip, so gathering a
# MiB first cuts those 16-fold while keeping the memory per upload bounded.
BODY_BATCH = 1024 * 1024


def body_chunks(request: Request) -> Iterator[bytes]:
    """A blocking iterator over the request body, for use inside a worker thread: batches of
    up to BODY_BATCH bytes are pulled from the event loop as the storage layer asks for them,
    so memory stays bounded. The pieces are passed on as received (not joined: no copy)."""
    stream: AsyncIterator[bytes] = request.stream()

    async def next_batch() -> list[bytes] | None:
        batch: list[bytes] = []
        size = 0
        try:
            while size < BODY_BATCH:
                chunk = await stream.__anext__()
                if chunk:
                    batch.append(chunk)
                    size += len(chunk)
        except StopAsyncIteration:
            return batch or None
        except ClientDisconnect:
            raise BlobUploadInvalid(None, "client disconnected before the body ended") from None
        return batch

    while True:
        batch = anyio.from_thread.run(next_batch)
        if batch is None:
            return
        yield from batch


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
