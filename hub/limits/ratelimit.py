"""Request rate limits per client address and per credential, shared by every replica:
counted in Redis when HUB_REDIS_URL is set, else in the database (rate_counters).

Fixed windows of HUB_RATE_LIMIT_WINDOW_SECONDS: simple, one counter per client per window,
and the same answer from every replica. A refused request gets 429 TOOMANYREQUESTS (the
distribution spec's code) with Retry-After, the seconds until its window ends; docker,
containerd and oras back off on it.

Credentials are keyed by what they prove, never by a claim anyone can write: a registry
bearer token by its verified subject (so refreshing a token does not reset the count), Basic
credentials (an API token or a password) by a keyed hash of the header. Unverifiable
credentials count under their hash, so nobody can spend another user's budget.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import anyio.to_thread
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.auth.tokens import InvalidToken
from hub.db.models import RateCounter, utcnow
from hub.oci.errors import TooManyRequests
from hub.registry.errors import render

if TYPE_CHECKING:
    from hub.services import Services

log = logging.getLogger("hub.limits")
# Probes and static files are never limited (load balancers poll them).
EXEMPT = ("/healthz", "/readyz", "/metrics", "/static/", "/favicon")


class Counter(Protocol):
    async def hit(self, key: str, window: int) -> int:
        """Count one request for ``key`` in the current window; the count so far."""
        ...


def window_slot(window: int, now: float | None = None) -> tuple[int, float]:
    """(the current window's number, seconds until it ends)."""
    now = time.time() if now is None else now
    slot = int(now // window)
    return slot, (slot + 1) * window - now


class DatabaseCounter:
    """One upserted row per key and window; gc deletes expired rows."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.insert: Any = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert

    def _hit(self, key: str, window: int) -> int:
        slot, _ = window_slot(window)
        name = f"{key}:{slot}"[:255]
        count = RateCounter.__table__.c.count  # type: ignore[attr-defined]
        statement = (
            self.insert(RateCounter)
            .values(key=name, count=1, expires_at=utcnow() + timedelta(seconds=2 * window))
            .on_conflict_do_update(index_elements=["key"], set_={"count": count + 1})
            .returning(count)
        )
        with self.engine.begin() as conn:
            return int(conn.execute(statement).scalar_one())

    async def hit(self, key: str, window: int) -> int:
        return await anyio.to_thread.run_sync(self._hit, key, window)


class RedisCounter:
    """INCR plus EXPIRE in one MULTI; falls back to the database when Redis fails, so an
    outage of the limiter never takes the registry down."""

    def __init__(self, url: str, prefix: str, fallback: Counter) -> None:
        import redis.asyncio

        self.client = redis.asyncio.from_url(url)
        self.prefix = prefix
        self.fallback = fallback
        self._warned = 0.0

    async def hit(self, key: str, window: int) -> int:
        slot, _ = window_slot(window)
        name = f"{self.prefix}{key}:{slot}"
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, window + 1)
                count, _ = await pipe.execute()
            return int(count)
        except Exception as exc:  # redis.RedisError, OSError: keep serving
            if time.monotonic() - self._warned > 60:
                self._warned = time.monotonic()
                log.warning("rate limits: Redis failed (%s); counting in the database", exc)
            return await self.fallback.hit(key, window)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RateLimitMiddleware:
    """ASGI middleware; reads the settings and services the app's lifespan built."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.counter: Counter | None = None

    def _counter(self, services: Services) -> Counter:
        if self.counter is None:
            database = DatabaseCounter(services.engine)
            url = services.settings.redis_url
            self.counter = (
                RedisCounter(url, services.settings.redis_prefix, database) if url else database
            )
        return self.counter

    def _credential(self, services: Services, authorization: str) -> str:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            try:
                subject, _ = services.access.issuer.verify(value.strip())
                if subject:
                    return f"user:{subject}"
            except InvalidToken:
                pass
        keyed = hmac.new(
            services.settings.secret_key.encode(), authorization.encode(), hashlib.sha256
        ).hexdigest()
        return f"cred:{keyed[:32]}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services: Services | None = None
        if scope["type"] == "http":
            services = getattr(scope["app"].state, "services", None)
        if services is None or scope["path"].startswith(EXEMPT):
            await self.app(scope, receive, send)
            return
        settings = services.settings
        checks: list[tuple[str, int]] = []
        client = scope.get("client")
        if settings.rate_limit_address and client:
            checks.append((f"addr:{client[0]}", settings.rate_limit_address))
        authorization = _header(scope, b"authorization")
        if settings.rate_limit_token and authorization:
            checks.append((self._credential(services, authorization), settings.rate_limit_token))
        window = settings.rate_limit_window_seconds
        for key, limit in checks:
            count = await self._counter(services).hit(key, window)
            if count > limit:
                _, remaining = window_slot(window)
                retry = max(1, math.ceil(remaining))
                kind = "client address" if key.startswith("addr:") else "credential"
                error = TooManyRequests(
                    {"limit": limit, "window_seconds": window, "retry_after": retry},
                    f"more than {limit} requests in {window} s from this {kind}; "
                    f"retry after {retry} s",
                    headers={"Retry-After": str(retry)},
                )
                await render(error, scope["method"] == "HEAD")(scope, receive, send)
                return
        await self.app(scope, receive, send)
