"""PUT/GET/HEAD/DELETE /v2/<name>/manifests/<reference> (spec: "Pushing manifests")."""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import Response

from hub.auth.access import namespace_of
from hub.oci.digest import is_digest
from hub.oci.errors import ManifestInvalid, ManifestTooLarge, ManifestUnknown
from hub.oci.reference import valid_tag
from hub.registry.blobs import parse_digest
from hub.registry.errors import API_VERSION
from hub.registry.streams import in_thread, read_limited
from hub.services import services


def _check_reference(reference: str) -> None:
    if is_digest(reference):
        parse_digest(reference)
    elif not valid_tag(reference):
        raise ManifestInvalid(
            {"tag": reference},
            f"tag {reference!r} must match [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}",
        )


async def put_manifest(request: Request, name: str, reference: str) -> Response:
    svc = services(request)
    _check_reference(reference)
    limit = svc.settings.max_manifest_bytes
    raw = await read_limited(request, limit)
    if raw is None:
        raise ManifestTooLarge({"limit": limit}, f"manifest exceeds {limit} bytes")
    actor = request.state.identity.username
    stored = await in_thread(
        svc.manifests.put, name, reference, raw, request.headers.get("content-type", ""), actor
    )
    await in_thread(
        functools.partial(
            svc.accounts.record,
            request.state.identity.username,
            "push",
            namespace_of(name),
            f"{name}:{reference}",
            digest=str(stored.digest),
        )
    )
    headers = {
        **API_VERSION,
        "Location": f"/v2/{name}/manifests/{stored.digest}",
        "Docker-Content-Digest": str(stored.digest),
        "Content-Length": "0",
    }
    if stored.subject:
        # spec: a registry that processes the subject says so with OCI-Subject.
        headers["OCI-Subject"] = stored.subject
    return Response(status_code=201, headers=headers)


def _check_lookup(reference: str) -> None:
    # A reference off the tag grammar can name nothing stored: that is "unknown" (404), as the
    # conformance suite's pull of ".INVALID_MANIFEST_NAME" expects, not a malformed request.
    if not is_digest(reference) and not valid_tag(reference):
        raise ManifestUnknown({"tag": reference}, f"no manifest is tagged {reference!r}")
    _check_reference(reference)


async def get_manifest(request: Request, name: str, reference: str) -> Response:
    _check_lookup(reference)
    svc = services(request)
    stored = await in_thread(svc.manifests.get, name, reference)
    if request.method == "GET":
        # Harbor and Docker Hub count manifest GETs as pulls; by tag, the tag's count too.
        svc.pulls.count(name, None if is_digest(reference) else reference)
    headers = {
        **API_VERSION,
        "Docker-Content-Digest": str(stored.digest),
        "Content-Type": stored.media_type,
        "Content-Length": str(stored.size),
        "ETag": f'"{stored.digest}"',
    }
    body = b"" if request.method == "HEAD" else stored.content
    response = Response(body, headers=headers)
    return response


async def delete_manifest(request: Request, name: str, reference: str) -> Response:
    _check_lookup(reference)
    svc = services(request)
    await in_thread(svc.manifests.delete, name, reference, request.state.identity.username)
    await in_thread(
        svc.accounts.record,
        request.state.identity.username,
        "delete",
        namespace_of(name),
        f"{name}:{reference}",
    )
    return Response(status_code=202, headers=API_VERSION)
