"""GET/HEAD/DELETE /v2/<name>/blobs/<digest> (spec: "Pulling blobs", "Deleting blobs")."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from hub.artifacts.blobs import BlobInfo
from hub.oci.digest import Digest, InvalidDigest
from hub.oci.errors import DigestInvalid, RegistryError
from hub.registry.errors import API_VERSION
from hub.registry.streams import in_thread
from hub.services import services

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(RegistryError):
    code, status, message = "BLOB_UNKNOWN", 416, "requested range not satisfiable"


def parse_digest(raw: str) -> Digest:
    try:
        return Digest.parse(raw)
    except InvalidDigest as exc:
        raise DigestInvalid({"digest": raw}, str(exc)) from None


def byte_range(header: str, size: int) -> tuple[int, int]:
    """RFC 9110 14.1.2 single range -> (offset, length). Multiple ranges are not served."""
    match = _RANGE.match(header.replace(" ", ""))
    unsatisfiable = RangeNotSatisfiable(
        {"range": header, "size": size},
        f"range {header!r} does not fit a blob of {size} bytes",
        headers={"Content-Range": f"bytes */{size}"},
    )
    if not match or (not match.group(1) and not match.group(2)):
        raise unsatisfiable
    first, last = match.group(1), match.group(2)
    if not first:  # suffix: the last N bytes
        length = min(int(last), size)
        if length == 0:
            raise unsatisfiable
        return size - length, length
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise unsatisfiable
    return start, end - start + 1


async def get_blob(request: Request, name: str, digest: str) -> Response:
    svc = services(request)
    parsed = parse_digest(digest)
    head = request.method == "HEAD"
    range_header = request.headers.get("range")

    def open_blob() -> tuple[BlobInfo, str | None, int, int, bytes, Iterator[bytes] | None]:
        # One worker-thread trip for the look-up, the redirect or range decision, the open and
        # the first chunk: a blob of up to a chunk (1 MiB) is answered from here in one piece.
        info = svc.blobs.stat(name, parsed)
        if head:
            return info, None, 0, info.size, b"", None
        url = svc.blobs.redirect_url(parsed)
        if url is not None:
            return info, url, 0, info.size, b"", None
        offset, length = (0, info.size)
        if range_header is not None:
            offset, length = byte_range(range_header, info.size)
        chunks = svc.blobs.read(parsed, offset, length)
        first = next(chunks, b"")
        if len(first) >= length:
            close(chunks)
            return info, None, offset, length, first, None
        return info, None, offset, length, first, chunks

    info, url, offset, length, first, rest = await in_thread(open_blob)
    headers = {
        **API_VERSION,
        "Docker-Content-Digest": str(parsed),
        "Accept-Ranges": "bytes",
        "Content-Type": "application/octet-stream",
        # Content-addressed: the bytes at this URL can never change.
        "Cache-Control": "max-age=31536000",
        "ETag": f'"{parsed}"',
    }
    if head:
        return Response(headers={**headers, "Content-Length": str(info.size)})
    if url is not None:
        return RedirectResponse(
            url, status_code=307, headers=API_VERSION | {"Docker-Content-Digest": str(parsed)}
        )
    status = 200
    if range_header is not None:
        status = 206
        headers["Content-Range"] = f"bytes {offset}-{offset + length - 1}/{info.size}"
    headers["Content-Length"] = str(length)
    if rest is None:
        return Response(first, status_code=status, headers=headers)
    return StreamingResponse(_stream(first, rest), status_code=status, headers=headers)


def close(chunks: Iterator[bytes]) -> None:
    closer = getattr(chunks, "close", None)
    if closer is not None:
        closer()


async def _stream(first: bytes, rest: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The first chunk, then one worker-thread trip per further chunk; the file (or S3
    response) is closed however the response ends, a client hanging up included."""
    try:
        yield first
        while (chunk := await in_thread(next, rest, None)) is not None:
            yield chunk
    finally:
        close(rest)  # quick, and an await here would not run when the response is cancelled


async def delete_blob(request: Request, name: str, digest: str) -> Response:
    parsed = parse_digest(digest)
    await in_thread(services(request).blobs.delete, name, parsed)
    return Response(status_code=202, headers={**API_VERSION, "Docker-Content-Digest": str(parsed)})
