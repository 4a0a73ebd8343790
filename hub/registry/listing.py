"""Tags list, catalog and referrers (spec: "Content discovery")."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.oci.errors import RegistryError
from hub.oci.manifest import OCI_INDEX
from hub.registry.blobs import parse_digest
from hub.registry.errors import API_VERSION
from hub.registry.streams import in_thread
from hub.services import services

MAX_PAGE = 10_000


class PaginationInvalid(RegistryError):
    code, status, message = "PAGINATION_NUMBER_INVALID", 400, "invalid number of results requested"


def _page(request: Request) -> tuple[int | None, str | None]:
    raw = request.query_params.get("n")
    n: int | None = None
    if raw is not None and raw != "":
        if not raw.isdigit():
            raise PaginationInvalid({"n": raw}, f"n={raw!r} must be a non-negative integer")
        n = min(int(raw), MAX_PAGE)
    return n, request.query_params.get("last") or None


def _paged(
    request: Request, key: str, items: list[str], n: int | None, extra: dict[str, str]
) -> Response:
    headers = dict(API_VERSION)
    if n is not None and len(items) > n:
        items = items[:n]
        if items:
            query = urlencode({"n": n, "last": items[-1]})
            headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
    return JSONResponse({**extra, key: items}, headers=headers)


async def tags_list(request: Request, name: str) -> Response:
    n, last = _page(request)
    # One extra row tells whether a next page exists.
    fetch = None if n is None else n + 1
    tags = await in_thread(services(request).catalog.tags, name, fetch, last)
    return _paged(request, "tags", tags, n, {"name": name})


async def catalog(request: Request) -> Response:
    n, last = _page(request)
    fetch = None if n is None else n + 1
    svc = services(request)
    visible = await in_thread(svc.access.visible_namespaces, request.state.identity)
    repos = await in_thread(svc.catalog.repositories, fetch, last, visible)
    return _paged(request, "repositories", repos, n, {})


async def referrers(request: Request, name: str, digest: str) -> Response:
    subject = parse_digest(digest)
    artifact_type = request.query_params.get("artifactType") or None
    index = await in_thread(services(request).catalog.referrers, name, subject, artifact_type)
    headers = dict(API_VERSION)
    if artifact_type:
        headers["OCI-Filters-Applied"] = "artifactType"
    return JSONResponse(index, headers=headers, media_type=OCI_INDEX)
