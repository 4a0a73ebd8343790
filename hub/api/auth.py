"""The registry token endpoint (distribution docs/spec/auth/token.md and oauth.md) and the
JWKS of its signing key.

GET  /auth/token?service=..&scope=..&scope=..   with Basic credentials, or none (anonymous)
POST /auth/token   form: grant_type=password|refresh_token, service, client_id, scope (space
                   separated), username/password or refresh_token, access_type=offline
wasme POSTs first with client_id=containerd-client and falls back to GET on 404/401/405
(FORMATS.md section 2)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.api.errors import BadRequest, Unauthorized
from hub.auth.access import ANONYMOUS, Identity
from hub.auth.tokens import TOKEN_SECONDS, InvalidToken
from hub.oci.errors import RegistryError
from hub.registry.streams import in_thread
from hub.services import services

Scope = tuple[str, str, set[str]]


def parse_scope(raw: str) -> Scope:
    """`type[(class)]:name:actions`; the name may hold host:port, so the type is cut at the
    first colon and the actions at the last."""
    kind, sep, rest = raw.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not name:
        raise BadRequest(f"scope {raw!r} is not type:name:actions", {"scope": raw})
    kind = kind.split("(", 1)[0]
    return kind, name, {a for a in actions.split(",") if a}


def _scopes(values: list[str]) -> list[Scope]:
    # Several scopes come as repeated parameters, or space-separated in one (token.md).
    return [parse_scope(part) for value in values for part in value.split() if part]


async def _answer(
    request: Request, identity: Identity, scopes: list[Scope], offline: bool
) -> JSONResponse:
    access = services(request).access
    granted = await in_thread(access.grant, identity, scopes)
    subject = identity.username or ""
    seconds = TOKEN_SECONDS
    if identity.expires_at is not None:
        # Bought with a registry token (a trusted publisher's, as a password): no longer-lived
        # than it, and no refresh token, which would outlive it.
        seconds = min(seconds, identity.expires_at - int(time.time()))
        if seconds <= 0:
            raise Unauthorized("the token used as the password has expired")
        offline = False
    token = access.issuer.issue(subject, granted, seconds=seconds)
    body: dict[str, object] = {
        "token": token,
        "access_token": token,
        "expires_in": seconds,
        "issued_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    if offline and not identity.anonymous:
        body["refresh_token"] = access.issuer.issue_refresh(subject)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _scheme(request: Request) -> str:
    return request.headers.get("authorization", "").partition(" ")[0].lower()


async def token_get(request: Request) -> JSONResponse:
    access = services(request).access
    try:
        identity = await in_thread(access.authenticate, request.headers.get("authorization"))
    except RegistryError:
        raise Unauthorized("the credentials are not valid") from None
    if identity.granted is not None and _scheme(request) == "bearer":
        # A Bearer header cannot buy another token (token.md: the token endpoint takes Basic);
        # a registry token sent as the Basic password can, with its limits (see _answer).
        raise Unauthorized("present a username and password or API token")
    offline = request.query_params.get("offline_token") == "true"
    return await _answer(request, identity, _scopes(request.query_params.getlist("scope")), offline)


async def token_post(request: Request) -> JSONResponse:
    access = services(request).access
    form = await request.form()
    grant = str(form.get("grant_type") or "")
    identity: Identity | None
    if grant == "password":
        username, password = str(form.get("username") or ""), str(form.get("password") or "")
        identity = await in_thread(access.login, username, password)
    elif grant == "refresh_token":
        try:
            subject = access.issuer.verify_refresh(str(form.get("refresh_token") or ""))
        except InvalidToken:
            raise Unauthorized("the refresh token is not valid") from None
        user = await in_thread(access.user, subject)
        identity = (
            Identity(user_id=user.id, username=user.username, is_admin=user.is_admin)
            if user is not None
            else None
        )
    else:
        raise BadRequest("grant_type must be password or refresh_token", {"grant_type": grant})
    if identity is None:
        raise Unauthorized("the credentials are not valid")
    if access.open:
        identity = ANONYMOUS
    offline = str(form.get("access_type") or "") == "offline"
    return await _answer(request, identity, _scopes([str(form.get("scope") or "")]), offline)


async def jwks(request: Request) -> JSONResponse:
    return JSONResponse(services(request).access.issuer.jwks())


routes = [
    Route("/auth/token", token_get, methods=["GET"]),
    Route("/auth/token", token_post, methods=["POST"]),
    Route("/auth/jwks.json", jwks, methods=["GET"]),
]
