"""Who is looking, what they may see, and the error pages. Identity comes from
hub.api.common.identify() (API token, password, bearer token or the session cookie) and
visibility from hub.auth.access: the web pages make no access decisions of their own."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from hub.api.common import identify
from hub.api.errors import ApiError
from hub.auth import sessions
from hub.auth.access import ANONYMOUS, Identity
from hub.oci.errors import RegistryError
from hub.registry.streams import in_thread
from hub.services import services
from hub.web.templating import registry_host, render, template_exists

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Viewer:
    identity: Identity
    visible: set[int] | None  # namespaces whose private repositories they may see; None: all

    @property
    def username(self) -> str | None:
        return self.identity.username


async def viewer(request: Request) -> Viewer:
    """The person looking at the page. Credentials that no longer work (a revoked token, an
    expired session) make them anonymous here rather than an error page: they can sign in."""
    found: Viewer | None = getattr(request.state, "viewer", None)
    if found is not None:
        return found
    cookie_form = (
        request.method in sessions.UNSAFE_METHODS
        and not request.headers.get("authorization")
        and request.cookies.get(sessions.SESSION_COOKIE)
    )
    if cookie_form:
        # A form post from a signed-in browser: identify() would want the X-CSRF-Token
        # header scripts send; every form handler checks the form's csrf_token field
        # (check_csrf) before it changes anything.
        identity = await sessions.session_identity(request) or ANONYMOUS
    else:
        try:
            identity = await identify(request)
        except ApiError:
            identity = ANONYMOUS
    access = services(request).access
    if identity.user_id is None:
        # No database work for an anonymous caller: skip the thread hop.
        visible = access.visible_namespaces(identity)
    else:
        visible = await in_thread(access.visible_namespaces, identity)
    found = Viewer(identity, visible)
    request.state.viewer = found
    return found


def csrf_token(request: Request) -> str:
    """The token forms carry as ``csrf_token`` (and scripts send as X-CSRF-Token)."""
    return sessions.csrf_token(request)


async def check_csrf(request: Request, submitted: str | None) -> None:
    """403 unless the form carried this browser's CSRF token (hub.auth.sessions)."""
    await sessions.check_csrf(request, submitted)


async def page(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """Render a page with what every page shows: the viewer and the search box."""
    who = await viewer(request)
    settings = services(request).settings
    base = {
        "viewer": who.username,
        "csrf_token": csrf_token(request) if who.username else "",
        "hub_host": registry_host(settings.base_url),
        "base_url": settings.base_url,
        "open_hub": settings.auth == "none",
        "q": request.query_params.get("q", ""),
    }
    return render(request, name, {**base, **context}, status_code)


async def error_page(request: Request, status: int, message: str) -> Response:
    title = {404: "Not found", 403: "Not allowed", 401: "Sign-in required"}.get(status, "Error")
    return await page(
        request, "error.html", {"status": status, "title": title, "message": message}, status
    )


def html_errors(handler: Handler) -> Handler:
    """Errors of the services as HTML pages. A private repository the viewer may not see is
    the same 404 as a missing one (hub.auth.access never tells an outsider it exists)."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except RegistryError as exc:
            status = exc.status if exc.status in (400, 401, 403, 404) else 500
            if status == 404:
                return await error_page(request, 404, "There is no such page, or it is private.")
            return await error_page(request, status, exc.text)
        except ApiError as exc:
            if exc.status == 404:
                return await error_page(request, 404, "There is no such page, or it is private.")
            return await error_page(request, exc.status, exc.message)

    return wrapped


TRYIT_TEMPLATE = "_tryit.html"


def has_tryit() -> bool:
    """The playground's "Try it" tab ships its own template; show the tab only with it."""
    return template_exists(TRYIT_TEMPLATE)
