"""PUT/DELETE /api/v1/repositories/<name>/star: star or unstar a repository the caller may see.
Answers {"repository", "starred", "stars"}; a private repository the caller cannot see is a
404, exactly like its other endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.api.common import repository_name, require_user, visible
from hub.api.errors import NotFound, Unauthorized
from hub.oci.errors import NameUnknown
from hub.registry.streams import in_thread
from hub.services import services


async def star(request: Request) -> JSONResponse:
    identity = await require_user(request)
    if identity.user_id is None:  # a bearer token for a subject that is no user
        raise Unauthorized("sign in as a hub user to star repositories")
    name = repository_name(request)
    starred = request.method == "PUT"
    try:
        count = await in_thread(
            services(request).stars.mark, identity.user_id, name, starred, await visible(request)
        )
    except NameUnknown:
        raise NotFound(f"repository {name!r} does not exist", {"repository": name}) from None
    return JSONResponse({"repository": name, "starred": starred, "stars": count})


routes = [Route("/api/v1/repositories/{name:path}/star", star, methods=["PUT", "DELETE"])]
