"""Trusted publishing API (hub.auth.trusted): owners manage a repository's rules; CI exchanges
its OIDC token for a short-lived registry token that pushes that one repository.

GET    /api/v1/repositories/{name}/trusted-publishers         the rules (namespace owners)
POST   /api/v1/repositories/{name}/trusted-publishers         {"issuer","audience","claims"}
DELETE /api/v1/repositories/{name}/trusted-publishers/{id}
POST   /api/v1/trusted-publishing/exchange   {"token": "<CI OIDC token>", "repository"?}
       -> {"token", "expires_in", "repository"}: a registry bearer token
          (``Authorization: Bearer``; ``oras push --registry-token $TOKEN``; oras-py
          ``registry.auth.set_token_auth(token)``)
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.api.common import admin_scoped, json_body, require_user
from hub.api.errors import BadRequest, NotFound, Unauthorized
from hub.auth.access import Identity, namespace_of
from hub.auth.trusted import Refused, TrustError, rule_json
from hub.registry.streams import in_thread
from hub.services import services


async def _owner(request: Request, repository: str) -> Identity:
    identity = await require_user(request)
    if not admin_scoped(identity):
        raise NotFound(f"no repository {repository!r} whose publishers you manage")
    svc = services(request)
    if not await in_thread(svc.access.administers, identity, namespace_of(repository)):
        # The same answer whether or not it exists: outsiders learn nothing.
        raise NotFound(f"no repository {repository!r} whose publishers you manage")
    return identity


async def publishers(request: Request) -> Response:
    repository = request.path_params["name"]
    identity = await _owner(request, repository)
    trusted = services(request).trusted
    if request.method == "GET":
        found = await in_thread(trusted.rules, repository)
        return JSONResponse({"trusted_publishers": [rule_json(r) for r in found]})
    body = await json_body(request)
    issuer, audience = body.get("issuer"), body.get("audience")
    if not isinstance(issuer, str) or not isinstance(audience, str):
        raise BadRequest("issuer and audience (strings) and claims (object) are required")
    try:
        rule = await in_thread(
            trusted.add, repository, issuer, audience, body.get("claims"), identity.username
        )
    except TrustError as exc:
        raise BadRequest(str(exc)) from None
    return JSONResponse(rule_json(rule), status_code=201)


async def remove(request: Request) -> Response:
    repository = request.path_params["name"]
    identity = await _owner(request, repository)
    raw = request.path_params["rule_id"]
    if not raw.isdigit():
        raise BadRequest("trusted publisher ids are integers")
    removed = await in_thread(
        services(request).trusted.remove, repository, int(raw), identity.username
    )
    if not removed:
        raise NotFound(f"no trusted publisher {raw} on {repository!r}")
    return Response(status_code=204)


async def exchange(request: Request) -> Response:
    body = await json_body(request)
    token, repository = body.get("token"), body.get("repository")
    if not isinstance(token, str) or not token:
        raise BadRequest('send {"token": "<the CI job\'s OIDC token>"}')
    if repository is not None and not isinstance(repository, str):
        raise BadRequest("repository must be a string")
    try:
        done = await in_thread(services(request).trusted.exchange, token, repository)
    except Refused as exc:
        raise Unauthorized(str(exc)) from None
    except TrustError as exc:
        raise BadRequest(str(exc)) from None
    return JSONResponse(
        {"token": done.token, "expires_in": done.expires_in, "repository": done.repository},
        headers={"Cache-Control": "no-store"},
    )


routes = [
    Route("/api/v1/trusted-publishing/exchange", exchange, methods=["POST"]),
    Route(
        "/api/v1/repositories/{name:path}/trusted-publishers",
        publishers,
        methods=["GET", "POST"],
    ),
    Route(
        "/api/v1/repositories/{name:path}/trusted-publishers/{rule_id}",
        remove,
        methods=["DELETE"],
    ),
]
