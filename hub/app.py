"""The application factory: ``uvicorn --factory hub.app:create_app``. Nothing happens at import."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from sqlalchemy.exc import DataError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.api.errors import ApiError, BadRequest
from hub.api.routes import routes as api_routes
from hub.auth.sessions import SessionCookies
from hub.config import Settings
from hub.db.engine import check_reachable, make_engine
from hub.db.migrate import pending
from hub.limits.ratelimit import RateLimitMiddleware
from hub.observability import health as readiness
from hub.observability import metrics
from hub.observability.instrument import CountingStorage, count_database_errors
from hub.observability.middleware import ObservabilityMiddleware
from hub.oci.errors import RegistryError
from hub.registry.errors import render
from hub.registry.routes import routes as registry_routes
from hub.services import Services
from hub.storage import open_storage
from hub.web.routes import routes as web_routes

log = logging.getLogger("hub")


class NotMigrated(Exception):
    """The database is behind the code's migrations."""


def build_services(settings: Settings) -> Services:
    """Open and check the database and storage; any wrong setting fails here, loudly."""
    engine = make_engine(settings.database_url)
    check_reachable(engine)
    if pending(engine):
        raise NotMigrated(
            "the database is not at the current schema: run `wasm-hub migrate` "
            f"(HUB_DATABASE_URL={engine.url.render_as_string(hide_password=True)})"
        )
    count_database_errors(engine)  # hub_database_errors_total
    storage = CountingStorage(open_storage(settings))  # hub_storage_errors_total
    storage.check()
    if settings.auth == "none":
        log.warning("HUB_AUTH=none: this registry is open; anyone can push, pull and delete")
    return Services.build(settings, engine, storage)


async def _flush_pulls(services: Services) -> None:
    while True:
        await asyncio.sleep(services.settings.pull_flush_seconds)
        try:
            await anyio.to_thread.run_sync(services.pulls.flush)
        except Exception:  # a failed flush must not end the loop; counts are best effort
            log.exception("could not record pull counts")


async def _scheduled_gc(services: Services) -> None:
    """Every HUB_GC_INTERVAL_SECONDS; the database lease lets one replica (one worker) run it."""
    from hub.artifacts import gc

    holder = gc.holder_id()
    while True:
        await asyncio.sleep(services.settings.gc_interval_seconds)
        try:
            report = await anyio.to_thread.run_sync(
                lambda: gc.run(services, holder=holder, keep_lease=True)
            )
            if report.skipped is None and (report.blobs or report.links or report.uploads):
                log.info("gc: %s", report)
        except Exception:  # one failed run must not end the schedule
            log.exception("scheduled gc failed")


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.services = built = services or build_services(settings)
        flusher = asyncio.create_task(_flush_pulls(built))
        # Webhook deliveries queued in the database (hub.events.delivery); every replica sends.
        deliveries = asyncio.create_task(built.deliveries.run())
        collector = (
            asyncio.create_task(_scheduled_gc(built))
            if built.settings.gc_interval_seconds > 0
            else None
        )
        try:
            yield
        finally:
            flusher.cancel()
            deliveries.cancel()
            await asyncio.gather(deliveries, return_exceptions=True)
            await anyio.to_thread.run_sync(built.deliveries.release)
            if collector is not None:
                collector.cancel()
            await anyio.to_thread.run_sync(built.pulls.flush)
            await anyio.to_thread.run_sync(built.playground.close)  # stop sandbox workers
            built.engine.dispose()
            metrics.worker_exit()

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def data_error(request: Request, exc: Exception) -> JSONResponse:
        # The database refused a value the caller sent (PostgreSQL: a NUL character, a string
        # longer than its column, a number out of range): the request is wrong, not the hub.
        log.warning("the database refused a value: %s", getattr(exc, "orig", exc))
        return BadRequest(
            "a value in the request cannot be stored or looked up (NUL characters and "
            "over-long values are refused)"
        ).response()

    async def registry_error(request: Request, exc: Exception) -> JSONResponse:
        # Access decisions (hub.auth.access) raise the registry's errors; outside /v2 they
        # render in the same envelope.
        assert isinstance(exc, RegistryError)
        return render(exc)

    return Starlette(
        routes=[
            Route("/healthz", health),
            Route("/readyz", readiness.readyz),
            Route("/metrics", metrics.endpoint),
            *registry_routes,
            *api_routes,
            *web_routes,
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(
                ObservabilityMiddleware,
                body_timeout=settings.body_timeout_seconds,
                body_min_rate=settings.body_min_bytes_per_second,
            ),
            # Sets the browser's CSRF cookie when a page asked for a token (hub.auth.sessions).
            Middleware(SessionCookies),
            # Per-address and per-credential request limits (hub.limits.ratelimit); off
            # unless set. Inside observability, so refusals are counted and logged.
            Middleware(RateLimitMiddleware),
        ],
        exception_handlers={
            ApiError: api_error,
            RegistryError: registry_error,
            DataError: data_error,
        },
    )
