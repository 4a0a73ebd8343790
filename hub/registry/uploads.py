"""Blob uploads (spec: "Pushing blobs": monolithic, chunked, streamed, mounts)."""

from __future__ import annotations

import re
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response

from hub.artifacts.blobs import BlobInfo
from hub.db.models import Upload
from hub.oci.errors import DigestInvalid, RangeInvalid
from hub.registry.blobs import parse_digest
from hub.registry.errors import API_VERSION
from hub.registry.streams import body_chunks, has_body, in_thread
from hub.services import services

# spec: chunk uploads carry Content-Range: <start>-<end> (inclusive, no unit); some clients
# send the RFC form "bytes <start>-<end>/<total>", so accept that too.
_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?$")


def _created(name: str, blob: BlobInfo) -> Response:
    # wasme fails unless every PUT answers Docker-Content-Digest (FORMATS.md section 2).
    return Response(
        status_code=201,
        headers={
            **API_VERSION,
            "Location": f"/v2/{name}/blobs/{blob.digest}",
            "Docker-Content-Digest": str(blob.digest),
            "Content-Length": "0",
        },
    )


def _length(request: Request) -> int | None:
    """The declared body size, so HUB_MAX_BLOB_BYTES and quotas refuse before reading it."""
    raw = request.headers.get("content-length", "").strip()
    return int(raw) if raw.isdigit() else None


def _progress(request: Request, name: str, upload: Upload, status: int) -> Response:
    headers = services(request).uploads.progress_headers(name, upload)
    return Response(status_code=status, headers={**API_VERSION, **headers, "Content-Length": "0"})


async def start_upload(request: Request, name: str) -> Response:
    svc = services(request)
    query = request.query_params
    if "mount" in query:
        digest = parse_digest(query["mount"])
        source = query.get("from") or None
        identity = request.state.identity

        def can_pull(repository: str) -> bool:
            # A mount reads the source: only from repositories the caller may pull. A bearer
            # token names only the target's scope (reggie, oras), so judge the source by
            # what its subject may do, as a token request for it would.
            subject = replace(identity, granted=None)
            return "pull" in svc.access.actions(subject, repository)

        mounted = await in_thread(svc.blobs.mount, name, source, digest, can_pull)
        if mounted is not None:
            return _created(name, mounted)
        # spec: a registry that cannot mount answers 202 with an upload session instead.
    if "digest" in query and "mount" not in query:
        digest = parse_digest(query["digest"])
        blob = await in_thread(
            svc.uploads.monolithic, name, digest, body_chunks(request), _length(request)
        )
        return _created(name, blob)
    upload = await in_thread(svc.uploads.start, name)
    return _progress(request, name, upload, 202)


def _range_start(request: Request) -> int | None:
    raw = request.headers.get("content-range")
    if raw is None:
        return None
    match = _CONTENT_RANGE.match(raw.strip())
    if not match or int(match.group(2)) < int(match.group(1)):
        raise RangeInvalid({"content-range": raw}, f"Content-Range {raw!r} is not <start>-<end>")
    start, end = int(match.group(1)), int(match.group(2))
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) != end - start + 1:
        raise RangeInvalid(
            {"content-range": raw, "content-length": length},
            f"Content-Range {raw!r} covers {end - start + 1} bytes but Content-Length is {length}",
        )
    return start


async def patch_upload(request: Request, name: str, upload_id: str) -> Response:
    svc = services(request)
    start = _range_start(request)
    upload = await in_thread(
        svc.uploads.append, name, upload_id, body_chunks(request), start, _length(request)
    )
    return _progress(request, name, upload, 202)


async def finish_upload(request: Request, name: str, upload_id: str) -> Response:
    svc = services(request)
    raw = request.query_params.get("digest")
    if not raw:
        raise DigestInvalid(None, "closing an upload needs ?digest=<algorithm:hex>")
    digest = parse_digest(raw)
    body = body_chunks(request) if has_body(request) else None
    start = _range_start(request) if body is not None else None
    length = _length(request) if body is not None else None
    blob = await in_thread(svc.uploads.complete, name, upload_id, digest, body, length, start)
    return _created(name, blob)


async def upload_status(request: Request, name: str, upload_id: str) -> Response:
    upload = await in_thread(services(request).uploads.get, name, upload_id)
    return _progress(request, name, upload, 204)


async def cancel_upload(request: Request, name: str, upload_id: str) -> Response:
    await in_thread(services(request).uploads.cancel, name, upload_id)
    return Response(status_code=204, headers=API_VERSION)
