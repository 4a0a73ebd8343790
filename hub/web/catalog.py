"""The home page and search. Search renders its results on the server (the page works
without JavaScript); static/search.js then re-queries /api/v1/search as the visitor types."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from hub.api.search import parse
from hub.registry.streams import in_thread
from hub.search import SearchQuery
from hub.search.base import FACETS, SORTS
from hub.services import services
from hub.web.context import html_errors, page, viewer

HOME_CARDS = 6
FACET_TITLES = {
    "abi": "ABI",
    "variant": "Variant",
    "toolchain": "Toolchain",
    "namespace": "Namespace",
    "loads": "Loads in proxy-wasm host",
}
SORT_TITLES = {
    "relevance": "Best match",
    "stars": "Most stars",
    "pulls": "Most pulls",
    "updated": "Recently updated",
}


def _frozen(visible: set[int] | None) -> frozenset[int] | None:
    return None if visible is None else frozenset(visible)


@html_errors
async def home(request: Request) -> Response:
    who = await viewer(request)
    search = services(request).search
    seen = _frozen(who.visible)
    recent = await in_thread(
        search.query, SearchQuery(sort="updated", per_page=HOME_CARDS, visible_namespaces=seen)
    )
    popular = await in_thread(
        search.query, SearchQuery(sort="pulls", per_page=HOME_CARDS, visible_namespaces=seen)
    )
    return await page(
        request,
        "home.html",
        {"recent": recent.results, "popular": popular.results, "total": recent.total},
    )


def pages(current: int, last: int) -> list[int | None]:
    """Page numbers to link: the first, the last and two either side (None: a gap)."""
    wanted = {1, last, *range(current - 2, current + 3)}
    shown = sorted(p for p in wanted if 1 <= p <= last)
    out: list[int | None] = []
    previous = 0
    for p in shown:
        if previous and p - previous > 1:
            out.append(None)
        out.append(p)
        previous = p
    return out


@html_errors
async def search_page(request: Request) -> Response:
    who = await viewer(request)
    query = parse(request, who.visible)  # the API's own parser: same limits, same messages
    result = await in_thread(services(request).search.query, query)
    params: dict[str, Any] = {
        "q": query.q,
        "abi": query.abi,
        "variant": query.variant,
        "toolchain": query.toolchain,
        "namespace": query.namespace,
        "loads": query.loads,
        "sort": None if query.sort == "relevance" else query.sort,
    }
    last = max(1, -(-result.total // query.per_page))
    return await page(
        request,
        "search.html",
        {
            "query": query,
            "params": params,
            "result": result,
            "facet_names": FACETS,
            "facet_titles": FACET_TITLES,
            "sorts": SORTS,
            "sort_titles": SORT_TITLES,
            "pages": pages(query.page, last),
            "last_page": last,
        },
    )
