"""The body of POST /api/v1/playground (and the `wasm-hub run` flags), checked: every mistake
is a PlaygroundError naming the field, before any module is read or any worker is used.

    {"repository": "ns/name", "ref": "latest" | "sha256:..." | "@sha256:...",
     "config": "..." | {...}, "root_id": "...",
     "request": {"method", "path", "headers": {..} | [[k, v], ..], "body", "trailers"},
     "response": {"status", "headers", "body", "trailers"},
     "http_calls": [{"upstream", "status", "headers", "body", "trailers", "fail"}],
     "properties": {"name": "value"}}"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_CONFIG = 64 * 1024
MAX_HEADERS = 100
MAX_HEADER_BYTES = 16 * 1024
MAX_CALLS = 20
TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token: methods, field names
KNOWN = {
    "repository",
    "ref",
    "config",
    "root_id",
    "request",
    "response",
    "http_calls",
    "properties",
    "vm_config",
}


class PlaygroundError(Exception):
    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


@dataclass
class RunRequest:
    repository: str
    ref: str
    job: dict[str, Any]  # what the worker gets, without the module bytes and limits


def _text(value: Any, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PlaygroundError(f"{field} must be a string", {"field": field})
    if len(value.encode()) > limit:
        raise PlaygroundError(f"{field} is over {limit} bytes", {"field": field})
    return value


def _headers(value: Any, field: str) -> list[list[str]]:
    if value is None:
        return []
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(
        isinstance(p, list | tuple) and len(p) == 2 for p in value
    ):
        pairs = [(p[0], p[1]) for p in value]
    else:
        raise PlaygroundError(
            f"{field} must be an object or a list of [name, value] pairs", {"field": field}
        )
    if len(pairs) > MAX_HEADERS:
        raise PlaygroundError(f"{field} has over {MAX_HEADERS} entries", {"field": field})
    out = []
    size = 0
    for name, val in pairs:
        if not isinstance(name, str) or not isinstance(val, str | int | float):
            raise PlaygroundError(f"{field}: names and values must be strings", {"field": field})
        bare = name[1:] if name.startswith(":") else name
        if not TOKEN.match(bare):
            raise PlaygroundError(f"{field}: {name!r} is not a valid header name", {"field": field})
        text = str(val)
        if "\r" in text or "\n" in text or "\0" in text:
            raise PlaygroundError(
                f"{field}: the value of {name!r} holds a line break or NUL", {"field": field}
            )
        size += len(name) + len(text)
        out.append([name.lower(), text])
    if size > MAX_HEADER_BYTES:
        raise PlaygroundError(f"{field} is over {MAX_HEADER_BYTES} bytes", {"field": field})
    return out


def _object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PlaygroundError(f"{field} must be an object", {"field": field})
    return value


def _status(value: Any, field: str, default: int = 200) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise PlaygroundError(f"{field} must be an HTTP status from 100 to 599", {"field": field})
    return value


def _message(raw: dict[str, Any], field: str, max_body: int, request: bool) -> dict[str, Any]:
    allowed = (
        {"method", "path", "headers", "body", "trailers"}
        if request
        else {"status", "headers", "body", "trailers"}
    )
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise PlaygroundError(
            f"{field} has unknown fields: {', '.join(unknown)}",
            {"field": field, "unknown": unknown},
        )
    out: dict[str, Any] = {
        "headers": _headers(raw.get("headers"), f"{field}.headers"),
        "body": _text(raw.get("body"), f"{field}.body", max_body),
    }
    if raw.get("trailers"):
        out["trailers"] = _headers(raw.get("trailers"), f"{field}.trailers")
    if request:
        method = _text(raw.get("method"), f"{field}.method", 32) or "GET"
        if not TOKEN.match(method):
            raise PlaygroundError(
                f"{field}.method {method!r} is not an HTTP method", {"field": f"{field}.method"}
            )
        path = _text(raw.get("path"), f"{field}.path", 8192) or "/"
        if not path.startswith("/") or any(c in path for c in " \r\n\0"):
            raise PlaygroundError(
                f"{field}.path must start with / and hold no spaces or line breaks",
                {"field": f"{field}.path"},
            )
        out.update(method=method.upper(), path=path)
    else:
        out["status"] = _status(raw.get("status"), f"{field}.status")
    return out


def parse(body: Any, max_body: int) -> RunRequest:
    if not isinstance(body, dict):
        raise PlaygroundError("the request body must be a JSON object")
    unknown = sorted(set(body) - KNOWN)
    if unknown:
        raise PlaygroundError(f"unknown fields: {', '.join(unknown)}", {"unknown": unknown})
    repository = body.get("repository")
    if not isinstance(repository, str) or not repository:
        raise PlaygroundError(
            "repository is required: the namespace/name of a stored filter", {"field": "repository"}
        )
    ref = _text(body.get("ref"), "ref", 200) or "latest"
    ref = ref.removeprefix("@")
    config = body.get("config")
    if config is not None and not isinstance(config, str):
        config = json.dumps(config, separators=(",", ":"))  # Envoy gets the JSON text
    job: dict[str, Any] = {
        "config": _text(config, "config", MAX_CONFIG),
        "vm_config": _text(body.get("vm_config"), "vm_config", MAX_CONFIG),
        "request": _message(_object(body.get("request"), "request"), "request", max_body, True),
        "response": _message(
            _object(body.get("response"), "response"), "response", max_body, False
        ),
    }
    if body.get("root_id") is not None:
        job["root_id"] = _text(body.get("root_id"), "root_id", 256)
    calls = body.get("http_calls") or []
    if not isinstance(calls, list) or len(calls) > MAX_CALLS:
        raise PlaygroundError(
            f"http_calls must be a list of at most {MAX_CALLS} responses", {"field": "http_calls"}
        )
    job["http_calls"] = []
    for i, raw in enumerate(calls):
        field = f"http_calls[{i}]"
        call = _object(raw, field)
        job["http_calls"].append(
            {
                "upstream": _text(call.get("upstream"), f"{field}.upstream", 256) or None,
                "status": _status(call.get("status"), f"{field}.status"),
                "headers": _headers(call.get("headers"), f"{field}.headers"),
                "body": _text(call.get("body"), f"{field}.body", max_body),
                "trailers": _headers(call.get("trailers"), f"{field}.trailers"),
                "fail": bool(call.get("fail")),
            }
        )
    props = _object(body.get("properties"), "properties")
    job["properties"] = {str(k): _text(v, f"properties.{k}", 4096) for k, v in props.items()}
    return RunRequest(repository=repository, ref=ref, job=job)
