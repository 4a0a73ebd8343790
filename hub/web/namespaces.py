"""User and organisation pages: /u/<name> and /o/<name>. An organisation's members and roles
show to its members; its owners change them with forms that call the accounts service."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.auth.access import ROLES
from hub.auth.accounts import AccountError
from hub.db.models import Namespace
from hub.oci.errors import NameUnknown
from hub.registry.streams import in_thread
from hub.services import services
from hub.web.context import check_csrf, html_errors, page, viewer

PER_PAGE = 30


def prefix(ns: Namespace) -> str:
    return "o" if ns.kind == "org" else "u"


async def _namespace(request: Request) -> Namespace:
    name: str = request.path_params["name"]
    ns = await in_thread(services(request).details.namespace_named, name)
    if ns is None:
        raise NameUnknown({"namespace": name}, f"no namespace {name!r}")
    return ns


@html_errors
async def namespace_page(request: Request) -> Response:
    ns = await _namespace(request)
    wanted = request.url.path.split("/", 2)[1]
    if wanted != prefix(ns):  # /u/acme for an organisation: send them to /o/acme
        return RedirectResponse(f"/{prefix(ns)}/{ns.name}", status_code=301)
    return await _render(request, ns)


async def _render(
    request: Request, ns: Namespace, error: str | None = None, status: int = 200
) -> Response:
    who = await viewer(request)
    svc = services(request)
    raw = request.query_params.get("page", "1")
    current = int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1
    assert ns.id is not None
    repos, total = await in_thread(
        svc.details.repositories, ns.id, (current - 1) * PER_PAGE, PER_PAGE, who.visible
    )
    # Members and roles are the organisation's business: shown to those who can see its
    # private repositories (hub.auth.access decides who that is).
    insider = who.visible is None or ns.id in who.visible
    members: list[tuple[str, str]] = []
    if ns.kind == "org" and insider and who.username is not None:
        members = await in_thread(svc.accounts.members, ns.name)
    may_manage = who.username is not None and await in_thread(
        svc.access.administers, who.identity, ns.name
    )
    return await page(
        request,
        "namespace.html",
        {
            "ns": ns,
            "repos": repos,
            "total": total,
            "page_no": current,
            "last_page": max(1, -(-total // PER_PAGE)),
            "members": members,
            "roles": ROLES,
            "may_manage": may_manage and ns.kind == "org",
            "error": error,
            "notice": request.query_params.get("notice"),
        },
        status,
    )


@html_errors
async def member_form(request: Request) -> Response:
    """POST /o/<org>/members: add a member or change a role (role "remove" removes them)."""
    ns = await _namespace(request)
    who = await viewer(request)
    svc = services(request)
    if who.username is None:
        return RedirectResponse(f"/signin?next=/o/{ns.name}", status_code=303)
    form = await request.form()
    token = form.get("csrf_token")
    await check_csrf(request, token if isinstance(token, str) else None)
    if ns.kind != "org" or not await in_thread(svc.access.administers, who.identity, ns.name):
        return await _render(request, ns, "Only owners of this organisation manage members.", 403)
    username = str(form.get("username") or "").strip()
    role = str(form.get("role") or "")
    if not username:
        return await _render(request, ns, "Name the user to add.", 400)
    try:
        await in_thread(
            svc.accounts.set_member,
            ns.name,
            username,
            None if role == "remove" else role,
            who.username,
        )
    except AccountError as exc:
        return await _render(request, ns, str(exc), 400)
    done = f"{username} removed" if role == "remove" else f"{username} is now {role}"
    notice = urlencode({"notice": done})
    return RedirectResponse(f"/o/{ns.name}?{notice}#members", status_code=303)
