"""POST /api/v1/playground: run a stored filter in the proxy-wasm sandbox against a request
the caller describes (hub.playground.request) and answer what the upstream and the client
would see, with the filter's logs, metrics, attempted calls and each callback's action.

Pull permission on the repository is required (a private repository is 404 to outsiders,
as everywhere). Runs are rate-limited per caller, and go to the sandbox worker pool from a
thread with its own limiter, so the event loop and the registry's threads never wait on a
filter."""

from __future__ import annotations

import json
import math

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.api.common import identify, visible
from hub.api.errors import ApiError, BadRequest, NotFound
from hub.oci.errors import ManifestUnknown, NameUnknown
from hub.playground.ratelimit import RateLimiter
from hub.playground.request import PlaygroundError
from hub.playground.service import Busy, PlaygroundService
from hub.registry.streams import read_limited
from hub.services import services

MAX_BODY = 4 * 1024 * 1024


class TooManyRequests(ApiError):
    status, code = 429, "TOO_MANY_REQUESTS"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, {"retry_after": retry_after})
        self.retry_after = retry_after

    def response(self) -> JSONResponse:
        answer = super().response()
        answer.headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return answer


class Unavailable(ApiError):
    status, code = 503, "UNAVAILABLE"

    def response(self) -> JSONResponse:
        answer = super().response()
        answer.headers["Retry-After"] = "2"
        return answer


def _state(request: Request) -> tuple[RateLimiter, anyio.CapacityLimiter]:
    """Per process: the callers' buckets and the threads runs may occupy."""
    app_state = request.app.state
    found: tuple[RateLimiter, anyio.CapacityLimiter] | None = getattr(
        app_state, "playground_limits", None
    )
    if found is None:
        settings = services(request).settings
        found = (
            RateLimiter(settings.playground_rate_per_minute),
            anyio.CapacityLimiter(max(2, settings.playground_workers * 2)),
        )
        app_state.playground_limits = found
    return found


async def run(request: Request) -> JSONResponse:
    identity = await identify(request)
    rate, threads = _state(request)
    caller = (
        f"user:{identity.username}"
        if not identity.anonymous
        else f"ip:{request.client.host if request.client else '-'}"
    )
    wait = rate.take(caller)
    if wait is not None:
        raise TooManyRequests(f"too many playground runs; try again in {math.ceil(wait)} s", wait)
    # Read at most MAX_BODY (+1) bytes: request.body() would buffer any size first.
    raw = await read_limited(request, MAX_BODY)
    if raw is None:
        raise BadRequest(f"the request body is over {MAX_BODY} bytes")
    try:
        body = json.loads(raw or b"null")
    except ValueError as exc:
        raise BadRequest(f"the request body is not JSON: {exc}") from None
    service: PlaygroundService = services(request).playground
    try:
        parsed = service.parse(body)
        allowed = await visible(request)
        result = await anyio.to_thread.run_sync(service.run, parsed, allowed, limiter=threads)
    except PlaygroundError as exc:
        raise BadRequest(exc.message, exc.detail) from None
    except NameUnknown:
        raise NotFound(
            f"repository {body.get('repository')!r} does not exist",
            {"repository": body.get("repository")},
        ) from None
    except ManifestUnknown:
        raise NotFound(
            f"{body.get('repository')} has no tag or manifest {body.get('ref') or 'latest'!r}",
            {"ref": body.get("ref") or "latest"},
        ) from None
    except Busy as exc:
        raise Unavailable(f"the playground is busy: {exc}; try again shortly") from None
    return JSONResponse(result)


routes = [Route("/api/v1/playground", run, methods=["POST"])]
