"""Webhook API, for a namespace's owners (hub.events):

POST   /api/v1/namespaces/{ns}/webhooks                      {"url", "events"?, "secret"?}
GET    /api/v1/namespaces/{ns}/webhooks[/{id}]
DELETE /api/v1/namespaces/{ns}/webhooks/{id}
GET    /api/v1/namespaces/{ns}/webhooks/{id}/deliveries?n=50  newest first, with every attempt
POST   /api/v1/namespaces/{ns}/webhooks/{id}/test             queue an io.wasmhub.webhook.test

The secret is in the answer to POST only; it signs every delivery (X-Hub-Signature-256)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.api.common import int_param, json_body, require_user, rfc3339, translate
from hub.api.errors import ApiError, BadRequest, Forbidden, NotFound
from hub.db.models import Webhook, WebhookDelivery
from hub.events.events import SUBSCRIBABLE
from hub.events.webhooks import DeliveryLog, Denied, Missing, WebhookError
from hub.registry.streams import in_thread
from hub.services import services

MAX_ID = 2**31 - 1


def _translate(exc: WebhookError) -> ApiError:
    return translate(exc, {Missing: NotFound, Denied: Forbidden})


def _id(request: Request) -> int:
    raw = request.path_params["webhook_id"]
    if not (raw.isascii() and raw.isdigit()):
        raise BadRequest("webhook ids are integers", {"id": raw})
    if int(raw) > MAX_ID:  # names nothing; the databases' integers stop here
        raise NotFound(f"no webhook {raw}")
    return int(raw)


def webhook_json(hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "url": hook.url,
        "events": hook.events.split(",") if hook.events else list(SUBSCRIBABLE),
        "active": hook.active,
        "created_by": hook.created_by,
        "created_at": rfc3339(hook.created_at),
    }


def delivery_json(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_id": row.event_id,
        "type": row.event_type,
        "state": row.state,
        "attempts": row.attempts,
        "status_code": row.last_status_code,
        "error": row.last_error,
        "next_attempt_at": rfc3339(row.next_attempt_at) if row.state == "pending" else None,
        "created_at": rfc3339(row.created_at),
        "finished_at": rfc3339(row.finished_at) if row.finished_at else None,
    }


def log_json(entry: DeliveryLog) -> dict[str, Any]:
    return {
        **delivery_json(entry.delivery),
        "log": [
            {
                "attempt": a.attempt,
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
                "at": rfc3339(a.created_at),
            }
            for a in entry.attempts
        ],
    }


async def collection(request: Request) -> Response:
    identity = await require_user(request, open_hub_ok=True)
    ns = request.path_params["namespace"]
    webhooks = services(request).webhooks
    try:
        if request.method == "GET":
            found = await in_thread(webhooks.all, identity, ns)
            return JSONResponse({"webhooks": [webhook_json(h) for h in found]})
        body = await json_body(request)
        url, secret = body.get("url"), body.get("secret")
        if not isinstance(url, str) or not url:
            raise BadRequest('"url" (the http(s) URL to POST events to) is required')
        if secret is not None and not isinstance(secret, str):
            raise BadRequest('"secret" must be a string')
        created = await in_thread(webhooks.create, identity, ns, url, body.get("events"), secret)
    except WebhookError as exc:
        raise _translate(exc) from None
    return JSONResponse(
        {**webhook_json(created.webhook), "secret": created.secret},
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


async def item(request: Request) -> Response:
    identity = await require_user(request, open_hub_ok=True)
    ns, webhook_id = request.path_params["namespace"], _id(request)
    webhooks = services(request).webhooks
    try:
        if request.method == "DELETE":
            await in_thread(webhooks.delete, identity, ns, webhook_id)
            return Response(status_code=204)
        found = await in_thread(webhooks.get, identity, ns, webhook_id)
    except WebhookError as exc:
        raise _translate(exc) from None
    return JSONResponse(webhook_json(found))


async def deliveries(request: Request) -> Response:
    identity = await require_user(request, open_hub_ok=True)
    ns, webhook_id = request.path_params["namespace"], _id(request)
    n = int_param(request, "n", 50, 1, 200)
    try:
        found = await in_thread(services(request).webhooks.deliveries, identity, ns, webhook_id, n)
    except WebhookError as exc:
        raise _translate(exc) from None
    return JSONResponse({"deliveries": [log_json(d) for d in found]})


async def send_test(request: Request) -> Response:
    identity = await require_user(request, open_hub_ok=True)
    ns, webhook_id = request.path_params["namespace"], _id(request)
    try:
        row = await in_thread(services(request).webhooks.send_test, identity, ns, webhook_id)
    except WebhookError as exc:
        raise _translate(exc) from None
    return JSONResponse(delivery_json(row), status_code=202)


PREFIX = "/api/v1/namespaces/{namespace}/webhooks"
routes = [
    Route(PREFIX, collection, methods=["GET", "POST"]),
    Route(PREFIX + "/{webhook_id}", item, methods=["GET", "DELETE"]),
    Route(PREFIX + "/{webhook_id}/deliveries", deliveries, methods=["GET"]),
    Route(PREFIX + "/{webhook_id}/test", send_test, methods=["POST"]),
]
