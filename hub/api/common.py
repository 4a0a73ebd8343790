"""Small helpers shared by the JSON API handlers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from hub.api.errors import ApiError, BadRequest, NotFound, Unauthorized
from hub.artifacts.views import RepositoryInfo
from hub.auth import sessions
from hub.auth.access import Identity
from hub.oci.errors import NameUnknown
from hub.oci.errors import Unauthorized as RegistryUnauthorized
from hub.oci.reference import valid_name
from hub.registry.streams import in_thread
from hub.services import services

# Go's time.Time cannot unmarshal an empty string; wasme reads these fields, so a missing time
# is Go's zero time, not null.
ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(value: datetime | None) -> str:
    if value is None:
        return ZERO_TIME
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    # isascii: str.isdigit() is true for '²', which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not lo <= int(raw) <= hi:
        raise BadRequest(f"{name} must be an integer from {lo} to {hi}", {name: raw})
    return int(raw)


async def identify(request: Request) -> Identity:
    """The caller (anonymous without credentials); bad credentials are a 401.

    Without an Authorization header the browser session cookie counts (hub.auth.sessions);
    an unsafe method authenticated only by the cookie must carry the page's X-CSRF-Token, so
    another site cannot make a signed-in browser call the API. /v2 never reads the cookie."""
    authorization = request.headers.get("authorization")
    if not authorization and request.cookies.get(sessions.SESSION_COOKIE):
        found = await sessions.session_identity(request)
        if found is not None:
            if request.method in sessions.UNSAFE_METHODS:
                await sessions.check_csrf(request, request.headers.get(sessions.CSRF_HEADER))
            request.state.identity = found
            return found
    access = services(request).access
    try:
        identity: Identity = await in_thread(access.authenticate, authorization)
    except RegistryUnauthorized:
        raise Unauthorized("the credentials are not valid") from None
    request.state.identity = identity
    return identity


async def require_user(request: Request, open_hub_ok: bool = False) -> Identity:
    """A signed-in caller (HTTP Basic with a password or API token, a bearer token, or a
    browser session); with `open_hub_ok`, an anonymous one too when the hub is open."""
    identity = await identify(request)
    if identity.anonymous and not (open_hub_ok and services(request).access.open):
        raise Unauthorized("sign in with a hub user's name and a password or API token")
    return identity


def admin_scoped(identity: Identity) -> bool:
    """Whether the credentials carry the admin scope: a password or browser sign-in does, a
    token only if issued with it. A pull or push token must not manage credentials or owners'
    settings, or it could mint itself broader ones."""
    return identity.token_actions is None or "admin" in identity.token_actions


async def json_body(request: Request) -> dict[str, Any]:
    """The request body, which must be a JSON object."""
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def translate(exc: Exception, errors: Mapping[type[Exception], type[ApiError]]) -> ApiError:
    """A service's refusal as the API error `errors` maps its class to (else a 400), with
    the service's message."""
    for kind, error in errors.items():
        if isinstance(exc, kind):
            return error(str(exc))
    return BadRequest(str(exc))


async def visible(request: Request) -> set[int] | None:
    """Namespaces whose private repositories the caller may see (None: all)."""
    identity = await identify(request)
    found: set[int] | None = await in_thread(services(request).access.visible_namespaces, identity)
    return found


# -- repositories ----------------------------------------------------------------------------
# `detail=False` keeps the Harbor endpoints' errors as they always were: a message only.


def repository_name(request: Request, detail: bool = True) -> str:
    """The repository named by the path, checked."""
    name: str = request.path_params["name"]
    if not valid_name(name):
        raise BadRequest(
            f"{name!r} is not a repository name", {"repository": name} if detail else None
        )
    return name


async def repository_info(request: Request, name: str, detail: bool = True) -> RepositoryInfo:
    """The repository with its tags, if the caller may see it (else 404, as if missing)."""
    seen = await visible(request)
    try:
        return await in_thread(services(request).details.repository, name, seen)
    except NameUnknown:
        named = {"repository": name} if detail else None
        raise NotFound(f"repository {name!r} does not exist", named) from None


async def repositories_page(
    request: Request, namespace_id: int | None, size_param: str, default_size: int, max_size: int
) -> tuple[list[RepositoryInfo], int, int]:
    """One page of the repositories the caller may see, in one namespace or in all: the
    page's infos, the total and the page number (query `page`, and `size_param` per page)."""
    page = int_param(request, "page", 1, 1, 100_000)
    size = int_param(request, size_param, default_size, 1, max_size)
    infos, total = await in_thread(
        services(request).details.repositories,
        namespace_id,
        (page - 1) * size,
        size,
        await visible(request),
    )
    return infos, total, page
