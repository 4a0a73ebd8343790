"""GET /api/v1/deploy: a stored filter rendered for a mesh (hub.deploy). YAML by default —
several documents where a target needs several resources — or, with `Accept:
application/json`, {"documents", "warnings", "compatibility"}. Parameters: repository, ref
(a tag or digest; default latest), target, and the target's options (hub.deploy.options)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.api.common import visible
from hub.api.errors import BadRequest, NotFound
from hub.deploy.base import TARGET_MODULES, DeployError
from hub.deploy.service import DeployResult, DeployService
from hub.oci.errors import ManifestUnknown, NameUnknown
from hub.registry.streams import in_thread
from hub.services import services

RESERVED = ("repository", "ref", "target")
YAML = "application/yaml"


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and YAML not in accept


def _one(request: Request, name: str, default: str | None = None) -> str:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise BadRequest(f"{name} is given more than once", {name: values})
    if not values or values[0] == "":
        if default is not None:
            return default
        hint = f"; targets: {', '.join(TARGET_MODULES)}" if name == "target" else ""
        raise BadRequest(f"the query parameter {name} is required{hint}", {"missing": name})
    return values[0]


async def deploy(request: Request) -> Response:
    repository = _one(request, "repository")
    ref = _one(request, "ref", "latest")
    target = _one(request, "target")
    options = {
        key: request.query_params.getlist(key)
        for key in request.query_params.keys()
        if key not in RESERVED
    }
    svc = services(request)
    service = DeployService(svc.details, svc.settings.base_url)
    try:
        result: DeployResult = await in_thread(
            service.render, repository, ref, target, options, await visible(request)
        )
    except DeployError as exc:
        raise BadRequest(exc.message, exc.detail) from None
    except NameUnknown:
        raise NotFound(
            f"repository {repository!r} does not exist", {"repository": repository}
        ) from None
    except ManifestUnknown:
        raise NotFound(f"{repository} has no tag or manifest {ref!r}", {"ref": ref}) from None
    if _wants_json(request):
        return JSONResponse(result.to_json())
    return Response(result.to_yaml(), media_type=YAML)


routes = [Route("/api/v1/deploy", deploy, methods=["GET"])]
