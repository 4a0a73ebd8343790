"""Browser sign-in and sign-out (issue 4). These answer with redirects, never pages: the
sign-in page itself is hub/web's (it posts the local form here and links each provider's
button to ``GET /signin/{name}``).

POST /signin/local    form: username, password, csrf_token, next
                      -> 303 to ``next`` with the session cookie, or 303 to /signin?error=...
POST /signout         form (or X-CSRF-Token header): csrf_token -> 303 to /
POST /signout/everywhere  the same, and every other session of the user ends too (/settings)
DELETE /api/v1/user/sessions  the JSON API's way to sign out everywhere -> 204
GET  /api/v1/csrf-token   {"csrf_token": ...} for scripts (sets the hub_csrf cookie if absent)
GET  /signin/{name}?next=/path   303 to the provider (GitHub or an OIDC provider, PKCE + state
                      (+ nonce)); GET /signin/{name}/callback completes it: 303 to next with the
                      session cookie (a first sign-in makes the user and their namespace), or
                      303 to /signin?error=...
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from hub.api.accounts import _may_manage_credentials
from hub.api.common import require_user
from hub.api.errors import ApiError, Forbidden
from hub.auth import sessions
from hub.auth.oauth import SigninFailed
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


async def _check_form_csrf(request: Request) -> None:
    submitted = request.headers.get(sessions.CSRF_HEADER)
    if submitted is None:
        submitted = _field((await request.form()).get(sessions.CSRF_FIELD))
    await sessions.check_csrf(request, submitted)


async def signout(request: Request) -> Response:
    await _check_form_csrf(request)
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


async def _end_everywhere(request: Request, user_id: int, username: str) -> None:
    svc = services(request)
    await sessions.revoke_everywhere(request, user_id)
    user = await in_thread(svc.access.user, username)
    await in_thread(
        svc.signin.record,
        user,
        username,
        "sign-out.everywhere",
        {"address": client_address(request)},
    )


async def signout_everywhere(request: Request) -> Response:
    """The /settings button: every browser session of the signed-in user ends, this one too
    (e.g. after signing in on a shared computer, or when a cookie may have been copied)."""
    await _check_form_csrf(request)
    identity = await sessions.session_identity(request)
    response = RedirectResponse("/", status_code=303)
    if identity is not None and identity.user_id is not None and identity.username:
        await _end_everywhere(request, identity.user_id, identity.username)
    sessions.end_session(response, request)
    return response


async def delete_sessions(request: Request) -> Response:
    """DELETE /api/v1/user/sessions: sign the caller out of every browser."""
    identity = await require_user(request)
    _may_manage_credentials(identity)  # as for minting tokens: not with a pull/push token
    if identity.granted is not None or identity.user_id is None:  # a registry bearer token
        raise Forbidden("this needs a password sign-in, a token with the admin scope or a session")
    assert identity.username is not None
    await _end_everywhere(request, identity.user_id, identity.username)
    response = Response(status_code=204)
    if not request.headers.get("authorization"):  # signed in by this browser's cookie
        sessions.end_session(response, request)
    return response


def _flow_cookie(request: Request, value: str, max_age: int) -> bytes:
    store = services(request).sessions
    return store.cookie_header(sessions.OAUTH_COOKIE, value, max_age, path="/signin").encode()


async def provider_start(request: Request) -> Response:
    """Send the browser to the provider; the flow's secrets ride in a signed cookie."""
    name = request.path_params["name"]
    next_url = safe_next(request.query_params.get("next"))
    svc = services(request)
    try:
        started = await svc.oauth.start(name)
    except SigninFailed as exc:
        return back_to_signin(str(exc), next_url)
    response = RedirectResponse(started.url, status_code=303)
    cookie = svc.sessions.sign_flow({**started.flow, "next": next_url})
    response.raw_headers.append(
        (b"set-cookie", _flow_cookie(request, cookie, sessions.OAUTH_SECONDS))
    )
    return response


async def provider_callback(request: Request) -> Response:
    """The provider sends the browser back here with a code (or an error)."""
    name = request.path_params["name"]
    svc = services(request)
    raw = request.cookies.get(sessions.OAUTH_COOKIE)
    flow = svc.sessions.read_flow(raw) if raw else None
    next_url = safe_next(flow.get("next")) if flow else "/"
    address = client_address(request)
    try:
        found = await svc.oauth.finish(name, dict(request.query_params), flow)
    except SigninFailed as exc:
        failed = back_to_signin(str(exc), next_url)
        failed.raw_headers.append((b"set-cookie", _flow_cookie(request, "", 0)))
        await in_thread(
            svc.signin.record, None, "", "sign-in.failed", {"method": name, "reason": str(exc)}
        )
        return failed
    user, created = await in_thread(svc.signin.user_for, found)
    assert user.id is not None
    response = RedirectResponse(next_url, status_code=303)
    response.raw_headers.append((b"set-cookie", _flow_cookie(request, "", 0)))
    if request.cookies.get(sessions.SESSION_COOKIE):
        await sessions.revoke(request)
    sessions.start_session(response, user.id, request)
    await in_thread(
        svc.signin.record,
        user,
        user.username,
        "sign-in",
        {"method": name, "address": address, "new_user": created},
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
    Route("/signout/everywhere", signout_everywhere, methods=["POST"]),
    Route("/api/v1/user/sessions", delete_sessions, methods=["DELETE"]),
    Route("/api/v1/csrf-token", csrf, methods=["GET"]),
    Route("/signin/{name}", provider_start, methods=["GET"]),
    Route("/signin/{name}/callback", provider_callback, methods=["GET"]),
]
