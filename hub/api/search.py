"""GET /api/v1/search: full-text search over repositories, with facets.

    ?q=&abi=&variant=&namespace=&toolchain=&loads=yes|no&sort=relevance|stars|pulls|updated&page=&per_page=

answers ``{"results": [...], "total": N, "page": p, "per_page": n, "facets": {...}}``; the
ranking is documented in hub/search/ranking.py. Bad parameters answer 400 in the API's error
envelope.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.api.common import int_param, rfc3339, visible
from hub.api.errors import BadRequest
from hub.registry.streams import in_thread
from hub.search import InvalidQuery, SearchHit, SearchQuery
from hub.search.base import MAX_PAGE, MAX_PER_PAGE
from hub.services import services


def parse(request: Request, seen: set[int] | None) -> SearchQuery:
    params = request.query_params
    page = int_param(request, "page", 1, 1, MAX_PAGE)
    per_page = int_param(request, "per_page", 20, 1, MAX_PER_PAGE)
    try:
        return SearchQuery(
            q=params.get("q", ""),
            abi=params.get("abi") or None,
            variant=params.get("variant") or None,
            namespace=params.get("namespace") or None,
            toolchain=params.get("toolchain") or None,
            loads=params.get("loads") or None,
            sort=params.get("sort") or "relevance",
            page=page,
            per_page=per_page,
            visible_namespaces=None if seen is None else frozenset(seen),
        )
    except InvalidQuery as exc:
        raise BadRequest(exc.message, {exc.parameter: params.get(exc.parameter)}) from None


def hit_json(hit: SearchHit) -> dict[str, Any]:
    return {
        "repository": hit.repository,
        "namespace": hit.namespace,
        "description": hit.description,
        "keywords": hit.keywords,
        "stars": hit.stars,
        "pulls": hit.pulls,
        "updated_at": rfc3339(hit.updated_at),
        "latest_tag": hit.latest_tag,
        "variant": hit.variant,
        "abi_versions": hit.abi_versions,
        "toolchain": hit.toolchain,
        "loads": hit.loads,
        "private": hit.private,
        "exact": hit.exact,
        "score": round(hit.score, 6),
    }


async def search(request: Request) -> JSONResponse:
    # Private repositories only for those who may see them, exactly as listings do; bad
    # credentials are a 401, no credentials are anonymous.
    query = parse(request, await visible(request))
    result = await in_thread(services(request).search.query, query)
    return JSONResponse(
        {
            "results": [hit_json(hit) for hit in result.results],
            "total": result.total,
            "page": query.page,
            "per_page": query.per_page,
            "facets": result.facets,
        }
    )


routes = [Route("/api/v1/search", search, methods=["GET"])]
