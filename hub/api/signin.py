"""Browser sign-in and sign-out (issue 4). These answer with redirects, never pages: the
sign-in page itself is hub/web's (it posts the local form here and links each provider's
button to ``GET /signin/{name}``).

POST /signin/local    form: username, password, csrf_token, next
                      -> 303 to ``next`` with the session cookie, or 303 to /signin?error=...
POST /signout         form (or X-CSRF-Token header): csrf_token -> 303 to /
GET  /api/v1/csrf-token   {"csrf_token": ...} for scripts (sets the hub_csrf cookie if absent)
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from hub.api.errors import ApiError
from hub.auth import sessions
from hub.registry.streams import in_thread
from hub.services import services


class TooManyRequests(ApiError):
    status, code = 429, "TOO_MANY_REQUESTS"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, {"retry_after": retry_after})
        self.retry_after = retry_after

    def response(self) -> JSONResponse:
        found = super().response()
        found.headers["Retry-After"] = str(self.retry_after)
        return found


def safe_next(raw: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site (an open
    redirect would let a phishing link borrow the hub's name)."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/"
    if any(ord(c) < 0x20 or c == "\x7f" for c in raw):
        return "/"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return "/"
    return raw


def back_to_signin(error: str, next_url: str) -> RedirectResponse:
    query = {"error": error}
    if next_url != "/":
        query["next"] = next_url
    return RedirectResponse(f"/signin?{urlencode(query)}", status_code=303)


def client_address(request: Request) -> str:
    # uvicorn runs with proxy_headers, so behind a trusted proxy this is the forwarded client.
    return request.client.host if request.client else "unknown"


async def signin_local(request: Request) -> Response:
    form = await request.form()
    await sessions.check_csrf(request, _field(form.get(sessions.CSRF_FIELD)))
    next_url = safe_next(_field(form.get("next")))
    username = (_field(form.get("username")) or "").strip()
    password = _field(form.get("password")) or ""
    if not username or not password:
        return back_to_signin("Enter your username and password.", next_url)
    svc = services(request)
    address = client_address(request)
    wait = await in_thread(svc.signin.retry_after, address, username)
    if wait is not None:
        raise TooManyRequests(
            f"too many sign-in attempts; try again in {wait} seconds", retry_after=wait
        )
    user = await in_thread(svc.signin.check_password, username, password)
    await in_thread(svc.signin.record_attempt, address, username, user is None)
    if user is None or user.id is None:
        await in_thread(
            svc.signin.record,
            None,
            username,
            "sign-in.failed",
            {"method": "password", "address": address},
        )
        return back_to_signin("The username or password is not right.", next_url)
    response = RedirectResponse(next_url, status_code=303)
    if request.cookies.get(sessions.SESSION_COOKIE):
        await sessions.revoke(request)  # a fresh session id on every sign-in (no fixation)
    sessions.start_session(response, user.id, request)
    await in_thread(
        svc.signin.record,
        user,
        user.username,
        "sign-in",
        {"method": "password", "address": address},
    )
    return response


async def signout(request: Request) -> Response:
    submitted = request.headers.get(sessions.CSRF_HEADER)
    if submitted is None:
        submitted = _field((await request.form()).get(sessions.CSRF_FIELD))
    await sessions.check_csrf(request, submitted)
    identity = await sessions.revoke(request)
    response = RedirectResponse("/", status_code=303)
    sessions.end_session(response, request)
    if identity is not None and identity.username:
        svc = services(request)
        user = await in_thread(svc.access.user, identity.username)
        await in_thread(
            svc.signin.record,
            user,
            identity.username,
            "sign-out",
            {"address": client_address(request)},
        )
    return response


async def csrf(request: Request) -> Response:
    """This browser's CSRF token, for scripts that did not get it from a page (Django's
    pattern: other origins cannot read the answer, same-origin policy)."""
    token = sessions.csrf_token(request)
    return JSONResponse(
        {"csrf_token": token, "header": sessions.CSRF_HEADER, "field": sessions.CSRF_FIELD},
        headers={"Cache-Control": "no-store"},
    )


def _field(value: object) -> str | None:
    return value if isinstance(value, str) else None


routes = [
    Route("/signin/local", signin_local, methods=["POST"]),
    Route("/signout", signout, methods=["POST"]),
    Route("/api/v1/csrf-token", csrf, methods=["GET"]),
]
