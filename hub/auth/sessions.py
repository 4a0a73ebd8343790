"""Browser sessions and CSRF protection (issue 4).

Cookies (all HttpOnly, SameSite=Lax, Path=/, Secure when HUB_BASE_URL is https):

- ``hub_session``: itsdangerous-signed ``{"u": user id, "s": session id, "t": issued at}``,
  valid for HUB_SESSION_MAX_AGE_SECONDS. Signing needs no database row, so a sign-in costs no
  write; sign-out records the session id's SHA-256 in ``browser_sessions`` with ``ended_at``,
  so a copied cookie stops working at once, on every replica. "Sign out everywhere" records
  one more row per user (``_everywhere_key``) whose ``ended_at`` ends every session issued
  until then; it expires with the last of those sessions, so the usual clean-up removes it.
- ``hub_csrf``: a random value binding forms to this browser. The CSRF token is an HMAC of it;
  a cross-site page can neither read the cookie nor compute the token, and SameSite=Lax keeps
  the cookie off cross-site POSTs anyway (OWASP CSRF cheat sheet: "signed double-submit
  cookie"). It is set by ``csrf_token`` when a page first asks for a token, via
  ``SessionCookies`` (an ASGI middleware: the page's handler never needs to touch it).

The signing secret is HUB_SECRET_KEY, or one made on first start and kept in the database
(``resolve_secret``), so sessions survive restarts and work across replicas.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.errors import Forbidden
from hub.auth.access import Identity
from hub.config import Settings
from hub.db.models import BrowserSession, ServerSecret, User, utcnow
from hub.registry.streams import in_thread

if TYPE_CHECKING:
    from hub.services import Services

SESSION_COOKIE = "hub_session"
OAUTH_COOKIE = "hub_oauth"  # an OAuth/OIDC flow in progress: state, nonce, PKCE verifier
OAUTH_SECONDS = 600
CSRF_COOKIE = "hub_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_STATE_NEW_CSRF = "hub_csrf_set_cookie"
_STATE_IDENTITY = "hub_session_identity"


# -- the secret ------------------------------------------------------------------------------


def resolve_secret(settings: Settings, engine: Engine) -> Settings:
    """``settings`` with a secret key: HUB_SECRET_KEY, else the database's (made once)."""
    if settings.secret_key:
        return settings
    with Session(engine) as session:
        row = session.get(ServerSecret, "secret_key")
        if row is None:
            try:
                session.add(ServerSecret(name="secret_key", value=secrets.token_urlsafe(48)))
                session.commit()
            except IntegrityError:  # another replica made it first: use that one
                session.rollback()
            row = session.get(ServerSecret, "secret_key")
        assert row is not None
        return replace(settings, secret_key=row.value)


# -- the store: who a cookie names, and which sessions ended --------------------------------


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _everywhere_key(user_id: int) -> str:
    """The row that ends all of a user's sessions. No session id contains ':' (they are
    token_urlsafe), so this hash never names a real session."""
    return _hash(f"everywhere:{user_id}")


def _issued(payload: dict[str, Any]) -> float:
    raw = payload.get("t")
    return float(raw) if isinstance(raw, int | float) else 0.0


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class SessionStore:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.max_age = settings.session_max_age_seconds
        self.secure = settings.base_url.startswith("https://")
        self._serializer = URLSafeTimedSerializer(
            settings.secret_key,
            salt="hub-session",
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        self._flows = URLSafeTimedSerializer(
            settings.secret_key, salt="hub-oauth", signer_kwargs={"digest_method": hashlib.sha256}
        )
        self._csrf_key = hmac.new(settings.secret_key.encode(), b"hub-csrf", "sha256").digest()

    def new_cookie(self, user_id: int) -> str:
        # "t" in milliseconds, rounded down: a sign-in right after "sign out everywhere" must
        # not count as issued before it (whole seconds would end it too).
        issued = math.floor(time.time() * 1000) / 1000
        payload = {"u": user_id, "s": secrets.token_urlsafe(24), "t": issued}
        return self._serializer.dumps(payload)

    def read_cookie(self, value: str) -> dict[str, Any] | None:
        """The payload of a genuine, unexpired cookie; None otherwise."""
        try:
            payload = self._serializer.loads(value, max_age=self.max_age)
        except BadSignature:  # SignatureExpired is a BadSignature too
            return None
        if not isinstance(payload, dict):
            return None
        if not isinstance(payload.get("u"), int) or not isinstance(payload.get("s"), str):
            return None
        return payload

    def identity(self, payload: dict[str, Any]) -> Identity | None:
        """The user a genuine cookie names, unless the session was ended (by itself, or by
        "sign out everywhere" after it was issued) or the user is gone."""
        own = _hash(payload["s"])
        with Session(self.engine) as session:
            ended = session.exec(
                select(BrowserSession).where(
                    col(BrowserSession.id_hash).in_([own, _everywhere_key(payload["u"])])
                )
            ).all()
            for row in ended:
                if row.id_hash == own:
                    return None
                if row.ended_at and _issued(payload) <= _aware(row.ended_at).timestamp():
                    return None
            user = session.get(User, payload["u"])
            if user is None or user.is_robot:
                return None
            return Identity(user_id=user.id, username=user.username, is_admin=user.is_admin)

    def end(self, payload: dict[str, Any]) -> None:
        """Record that the session ended (idempotent); forget ended sessions past max age."""
        now = utcnow()
        issued = datetime.fromtimestamp(int(_issued(payload)), UTC)
        with Session(self.engine) as session:
            session.execute(delete(BrowserSession).where(col(BrowserSession.expires_at) < now))
            if session.get(BrowserSession, _hash(payload["s"])) is None:
                session.add(
                    BrowserSession(
                        id_hash=_hash(payload["s"]),
                        user_id=payload["u"],
                        created_at=issued,
                        expires_at=issued + timedelta(seconds=self.max_age),
                        ended_at=now,
                    )
                )
            try:
                session.commit()
            except IntegrityError:  # ended twice at once
                session.rollback()

    def end_all(self, user_id: int) -> None:
        """End every session of ``user_id`` issued until now (other users' are untouched)."""
        now = utcnow()
        key = _everywhere_key(user_id)
        with Session(self.engine) as session:
            session.execute(delete(BrowserSession).where(col(BrowserSession.expires_at) < now))
            row = session.get(BrowserSession, key)
            if row is None:
                row = BrowserSession(id_hash=key, user_id=user_id, created_at=now, expires_at=now)
            # Sessions issued before now live at most max_age more; then the row may go.
            row.ended_at = now
            row.expires_at = now + timedelta(seconds=self.max_age)
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # ended everywhere twice at once: the other row serves
                session.rollback()

    def sign_flow(self, flow: dict[str, str]) -> str:
        return self._flows.dumps(flow)

    def read_flow(self, value: str) -> dict[str, str] | None:
        """A genuine flow cookie younger than OAUTH_SECONDS; None otherwise."""
        try:
            flow = self._flows.loads(value, max_age=OAUTH_SECONDS)
        except BadSignature:
            return None
        if not isinstance(flow, dict) or not all(isinstance(v, str) for v in flow.values()):
            return None
        return flow

    def csrf_for(self, browser: str) -> str:
        mac = hmac.new(self._csrf_key, browser.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def cookie_header(self, name: str, value: str, max_age: int, path: str = "/") -> str:
        cookie: SimpleCookie = SimpleCookie()
        cookie[name] = value
        morsel = cookie[name]
        morsel["path"] = path
        morsel["max-age"] = max_age
        morsel["httponly"] = True
        morsel["samesite"] = "Lax"
        if self.secure:
            morsel["secure"] = True
        return morsel.OutputString()


def _store(request: Request) -> SessionStore:
    built: Services = request.app.state.services
    return built.sessions


def _state(request: Request) -> dict[str, Any]:
    """Per-request scratch space, shared with ``SessionCookies`` (the ASGI scope's state)."""
    found: dict[str, Any] = request.scope.setdefault("state", {})
    return found


# -- the interface pages and handlers use ---------------------------------------------------


async def session_identity(request: Request) -> Identity | None:
    """The signed-in user from the ``hub_session`` cookie; None without a valid session."""
    if _STATE_IDENTITY in _state(request):
        found: Identity | None = _state(request)[_STATE_IDENTITY]
        return found
    raw = request.cookies.get(SESSION_COOKIE)
    store = _store(request)
    payload = store.read_cookie(raw) if raw else None
    identity = await in_thread(store.identity, payload) if payload else None
    _state(request)[_STATE_IDENTITY] = identity
    return identity


def start_session(response: Response, user_id: int, request: Request) -> None:
    """Sign ``user_id`` in: set a fresh ``hub_session`` cookie on ``response``."""
    store = _store(request)
    response.raw_headers.append(
        (
            b"set-cookie",
            store.cookie_header(SESSION_COOKIE, store.new_cookie(user_id), store.max_age).encode(),
        )
    )
    _state(request).pop(_STATE_IDENTITY, None)


def end_session(response: Response, request: Request) -> None:
    """Sign out: clear the cookie, and (after the response, unless ``revoke`` already did)
    record the session as ended so a copy of the cookie no longer works."""
    store = _store(request)
    response.raw_headers.append(
        (b"set-cookie", store.cookie_header(SESSION_COOKIE, "", 0).encode())
    )
    payload = _payload(request)
    if payload is not None and not _state(request).get("hub_session_revoked"):
        previous = response.background
        response.background = BackgroundTask(_run_both, previous, store.end, payload)


async def _run_both(previous: BackgroundTask | None, fn: Any, payload: dict[str, Any]) -> None:
    if previous is not None:
        await previous()
    await in_thread(fn, payload)


def _payload(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(SESSION_COOKIE)
    return _store(request).read_cookie(raw) if raw else None


async def revoke(request: Request) -> Identity | None:
    """End the request's session now (before answering); the user it belonged to, if any."""
    identity = await session_identity(request)
    payload = _payload(request)
    if payload is not None:
        await in_thread(_store(request).end, payload)
        _state(request)["hub_session_revoked"] = True
    return identity


async def revoke_everywhere(request: Request, user_id: int) -> None:
    """End every session of ``user_id`` now (before answering), this request's included."""
    await in_thread(_store(request).end_all, user_id)
    payload = _payload(request)
    if payload is not None and payload["u"] == user_id:
        _state(request)["hub_session_revoked"] = True  # end_session has nothing left to do
    _state(request).pop(_STATE_IDENTITY, None)


def csrf_token(request: Request) -> str:
    """The token for this browser: hidden form field ``csrf_token``, or header
    ``X-CSRF-Token`` for scripts. Sets the ``hub_csrf`` cookie when the browser has none."""
    store = _store(request)
    browser = request.cookies.get(CSRF_COOKIE) or _state(request).get("hub_csrf_value")
    if not browser:
        browser = secrets.token_urlsafe(24)
        _state(request)["hub_csrf_value"] = browser
        _state(request)[_STATE_NEW_CSRF] = store.cookie_header(CSRF_COOKIE, browser, store.max_age)
    return store.csrf_for(browser)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def check_csrf(request: Request, submitted: str | None) -> None:
    """Raise 403 unless ``submitted`` is this browser's CSRF token (and the request, when it
    names its origin, comes from this hub)."""
    store = _store(request)
    origin = request.headers.get("origin")
    if origin and origin != "null":
        own = {_origin(store.settings.base_url), _origin(str(request.base_url))}
        if origin.lower() not in own:
            raise Forbidden(
                f"cross-site request refused: Origin {origin} is not this hub; "
                "submit the form from the hub's own pages"
            )
    browser = request.cookies.get(CSRF_COOKIE)
    if not browser:
        raise Forbidden(
            "missing CSRF cookie: cookies must be enabled; reload the page and submit again"
        )
    if not submitted:
        raise Forbidden(
            f"missing CSRF token: send the form's {CSRF_FIELD} field or the {CSRF_HEADER} header"
        )
    if not hmac.compare_digest(submitted.encode(), store.csrf_for(browser).encode()):
        raise Forbidden("the CSRF token does not match: reload the page and submit again")


class SessionCookies:
    """ASGI middleware: adds the ``hub_csrf`` cookie to responses whose handler asked for a
    CSRF token (``csrf_token``) from a browser that had none."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and _STATE_NEW_CSRF in state:
                headers = list(message.get("headers", []))
                headers.append((b"set-cookie", state.pop(_STATE_NEW_CSRF).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
