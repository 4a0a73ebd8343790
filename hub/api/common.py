"""Small helpers shared by the JSON API handlers."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request

from hub.api.errors import BadRequest, Unauthorized
from hub.auth import sessions
from hub.auth.access import Identity
from hub.oci.errors import Unauthorized as RegistryUnauthorized
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


async def require_user(request: Request) -> Identity:
    """A signed-in caller (HTTP Basic with a password or API token, a bearer token, or a
    browser session)."""
    identity = await identify(request)
    if identity.anonymous:
        raise Unauthorized("sign in with a hub user's name and a password or API token")
    return identity


async def visible(request: Request) -> set[int] | None:
    """Namespaces whose private repositories the caller may see (None: all)."""
    identity = await identify(request)
    found: set[int] | None = await in_thread(services(request).access.visible_namespaces, identity)
    return found
