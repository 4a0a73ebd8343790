"""/healthz: the process answers (liveness; no dependency is touched, so a database outage
does not get every replica restarted). /readyz: the database answers a query and the storage
backend passes its check (a write probe on the filesystem, HEAD bucket on S3); 503 naming the
one that failed, so a load balancer stops sending traffic to a replica that cannot serve it."""

from __future__ import annotations

import time
from typing import Any

import anyio
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from hub.services import Services, services

CHECK_TIMEOUT_SECONDS = 5.0


def _database(svc: Services) -> None:
    with svc.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _storage(svc: Services) -> None:
    svc.storage.check()


async def _run(check: Any, svc: Services) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
            # abandon_on_cancel: a hung backend must not hang the probe too.
            await anyio.to_thread.run_sync(check, svc, abandon_on_cancel=True)
    except TimeoutError:
        result: dict[str, Any] = {
            "ok": False,
            "error": f"no answer within {CHECK_TIMEOUT_SECONDS:.0f} s",
        }
    except Exception as exc:  # any failure is the answer: "not ready, because ..."
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    else:
        result = {"ok": True}
    result["seconds"] = round(time.perf_counter() - started, 4)
    return result


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    svc = services(request)
    checks = {"database": await _run(_database, svc), "storage": await _run(_storage, svc)}
    failed = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "unavailable" if failed else "ok", "failed": failed, "checks": checks}
    return JSONResponse(
        body, status_code=503 if failed else 200, headers={"Cache-Control": "no-store"}
    )
