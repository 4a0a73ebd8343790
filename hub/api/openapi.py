"""GET /api/openapi.json: the OpenAPI 3 document of the JSON API (hub/api/openapi.yaml),
read once per process and served as JSON. Lists that live in code (deploy targets,
organisation roles) are filled in from the code, so the document cannot fall behind them."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.auth.access import ROLES
from hub.deploy.base import TARGET_MODULES

SOURCE = Path(__file__).with_name("openapi.yaml")


def _parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in operation["parameters"] if p.get("name") == name)


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(SOURCE.read_text())
    deploy = doc["paths"]["/api/v1/deploy"]["get"]
    _parameter(deploy, "target")["schema"]["enum"] = list(TARGET_MODULES)
    member = doc["paths"]["/api/v1/orgs/{org}/members/{username}"]["put"]
    body = member["requestBody"]["content"]["application/json"]["schema"]
    body["properties"]["role"]["enum"] = list(ROLES)
    return doc


def document() -> dict[str, Any]:
    """A copy of the document (callers, tests among them, may change theirs)."""
    return copy.deepcopy(_document())


@lru_cache(maxsize=1)
def _body() -> bytes:
    return json.dumps(_document(), separators=(",", ":")).encode()


async def openapi_json(request: Request) -> Response:
    return Response(_body(), media_type="application/json")


routes = [Route("/api/openapi.json", openapi_json, methods=["GET"])]
