"""Dispatch for /v2. Repository names hold slashes, so routes are matched the way distribution
does it: by the suffix after the name (spec: "Endpoints" table)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.auth.access import Identity
from hub.oci.errors import NameInvalid, RegistryError, Unsupported
from hub.oci.reference import valid_name
from hub.registry import blobs, listing, manifests, uploads
from hub.registry.errors import API_VERSION, render
from hub.registry.streams import in_thread
from hub.services import services
from hub.storage import StorageError

log = logging.getLogger("hub.registry")

Handler = Callable[..., Awaitable[Response]]
_NAME = r"(?P<name>.+?)"
ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
    (
        re.compile(rf"^{_NAME}/manifests/(?P<reference>[^/]+)$"),
        {
            "GET": manifests.get_manifest,
            "HEAD": manifests.get_manifest,
            "PUT": manifests.put_manifest,
            "DELETE": manifests.delete_manifest,
        },
    ),
    (
        re.compile(rf"^{_NAME}/blobs/uploads/?$"),
        {"POST": uploads.start_upload},
    ),
    (
        re.compile(rf"^{_NAME}/blobs/uploads/(?P<upload_id>[^/]+)$"),
        {
            "GET": uploads.upload_status,
            "PATCH": uploads.patch_upload,
            "PUT": uploads.finish_upload,
            "DELETE": uploads.cancel_upload,
        },
    ),
    (
        re.compile(rf"^{_NAME}/blobs/(?P<digest>[^/]+)$"),
        {"GET": blobs.get_blob, "HEAD": blobs.get_blob, "DELETE": blobs.delete_blob},
    ),
    (re.compile(rf"^{_NAME}/tags/list$"), {"GET": listing.tags_list}),
    (re.compile(rf"^{_NAME}/referrers/(?P<digest>[^/]+)$"), {"GET": listing.referrers}),
]


class NotFound(RegistryError):
    code, status, message = "NOT_FOUND", 404, "no such endpoint"


class MethodNotAllowed(Unsupported):
    status = 405


class StorageUnavailable(RegistryError):
    code, status, message = "UNAVAILABLE", 503, "storage backend unavailable"


# Token spec: GET/HEAD pull; POST/PUT/PATCH push (which asks for "pull,push"); DELETE delete.
ACTIONS = {
    "GET": "pull",
    "HEAD": "pull",
    "POST": "push",
    "PUT": "push",
    "PATCH": "push",
    "DELETE": "delete",
}


async def identify(request: Request) -> Identity:
    access = services(request).access
    authorization = request.headers.get("authorization")
    if access.open or not authorization:
        # No credentials to check (or an open registry): AccessService answers without I/O,
        # so skip the worker-thread round trip (~15% of a manifest GET's CPU, benchmarks/).
        identity = access.authenticate(authorization)
    else:
        identity = await in_thread(access.authenticate, authorization)
    request.state.identity = identity
    return identity


async def base(request: Request) -> Response:
    """The version check; with auth on, it is where clients learn the challenge (docker login,
    wasme's authorizer priming, FORMATS.md section 2)."""
    access = services(request).access
    try:
        identity = await identify(request)
        if identity.anonymous and not access.open:
            raise access.challenge()
    except RegistryError as exc:
        return render(exc, request.method == "HEAD")
    return JSONResponse({}, headers=API_VERSION)


async def dispatch(request: Request) -> Response:
    path: str = request.path_params["path"]
    head = request.method == "HEAD"
    try:
        identity = await identify(request)
        access = services(request).access
        if path == "_catalog":
            if request.method != "GET":
                raise Unsupported(None, f"{request.method} is not allowed on /v2/_catalog")
            if identity.anonymous and not access.open:
                raise access.challenge("registry:catalog:*")
            return await listing.catalog(request)
        for pattern, methods in ROUTES:
            match = pattern.match(path)
            if match is None:
                continue
            params = match.groupdict()
            if not valid_name(params["name"]):
                raise NameInvalid(
                    {"name": params["name"]},
                    f"repository name {params['name']!r} must be lower-case path components "
                    "of [a-z0-9] joined by . _ __ - and /",
                )
            handler = methods.get(request.method)
            if handler is None:
                raise MethodNotAllowed(
                    {"method": request.method},
                    f"{request.method} is not allowed here; use {', '.join(methods)}",
                    headers={"Allow": ", ".join(methods)},
                )
            if access.open:
                access.authorize(identity, params["name"], ACTIONS[request.method])  # no I/O
            else:
                await in_thread(access.authorize, identity, params["name"], ACTIONS[request.method])
            return await handler(request, **params)
        raise NotFound({"path": f"/v2/{path}"}, f"/v2/{path} is not a registry endpoint")
    except RegistryError as exc:
        return render(exc, head)
    except StorageError:
        log.exception("storage failure on %s /v2/%s", request.method, path)
        return render(StorageUnavailable(None, "storage backend failure; try again"), head)


routes = [
    Route("/v2/", base, methods=["GET", "HEAD"]),
    Route("/v2", base, methods=["GET", "HEAD"]),
    Route(
        "/v2/{path:path}",
        dispatch,
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    ),
]
