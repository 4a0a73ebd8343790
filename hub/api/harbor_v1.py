"""The Harbor 1.x endpoints wasme calls (webassemblyhub.io was a Harbor; FORMATS.md section 2,
solo-io/wasm tools/wasme cli/pkg/cmd/list/list.go and pkg/auth/login.go). Field names and types
follow what wasme unmarshals: times are RFC 3339 (Go's time.Time; zero time when unknown),
ids are integers."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.api.common import (
    ZERO_TIME,
    int_param,
    repositories_page,
    repository_info,
    repository_name,
    require_user,
    rfc3339,
    visible,
)
from hub.api.errors import BadRequest, Unauthorized
from hub.artifacts.views import NamespaceInfo, RepositoryInfo
from hub.registry.streams import in_thread
from hub.services import services


def project_json(info: NamespaceInfo) -> dict[str, Any]:
    ns = info.namespace
    return {
        "project_id": ns.id,
        "owner_id": 0,
        "name": ns.name,
        "creation_time": rfc3339(ns.created_at),
        "update_time": rfc3339(info.updated_at),
        "deleted": False,
        "owner_name": ns.name,
        "current_user_role_id": 0,
        "current_user_role_ids": None,
        "repo_count": info.repo_count,
        "chart_count": 0,
        "metadata": {"public": "true" if ns.public else "false"},
    }


def harbor_repository_json(info: RepositoryInfo) -> dict[str, Any]:
    repo = info.repository
    return {
        "id": repo.id,
        "name": repo.name,
        "project_id": repo.namespace_id,
        "description": repo.description,
        "pull_count": repo.pulls,
        "star_count": repo.stars,
        "tags_count": info.tags_count,
        "labels": [],
        "creation_time": rfc3339(repo.created_at),
        "update_time": rfc3339(repo.updated_at),
    }


async def projects(request: Request) -> JSONResponse:
    page = int_param(request, "page", 1, 1, 100_000)
    size = int_param(request, "page_size", 100, 1, 500)
    found = await in_thread(
        services(request).details.namespaces,
        request.query_params.get("name"),
        await visible(request),
    )
    chunk = found[(page - 1) * size : page * size]
    return JSONResponse(
        [project_json(i) for i in chunk], headers={"X-Total-Count": str(len(found))}
    )


async def repositories(request: Request) -> JSONResponse:
    project_id = int_param(request, "project_id", 0, 0, 2**62)
    if not project_id:
        raise BadRequest("project_id is required", {"project_id": None})
    infos, total, _ = await repositories_page(request, project_id, "page_size", 100, 500)
    return JSONResponse(
        [harbor_repository_json(i) for i in infos], headers={"X-Total-Count": str(total)}
    )


async def tags(request: Request) -> JSONResponse:
    info = await repository_info(request, repository_name(request, detail=False), detail=False)
    return JSONResponse(
        [
            {
                "digest": t.digest,
                "name": t.name,
                "size": t.size,
                "architecture": "",
                "os": "",
                "os.version": "",
                "docker_version": "",
                "author": "",
                "created": rfc3339(t.pushed_at),
                "config": {},
                "immutable": False,
                "annotations": t.annotations,
                "signature": None,
                "labels": [],
                "push_time": rfc3339(t.pushed_at),
                "pull_time": ZERO_TIME,
            }
            for t in info.tags
        ]
    )


def raw_query(request: Request) -> str:
    """wasme builds `/api/search?q=%v` without escaping (list.go), so q is the whole query
    string: take the raw text after q= rather than letting a parser split it at '&'."""
    query = request.url.query
    if query.startswith("q="):
        return unquote_plus(query[2:])
    return request.query_params.get("q", "")


async def search(request: Request) -> JSONResponse:
    q = raw_query(request)
    found = await in_thread(services(request).details.search_names, q, await visible(request))
    return JSONResponse(
        {
            "project": [project_json(ns) for ns in found.namespaces],
            "repository": [
                {
                    "project_id": info.repository.namespace_id,
                    "project_name": info.namespace,
                    "project_public": not info.repository.private,
                    "pull_count": info.repository.pulls,
                    "repository_name": info.repository.name,
                    "tags_count": info.tags_count,
                }
                for info in found.repositories
            ],
            "chart": [],
        }
    )


async def current_user(request: Request) -> Response:
    identity = await require_user(request)
    if identity.username is None:
        raise Unauthorized("this hub has no users (HUB_AUTH=none): there is no current user")
    user = await in_thread(services(request).access.user, identity.username)
    if user is None:
        raise Unauthorized("unknown user")
    return JSONResponse(
        {
            "user_id": user.id,
            "username": user.username,
            "email": user.email or "",
            "realname": user.username,
            "comment": "",
            "deleted": False,
            "role_name": "",
            "role_id": 0,
            "has_admin_role": user.is_admin,
            "reset_uuid": "",
            "creation_time": rfc3339(user.created_at),
            "update_time": rfc3339(user.created_at),
        }
    )


routes = [
    Route("/api/projects", projects, methods=["GET"]),
    Route("/api/repositories", repositories, methods=["GET"]),
    Route("/api/repositories/{name:path}/tags", tags, methods=["GET"]),
    Route("/api/search", search, methods=["GET"]),
    Route("/api/users/current", current_user, methods=["GET"]),
]
