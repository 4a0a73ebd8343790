"""Namespace storage quotas (hub.limits.quotas) through the API.

GET  /api/v1/namespaces/<ns>/quota  -> {"namespace", "quota_bytes", "used_bytes"}; members
PUT  /api/v1/namespaces/<ns>/quota  {"quota_bytes": 524288000 | "500MiB" | null}

Administrators set any quota. A namespace's owner (an organisation's owners, a user for their
own namespace) may only tighten it: set one where there is none, or lower it. Raising or
removing a quota is an administrator's decision, or quotas would limit nobody."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.api.common import admin_scoped, require_user
from hub.api.errors import BadRequest, Forbidden, NotFound
from hub.limits.quotas import Usage, parse_size
from hub.registry.streams import in_thread
from hub.services import services


def _json(usage: Usage) -> dict[str, Any]:
    return {"namespace": usage.namespace, "quota_bytes": usage.quota, "used_bytes": usage.used}


MAX_QUOTA = 2**62  # a BIGINT holds it on every database


def _parse(body: Any) -> int | None:
    quota = _parse_raw(body)
    if quota is not None and quota > MAX_QUOTA:
        raise BadRequest(f"quota_bytes must be at most {MAX_QUOTA}")
    return quota


def _parse_raw(body: Any) -> int | None:
    if not isinstance(body, dict) or "quota_bytes" not in body:
        raise BadRequest('send {"quota_bytes": <bytes>, "500MiB" or null}')
    raw = body["quota_bytes"]
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise BadRequest("quota_bytes must be a number of bytes, a size like 500MiB, or null")
    if isinstance(raw, int):
        if raw < 0:
            raise BadRequest("quota_bytes must not be negative")
        return raw
    try:
        return parse_size(raw)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


async def quota(request: Request) -> JSONResponse:
    identity = await require_user(request)
    svc = services(request)
    name = request.path_params["namespace"]

    allowed = await in_thread(svc.access.roles_in, identity, name)
    current = await in_thread(svc.quotas.usage, name)
    if current is None or not allowed:
        raise NotFound(f"no namespace {name!r} that you belong to")
    if request.method == "GET":
        return JSONResponse(_json(current))
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the body must be JSON") from None
    wanted = _parse(body)
    if not admin_scoped(identity):
        raise Forbidden("setting a quota needs a password sign-in or a token with the admin scope")
    if not identity.is_admin:
        tightening = wanted is not None and (current.quota is None or wanted <= current.quota)
        if "admin" not in allowed or not tightening:
            raise Forbidden(
                "only an administrator may raise or remove a quota; namespace owners may set "
                "or lower one"
            )
    updated = await in_thread(svc.quotas.set, name, wanted)
    assert updated is not None
    return JSONResponse(_json(updated))


routes = [Route("/api/v1/namespaces/{namespace}/quota", quota, methods=["GET", "PUT"])]
