"""The sign-in page and /settings: API tokens (shown once, revocable, last use), robot accounts
of the organisations one owns, and each owned repository's description and visibility. Forms
post here with the session's CSRF token; the work is the accounts and details services'."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.api.accounts import _may_manage_credentials
from hub.api.signin import safe_next
from hub.auth.access import namespace_of
from hub.auth.accounts import AccountError, CreatedToken, expiry
from hub.auth.signin import providers
from hub.auth.trusted import TrustError
from hub.registry.streams import in_thread
from hub.services import services
from hub.web.context import Viewer, check_csrf, csrf_token, html_errors, page, viewer

SCOPES = ("pull", "push", "admin")
DESCRIPTION_LIMIT = 1024


@html_errors
async def signin_page(request: Request) -> Response:
    who = await viewer(request)
    next_url = safe_next(request.query_params.get("next"))
    if who.username is not None:
        return RedirectResponse(next_url, status_code=303)
    settings = services(request).settings
    return await page(
        request,
        "signin.html",
        {
            "providers": providers(settings),
            "next": next_url,
            "error": request.query_params.get("error"),
            "signin_csrf": csrf_token(request),
        },
    )


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def _signed_in(request: Request) -> Viewer | None:
    who = await viewer(request)
    return who if who.username is not None else None


def _to_signin(path: str) -> Response:
    return RedirectResponse(f"/signin?{urlencode({'next': path})}", status_code=303)


def settings_action(
    handler: Callable[[Request, Viewer], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """A /settings page or form: signed-in viewers only (others go to sign in and come back),
    service errors as HTML pages (html_errors)."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        who = await _signed_in(request)
        if who is None:
            return _to_signin("/settings")
        return await handler(request, who)

    return html_errors(wrapped)


async def _render(
    request: Request,
    who: Viewer,
    *,
    created: CreatedToken | None = None,
    robot: str | None = None,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    svc = services(request)
    assert who.username is not None
    tokens = await in_thread(svc.accounts.tokens, who.username)
    owned = await in_thread(svc.access.administered_namespaces, who.identity)
    orgs = [ns for ns in owned if ns.kind == "org"]
    repositories: list[Any] = []
    for ns in owned:
        assert ns.id is not None
        found, _ = await in_thread(svc.details.repositories, ns.id, 0, 200, who.visible)
        repositories.extend(found)
    publishers = {
        info.repository.name: await in_thread(svc.trusted.rules, info.repository.name)
        for info in repositories
    }
    robots: dict[str, list[tuple[str, str]]] = {}
    for org in orgs:
        members = await in_thread(svc.accounts.members, org.name)
        robots[org.name] = [(u, r) for u, r in members if "+" in u]
    user = await in_thread(svc.access.user, who.username)
    return await page(
        request,
        "settings.html",
        {
            "user": user,
            "tokens": tokens,
            "scopes": SCOPES,
            "orgs": orgs,
            "robots": robots,
            "repositories": repositories,
            "publishers": {k: [_rule(r) for r in v] for k, v in publishers.items()},
            "created": created,
            "robot": robot,
            "error": error,
            "notice": notice or request.query_params.get("notice"),
        },
        status,
    )


def _rule(rule: Any) -> dict[str, Any]:
    return {
        "id": rule.id,
        "issuer": rule.issuer,
        "audience": rule.audience,
        "claims": json.loads(rule.claims or "{}"),
    }


@settings_action
async def settings_page(request: Request, who: Viewer) -> Response:
    return await _render(request, who)


async def _form(request: Request, who: Viewer) -> FormData:
    form = await request.form()
    await check_csrf(request, _field(form, "csrf_token") or None)
    # A pull or push token must not mint itself broader tokens (hub.api.accounts' rule).
    _may_manage_credentials(who.identity)
    return form


@settings_action
async def create_token(request: Request, who: Viewer) -> Response:
    form = await _form(request, who)
    assert who.username is not None
    scopes = [s for s in form.getlist("scopes") if isinstance(s, str)]
    days_raw = _field(form, "expires_days")
    if days_raw and (not days_raw.isdigit() or not 1 <= int(days_raw) <= 3650):
        return await _render(
            request, who, error="Expiry is a number of days, 1 to 3650.", status=400
        )
    try:
        created = await in_thread(
            services(request).accounts.create_token,
            who.username,
            _field(form, "name") or "web",
            ",".join(scopes),
            _field(form, "namespace") or None,
            expiry(int(days_raw) if days_raw else None),
            who.username,
        )
    except AccountError as exc:
        return await _render(request, who, error=str(exc), status=400)
    # The secret is in this response only: it is not stored, and a reload will not show it.
    return await _render(request, who, created=created)


@settings_action
async def revoke_token(request: Request, who: Viewer) -> Response:
    await _form(request, who)
    assert who.username is not None
    raw = request.path_params["token_id"]
    try:
        await in_thread(
            services(request).accounts.revoke_token, who.username, int(raw), who.username
        )
    except (AccountError, ValueError) as exc:
        return await _render(request, who, error=str(exc), status=404)
    return RedirectResponse("/settings?notice=Token+revoked#tokens", status_code=303)


@settings_action
async def create_robot(request: Request, who: Viewer) -> Response:
    form = await _form(request, who)
    svc = services(request)
    org = _field(form, "org")
    if not await in_thread(svc.access.administers, who.identity, org):
        return await _render(request, who, error=f"You do not own {org!r}.", status=403)
    scopes = [s for s in form.getlist("scopes") if isinstance(s, str)]
    try:
        created = await in_thread(
            svc.accounts.create_robot, org, _field(form, "name"), ",".join(scopes), who.username
        )
    except AccountError as exc:
        return await _render(request, who, error=str(exc), status=400)
    robot = await in_thread(svc.access.user_by_id, created.token.user_id)
    return await _render(request, who, created=created, robot=robot.username if robot else None)


@settings_action
async def update_repository(request: Request, who: Viewer) -> Response:
    """Description for those who may push; visibility for the namespace's owners (the same
    rules as PATCH /api/v1/repositories/<name>)."""
    form = await request.form()
    await check_csrf(request, _field(form, "csrf_token") or None)
    svc = services(request)
    name = _field(form, "repository")
    await in_thread(svc.access.authorize, who.identity, name, "push")
    description = _field(form, "description")
    if len(description) > DESCRIPTION_LIMIT:
        return await _render(
            request,
            who,
            error=f"Keep the description under {DESCRIPTION_LIMIT} characters.",
            status=400,
        )
    changes: dict[str, str | bool] = {"description": description}
    private = form.get("private") == "on"
    namespace = name.split("/", 1)[0]
    if await in_thread(svc.access.administers, who.identity, namespace):
        changes["private"] = private
    await in_thread(svc.details.update_metadata, name, changes)
    notice = urlencode({"notice": f"Saved {name}"})
    return RedirectResponse(f"/settings?{notice}#repositories", status_code=303)


async def _publisher_form(request: Request, who: Viewer) -> tuple[FormData, str] | Response:
    form = await _form(request, who)
    repository = _field(form, "repository")
    if not await in_thread(
        services(request).access.administers, who.identity, namespace_of(repository)
    ):
        return await _render(request, who, error=f"You do not own {repository!r}.", status=404)
    return form, repository


@settings_action
async def add_publisher(request: Request, who: Viewer) -> Response:
    """A trusted publisher: CI tokens from ``issuer`` for ``audience`` whose claims match may
    push this repository (hub.auth.trusted)."""
    found = await _publisher_form(request, who)
    if isinstance(found, Response):
        return found
    form, repository = found
    raw_claims = _field(form, "claims") or "{}"
    try:
        claims = json.loads(raw_claims)
    except ValueError:
        return await _render(
            request,
            who,
            error='Claims are a JSON object, e.g. {"repository": "acme/filters"}.',
            status=400,
        )
    try:
        await in_thread(
            services(request).trusted.add,
            repository,
            _field(form, "issuer"),
            _field(form, "audience"),
            claims,
            who.username,
        )
    except TrustError as exc:
        return await _render(request, who, error=str(exc), status=400)
    notice = urlencode({"notice": f"Trusted publisher added to {repository}"})
    return RedirectResponse(f"/settings?{notice}#repositories", status_code=303)


@settings_action
async def remove_publisher(request: Request, who: Viewer) -> Response:
    found = await _publisher_form(request, who)
    if isinstance(found, Response):
        return found
    _, repository = found
    raw = request.path_params["rule_id"]
    removed = raw.isdigit() and await in_thread(
        services(request).trusted.remove, repository, int(raw), who.username
    )
    if not removed:
        return await _render(request, who, error=f"No trusted publisher {raw}.", status=404)
    notice = urlencode({"notice": f"Trusted publisher removed from {repository}"})
    return RedirectResponse(f"/settings?{notice}#repositories", status_code=303)
