"""A repository's page (README, tags, pull commands, deploy, star) and a tag's page (manifest,
layers, module facts, referrers). Names hold slashes, so /r/<name>[/tags/<tag>] is split here."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.artifacts.views import RepositoryOverview, module_json
from hub.auth.access import namespace_of
from hub.db.models import Namespace
from hub.deploy.base import TARGET_MODULES, DeployError, all_targets
from hub.deploy.service import DeployService
from hub.oci.digest import Digest
from hub.oci.errors import ManifestUnknown, NameUnknown
from hub.oci.reference import valid_name, valid_tag
from hub.registry.streams import in_thread
from hub.services import services
from hub.web.context import Viewer, check_csrf, has_tryit, html_errors, page, viewer

TABS = ("readme", "tags", "deploy", "tryit")
# A page opened on another tab lists this many tags (newest first) and links to all of them;
# tag pickers offer this many (and the one asked for): hundreds of rows cost more to render
# than everything else on the page.
TABLE_PREVIEW = 20
PICKER_TAGS = 50
DEFAULT_TARGET = "istio"


def _split(path: str) -> tuple[str, str | None]:
    """ "ns/name" -> (name, None); "ns/name/tags/v1" -> (name, "v1") (tags hold no slash)."""
    if "/tags/" in path:
        name, tag = path.rsplit("/tags/", 1)
        if valid_tag(tag):
            return name, tag
    return path, None


def _check(name: str) -> str:
    if not valid_name(name):
        raise NameUnknown({"name": name}, f"{name!r} is not a repository name")
    return name


def default_ref(info: RepositoryOverview) -> str | None:
    if info.has_latest:
        return "latest"
    return info.tags[0].name if info.tags else None  # tags come newest first


def pull_commands(host: str, name: str, ref: str | None) -> list[dict[str, str]]:
    if ref is None:
        return []
    image = f"{host}/{name}:{ref}"
    return [
        {"tool": "oras", "command": f"oras pull {image}"},
        {"tool": "wasme", "command": f"wasme pull {image}"},
    ]


def _deploy(
    request: Request, who: Viewer, info: RepositoryOverview, ref: str | None, render: bool
) -> dict[str, Any]:
    """The deploy tab: the deploy service's own YAML for the chosen target and tag (the JSON
    API and `wasm-hub deploy` print the same)."""
    svc = services(request)
    chosen = request.query_params.get("target") or DEFAULT_TARGET
    if chosen not in TARGET_MODULES:
        chosen = DEFAULT_TARGET
    wanted = request.query_params.get("ref")
    if wanted and valid_tag(wanted):
        ref = wanted  # the deploy service answers for a tag that is not there
    out: dict[str, Any] = {
        "targets": [(t.name, t.summary) for t in all_targets()],
        "target": chosen,
        "ref": ref,
        "yaml": None,
        "error": None,
    }
    if ref is None:
        out["error"] = "Push a tag first: there is nothing to deploy yet."
        return out
    if not render:
        # Another tab is open: static/hub.js asks /api/v1/deploy when this one opens, and
        # without JavaScript the tab is a link that renders it here.
        out["pending"] = True
        return out
    service = DeployService(svc.details, svc.settings.base_url)
    try:
        result = service.render(info.repository.name, ref, chosen, {}, who.visible)
    except DeployError as exc:
        out["error"] = exc.message
        return out
    except ManifestUnknown:
        out["error"] = f"{info.repository.name} has no tag {ref!r}."
        return out
    out["yaml"] = result.to_yaml()
    out["compatible"] = result.compatibility.compatible
    return out


@html_errors
async def repository_get(request: Request) -> Response:
    name, tag = _split(request.path_params["path"])
    if tag is not None:
        return await tag_page(request, _check(name), tag)
    return await repository_page(request, _check(name))


async def repository_page(request: Request, name: str) -> Response:
    who = await viewer(request)
    # Everything the page reads, in one worker-thread hop (each hop costs on a busy host).
    context = await in_thread(_repository_context, request, who, name)
    return await page(request, "repository.html", context)


def _repository_context(request: Request, who: Viewer, name: str) -> dict[str, Any]:
    svc = services(request)
    tab = request.query_params.get("tab", "readme")
    tryit = has_tryit()
    if tab not in TABS or (tab == "tryit" and not tryit):
        tab = "readme"
    info = svc.details.overview(name, who.visible, None if tab == "tags" else PICKER_TAGS)
    repo = info.repository
    starred = False
    if who.identity.user_id is not None and repo.id is not None:
        starred = repo.id in svc.stars.starred(who.identity.user_id, [repo.id])
    ref = default_ref(info)
    deploy = _deploy(request, who, info, ref, tab == "deploy")
    names = [t.name for t in info.tags[:PICKER_TAGS]]
    for wanted in (ref, deploy["ref"]):
        if wanted and wanted not in names:
            names.append(wanted)
    may_admin = who.username is not None and svc.access.administers(
        who.identity, namespace_of(name)
    )
    return {
        "info": info,
        "repo": repo,
        "namespace": info.namespace,
        "ns_kind": _kind(svc.details.namespace_named(info.namespace)),
        "keywords": [k for k in repo.keywords.split(",") if k],
        "tab": tab,
        "tryit": tryit,
        "ref": ref,
        "pulls": pull_commands(_host(request), name, ref),
        "starred": starred,
        "deploy": deploy,
        "table_tags": info.tags if tab == "tags" else info.tags[:TABLE_PREVIEW],
        # Tag names for the deploy and "Try it" pickers (_tryit.html reads `tags`).
        "tags": names,
        "may_admin": may_admin,
    }


def _kind(ns: Namespace | None) -> str:
    return ns.kind if ns is not None else "user"


async def _ns_kind(request: Request, namespace: str) -> str:
    return _kind(await in_thread(services(request).details.namespace_named, namespace))


def _host(request: Request) -> str:
    from hub.web.templating import registry_host

    return registry_host(services(request).settings.base_url)


def _descriptors(parsed: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest's config, layers and (for an index) child manifests, labelled."""
    out: list[dict[str, Any]] = []
    if isinstance(parsed.get("config"), dict):
        out.append({"role": "config", **parsed["config"]})
    for layer in parsed.get("layers") or []:
        if isinstance(layer, dict):
            out.append({"role": "layer", **layer})
    for child in parsed.get("manifests") or []:
        if isinstance(child, dict):
            out.append({"role": "manifest", **child})
    return out


async def tag_page(request: Request, name: str, tag: str) -> Response:
    who = await viewer(request)
    svc = services(request)
    repo, found = await in_thread(svc.details.tag, name, tag, who.visible)
    if found is None:
        raise ManifestUnknown({"name": name, "reference": tag}, f"{name} has no tag {tag!r}")
    stored = await in_thread(svc.manifests.get, name, found.digest)
    try:
        parsed: dict[str, Any] = json.loads(stored.content)
        pretty = json.dumps(parsed, indent=2)
    except ValueError:
        parsed, pretty = {}, stored.content.decode("utf-8", "replace")
    referrers = await in_thread(svc.catalog.referrers, name, Digest.parse(found.digest), None)
    facts = module_json(found.module)
    context = {
        "repo": repo,
        "namespace": namespace_of(name),
        "ns_kind": await _ns_kind(request, namespace_of(name)),
        "tag": found,
        "manifest_json": pretty,
        "descriptors": _descriptors(parsed),
        "facts": facts,
        "load_check": (facts or {}).get("load_check"),
        "referrers": referrers["manifests"],
        "pulls": pull_commands(_host(request), name, tag),
        "digest_pull": f"{_host(request)}/{name}@{found.digest}",
    }
    return await page(request, "tag.html", context)


@html_errors
async def star_form(request: Request) -> Response:
    """The star button without JavaScript: a form POST that toggles, then back to the page."""
    name = _check(request.path_params["path"])
    who = await viewer(request)
    if who.identity.user_id is None:
        return RedirectResponse(f"/signin?next=/r/{name}", status_code=303)
    form = await request.form()
    await check_csrf(request, _field(form.get("csrf_token")))
    starred = _field(form.get("star")) == "1"
    await in_thread(services(request).stars.mark, who.identity.user_id, name, starred, who.visible)
    return RedirectResponse(f"/r/{name}", status_code=303)


def _field(value: object) -> str | None:
    return value if isinstance(value, str) else None
