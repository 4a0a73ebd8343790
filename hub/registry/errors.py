"""Rendering of the OCI error classes (hub.oci.errors) into the spec's envelope, once."""

from __future__ import annotations

from starlette.responses import JSONResponse

from hub.oci.errors import *  # noqa: F403 - the registry's error vocabulary, re-exported
from hub.oci.errors import RegistryError

API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


def render(error: RegistryError, head: bool = False) -> JSONResponse:
    headers = {**API_VERSION, **error.headers}
    response = JSONResponse(error.body(), status_code=error.status, headers=headers)
    if head:
        # HEAD answers carry no body (RFC 9110 9.3.2); keep the status and headers.
        response.body = b""
        response.headers["Content-Length"] = "0"
    return response
