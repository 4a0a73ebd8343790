"""Account API: the signed-in user, API tokens, organisations (members, robots, audit log)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.api.common import admin_scoped, json_body, require_user, rfc3339, translate
from hub.api.errors import ApiError, BadRequest, Forbidden, NotFound
from hub.auth.access import Identity
from hub.auth.accounts import AccountError, Conflict, Missing, expiry
from hub.db.models import ApiToken
from hub.registry.streams import in_thread
from hub.services import services

MAX_TOKEN_DAYS = 3650


class ConflictError(ApiError):
    status, code = 409, "CONFLICT"


def _translate(exc: AccountError) -> ApiError:
    return translate(exc, {Missing: NotFound, Conflict: ConflictError})


def _may_manage_credentials(identity: Identity) -> None:
    if not admin_scoped(identity):
        raise Forbidden("this needs a password sign-in or a token with the admin scope")


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "scopes": token.scopes.split(","),
        "namespace": token.namespace,
        "expires_at": rfc3339(token.expires_at) if token.expires_at else None,
        "revoked": token.revoked_at is not None,
        "last_used_at": rfc3339(token.last_used_at) if token.last_used_at else None,
        "created_at": rfc3339(token.created_at),
    }


async def current(request: Request) -> JSONResponse:
    identity = await require_user(request)
    assert identity.username is not None
    user = await in_thread(services(request).access.user, identity.username)
    if user is None:
        # A registry bearer token whose subject is no user (e.g. a trusted publisher's).
        raise Forbidden(
            f"these credentials ({identity.username}) do not belong to a hub user; "
            "use a user's password, API token or browser session"
        )
    return JSONResponse(
        {
            "username": user.username,
            "email": user.email,
            "admin": user.is_admin,
            "created_at": rfc3339(user.created_at),
        }
    )


async def tokens(request: Request) -> Response:
    identity = await require_user(request)
    assert identity.username is not None
    accounts = services(request).accounts
    if request.method == "GET":
        found = await in_thread(accounts.tokens, identity.username)
        return JSONResponse({"tokens": [token_json(t) for t in found]})
    _may_manage_credentials(identity)
    body = await json_body(request)
    scopes = body.get("scopes", ["pull"])
    days = body.get("expires_in_days")
    namespace = body.get("namespace")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise BadRequest("scopes must be a list of strings: pull, push, admin")
    # A bool is an int to Python; a huge count overflows the expiry date (found by fuzzing).
    if days is not None and (
        not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_TOKEN_DAYS
    ):
        raise BadRequest(f"expires_in_days must be an integer from 1 to {MAX_TOKEN_DAYS}")
    if namespace is not None and (not isinstance(namespace, str) or len(namespace) > 255):
        raise BadRequest("namespace must be a namespace's name (a string) or null")
    try:
        created = await in_thread(
            accounts.create_token,
            identity.username,
            str(body.get("name") or "api"),
            ",".join(map(str, scopes)),
            namespace,
            expiry(days),
            identity.username,
        )
    except AccountError as exc:
        raise _translate(exc) from None
    return JSONResponse({**token_json(created.token), "token": created.plaintext}, status_code=201)


async def revoke(request: Request) -> Response:
    identity = await require_user(request)
    assert identity.username is not None
    _may_manage_credentials(identity)
    raw = request.path_params["token_id"]
    if not raw.isdigit():
        raise BadRequest("token ids are integers")
    try:
        await in_thread(
            services(request).accounts.revoke_token, identity.username, int(raw), identity.username
        )
    except AccountError as exc:
        raise _translate(exc) from None
    return Response(status_code=204)


async def _require_owner(request: Request, org: str) -> Identity:
    identity = await require_user(request)
    if not await in_thread(services(request).access.administers, identity, org):
        raise NotFound(f"no organisation {org!r} that you own")
    _may_manage_credentials(identity)
    return identity


async def create_org(request: Request) -> Response:
    identity = await require_user(request)
    body = await json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest("name is required")
    try:
        ns = await in_thread(services(request).accounts.create_org, name, identity.username)
    except AccountError as exc:
        raise _translate(exc) from None
    return JSONResponse({"name": ns.name, "kind": ns.kind}, status_code=201)


async def members(request: Request) -> Response:
    org = request.path_params["org"]
    identity = await _require_owner(request, org)
    accounts = services(request).accounts
    user = request.path_params.get("username")
    try:
        if request.method == "PUT":
            role = (await json_body(request)).get("role")
            if not isinstance(role, str):
                raise BadRequest("role must be a string: owner, maintainer or reader")
            await in_thread(accounts.set_member, org, user, role, identity.username)
        elif request.method == "DELETE":
            await in_thread(accounts.set_member, org, user, None, identity.username)
        found = await in_thread(accounts.members, org)
    except AccountError as exc:
        raise _translate(exc) from None
    return JSONResponse({"members": [{"username": u, "role": r} for u, r in found]})


async def robots(request: Request) -> Response:
    org = request.path_params["org"]
    identity = await _require_owner(request, org)
    body = await json_body(request)
    name, scopes = body.get("name"), body.get("scopes", ["pull"])
    if (
        not isinstance(name, str)
        or not name
        or not isinstance(scopes, list)
        or not all(isinstance(s, str) for s in scopes)
    ):
        raise BadRequest("name (string) and scopes (list of strings) are required")
    try:
        created = await in_thread(
            services(request).accounts.create_robot,
            org,
            name,
            ",".join(map(str, scopes)),
            identity.username,
        )
    except AccountError as exc:
        raise _translate(exc) from None
    robot = await in_thread(services(request).access.user_by_id, created.token.user_id)
    return JSONResponse(
        {
            "username": robot.username if robot else None,
            **token_json(created.token),
            "token": created.plaintext,
        },
        status_code=201,
    )


async def audit_log(request: Request) -> Response:
    org = request.path_params["org"]
    await _require_owner(request, org)
    events = await in_thread(services(request).accounts.audit_log, org)
    return JSONResponse(
        {
            "events": [
                {
                    "actor": e.actor,
                    "action": e.action,
                    "target": e.target,
                    "at": rfc3339(e.created_at),
                }
                for e in events
            ]
        }
    )


routes = [
    Route("/api/v1/user", current, methods=["GET"]),
    Route("/api/v1/tokens", tokens, methods=["GET", "POST"]),
    Route("/api/v1/tokens/{token_id}", revoke, methods=["DELETE"]),
    Route("/api/v1/orgs", create_org, methods=["POST"]),
    Route("/api/v1/orgs/{org}/members", members, methods=["GET"]),
    Route("/api/v1/orgs/{org}/members/{username}", members, methods=["PUT", "DELETE"]),
    Route("/api/v1/orgs/{org}/robots", robots, methods=["POST"]),
    Route("/api/v1/orgs/{org}/audit", audit_log, methods=["GET"]),
]
