"""GET/HEAD/DELETE /v2/<name>/blobs/<digest> (spec: "Pulling blobs", "Deleting blobs")."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

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
    info = await in_thread(svc.blobs.stat, name, parsed)
    headers = {
        **API_VERSION,
        "Docker-Content-Digest": str(parsed),
        "Accept-Ranges": "bytes",
        "Content-Type": "application/octet-stream",
        # Content-addressed: the bytes at this URL can never change.
        "Cache-Control": "max-age=31536000",
        "ETag": f'"{parsed}"',
    }
    if request.method == "HEAD":
        return Response(headers={**headers, "Content-Length": str(info.size)})
    url = svc.blobs.redirect_url(parsed)
    if url is not None:
        return RedirectResponse(
            url, status_code=307, headers=API_VERSION | {"Docker-Content-Digest": str(parsed)}
        )
    offset, length, status = 0, info.size, 200
    if "range" in request.headers:
        offset, length = byte_range(request.headers["range"], info.size)
        status = 206
        headers["Content-Range"] = f"bytes {offset}-{offset + length - 1}/{info.size}"
    chunks = await in_thread(svc.blobs.read, parsed, offset, length)
    headers["Content-Length"] = str(length)
    return StreamingResponse(chunks, status_code=status, headers=headers)


async def delete_blob(request: Request, name: str, digest: str) -> Response:
    parsed = parse_digest(digest)
    await in_thread(services(request).blobs.delete, name, parsed)
    return Response(status_code=202, headers={**API_VERSION, "Docker-Content-Digest": str(parsed)})
