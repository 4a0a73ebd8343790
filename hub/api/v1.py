"""The hub's own JSON API, /api/v1: repositories with their tags and module facts, metadata
updates, and a plain HTTP download of a module by the sha256 of its bytes — Envoy's and
Istio's http(s):// code sources cannot do the registry token flow (FORMATS.md section 4)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from hub.api.common import (
    identify,
    repositories_page,
    repository_info,
    repository_name,
    rfc3339,
    visible,
)
from hub.api.errors import BadRequest, Forbidden, NotFound
from hub.artifacts.views import RepositoryInfo, TagInfo, module_json
from hub.auth.access import namespace_of
from hub.oci.digest import Digest
from hub.oci.errors import NameUnknown
from hub.registry.streams import in_thread
from hub.services import services

EDITABLE = {
    "description": 1024,
    "readme": 200_000,
    "keywords": 1024,
    "source_url": 1024,
    "licenses": 255,
}


def repository_json(info: RepositoryInfo) -> dict[str, Any]:
    repo = info.repository
    return {
        "repository": repo.name,
        "namespace": info.namespace,
        "description": repo.description,
        "keywords": [k for k in repo.keywords.split(",") if k],
        "source_url": repo.source_url,
        "licenses": repo.licenses,
        "stars": repo.stars,
        "pulls": repo.pulls,
        "tags_count": info.tags_count,
        "private": repo.private,
        "created_at": rfc3339(repo.created_at),
        "updated_at": rfc3339(repo.updated_at),
    }


def tag_json(tag: TagInfo) -> dict[str, Any]:
    return {
        "name": tag.name,
        "digest": tag.digest,
        "media_type": tag.media_type,
        "size": tag.size,
        "pushed_at": rfc3339(tag.pushed_at),
        "pulls": tag.pulls,
        "annotations": tag.annotations,
        "module": module_json(tag.module),
    }


async def list_repositories(request: Request) -> JSONResponse:
    infos, total, page = await repositories_page(request, None, "per_page", 50, 100)
    return JSONResponse(
        {"results": [repository_json(i) for i in infos], "total": total, "page": page}
    )


async def repository_routes(request: Request) -> Response:
    """/api/v1/repositories/<name>[/tags]: names hold slashes, so the suffix is split here."""
    path: str = request.path_params["path"]
    if path.endswith("/tags"):
        request.path_params["name"] = path[: -len("/tags")]
        info = await repository_info(request, repository_name(request))
        return JSONResponse(
            {"repository": info.repository.name, "tags": [tag_json(t) for t in info.tags]}
        )
    request.path_params["name"] = path
    name = repository_name(request)
    if request.method == "PATCH":
        return await _update(request, name)
    info = await repository_info(request, name)
    readme = info.repository.readme
    return JSONResponse(
        {**repository_json(info), "readme": readme, "tags": [tag_json(t) for t in info.tags]}
    )


async def _update(request: Request, name: str) -> Response:
    identity = await identify(request)  # anonymous is fine on an open hub; authorize decides
    access = services(request).access
    await in_thread(access.authorize, identity, name, "push")
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(body, dict) or not body:
        raise BadRequest(f"send a JSON object with any of {sorted(EDITABLE)} or private")
    changes: dict[str, str | bool] = {}
    if "private" in body:
        value = body.pop("private")
        if not isinstance(value, bool):
            raise BadRequest("private must be true or false")
        # Visibility is the namespace owners' decision, not every pusher's.
        if not await in_thread(services(request).access.administers, identity, namespace_of(name)):
            raise Forbidden("only owners of the namespace may change visibility")
        changes["private"] = value
    for key, value in body.items():
        if key not in EDITABLE:
            raise BadRequest(f"{key!r} cannot be changed; editable: {sorted(EDITABLE)}")
        if key == "keywords" and isinstance(value, list):
            value = ",".join(str(v).strip().lower() for v in value if str(v).strip())
        if not isinstance(value, str) or len(value) > EDITABLE[key]:
            raise BadRequest(f"{key} must be a string of at most {EDITABLE[key]} characters")
        changes[key] = value
    try:
        await in_thread(services(request).details.update_metadata, name, changes)
    except NameUnknown:
        raise NotFound(f"repository {name!r} does not exist") from None
    info = await repository_info(request, name)
    return JSONResponse({**repository_json(info), "readme": info.repository.readme})


async def download_module(request: Request) -> Response:
    raw: str = request.path_params["sha256"]
    hex_digest = raw.removeprefix("sha256:").removesuffix(".wasm")
    try:
        digest = Digest.parse(f"sha256:{hex_digest}")
    except ValueError:
        raise BadRequest("name a module by the sha256 hex of its bytes", {"sha256": raw}) from None
    svc = services(request)
    module = await in_thread(svc.details.module_by_sha256, digest.hex, await visible(request))
    if module is None:
        raise NotFound(f"no module with sha256 {digest.hex}")
    url = svc.blobs.redirect_url(digest)
    if url is not None:
        return RedirectResponse(url, status_code=307)
    headers = {
        "Content-Type": "application/wasm",
        "Content-Length": str(module.module_size),
        "ETag": f'"{digest}"',
        "Cache-Control": "max-age=31536000, immutable",
        "Docker-Content-Digest": str(digest),
    }
    if request.method == "HEAD":
        return Response(headers=headers)
    chunks = await in_thread(svc.blobs.read, digest, 0, None)
    return StreamingResponse(chunks, headers=headers)


routes = [
    Route("/api/v1/repositories", list_repositories, methods=["GET"]),
    Route("/api/v1/repositories/{path:path}", repository_routes, methods=["GET", "PATCH"]),
    Route("/api/v1/modules/{sha256}", download_module, methods=["GET", "HEAD"]),
]
