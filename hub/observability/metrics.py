"""Prometheus metrics, served at /metrics.

Several uvicorn workers are several processes, each counting its own requests; a scrape reaches
one of them. So `wasm-hub serve --workers N` (N > 1) runs prometheus_client's multiprocess mode:
every worker writes its samples to memory-mapped files in PROMETHEUS_MULTIPROC_DIR (a fresh
temporary directory per start unless the variable is set, in which case it is emptied at
start), and /metrics in any worker sums the files of all of them. Counters and histograms add
up across workers, living and exited; the in-flight gauges add up over living workers only
(`livesum`). With one worker the ordinary in-process registry is used.

Labels stay bounded: `route` is the route template (`/v2/{name}/blobs/{digest}`, `/api/v1/
repositories/{path}`), never the raw path; unmatched paths are "unmatched", unknown methods
"OTHER".
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import MutableMapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Manifest and API calls take milliseconds; blob transfers can take minutes.
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
)  # fmt: skip

# /v2 is one catch-all route (names hold slashes); its endpoints are told apart here, in the
# order hub.registry.routes matches them.
_V2 = [
    (re.compile(r"^/v2/?$"), "/v2/"),
    (re.compile(r"^/v2/_catalog$"), "/v2/_catalog"),
    (re.compile(r"^/v2/.+?/manifests/[^/]+$"), "/v2/{name}/manifests/{reference}"),
    (re.compile(r"^/v2/.+?/blobs/uploads/?$"), "/v2/{name}/blobs/uploads/"),
    (re.compile(r"^/v2/.+?/blobs/uploads/[^/]+$"), "/v2/{name}/blobs/uploads/{upload_id}"),
    (re.compile(r"^/v2/.+?/blobs/[^/]+$"), "/v2/{name}/blobs/{digest}"),
    (re.compile(r"^/v2/.+?/tags/list$"), "/v2/{name}/tags/list"),
    (re.compile(r"^/v2/.+?/referrers/[^/]+$"), "/v2/{name}/referrers/{digest}"),
]
_CONVERTER = re.compile(r"\{([^}:]+):[^}]+\}")
UPLOAD_ROUTES = frozenset({"/v2/{name}/blobs/uploads/", "/v2/{name}/blobs/uploads/{upload_id}"})


def route_template(scope: MutableMapping[str, Any]) -> str:
    path: str = scope.get("path", "")
    if path.startswith("/v2"):
        for pattern, template in _V2:
            if pattern.match(path):
                return template
        return "unmatched"
    route = scope.get("route")
    found = getattr(route, "path", None)
    return _CONVERTER.sub(r"{\1}", found) if isinstance(found, str) else "unmatched"


def method_label(method: str) -> str:
    return method if method in METHODS else "OTHER"


def prepare_multiprocess(workers: int) -> Path | None:
    """Called by `wasm-hub serve` before any worker starts (and before prometheus_client is
    imported). Returns a directory the caller removes at exit, or None."""
    if workers <= 1 and MULTIPROC_ENV not in os.environ:
        return None
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        # Files left by an earlier run would be added to this one's counts.
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        return None
    created = Path(tempfile.mkdtemp(prefix="wasm-hub-metrics-"))
    os.environ[MULTIPROC_ENV] = str(created)
    return created


def remove_multiprocess_dir(directory: Path | None) -> None:
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram, values

        if multiprocess():
            # prometheus_client picks its value class when first imported; make sure it is
            # the file-backed one when the directory was configured after that import.
            values.ValueClass = values.get_value_class()
        self.requests = Counter(
            "hub_http_requests_total",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
        )
        self.latency = Histogram(
            "hub_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response body.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
        )
        self.bytes_in = Counter(
            "hub_http_request_bytes_total", "Request body bytes received, by route.", ["route"]
        )
        self.bytes_out = Counter(
            "hub_http_response_bytes_total", "Response body bytes sent, by route.", ["route"]
        )
        self.in_flight = Gauge(
            "hub_http_requests_in_flight",
            "Requests being served now.",
            multiprocess_mode="livesum",
        )
        self.uploads_in_flight = Gauge(
            "hub_uploads_in_flight",
            "Blob upload requests (POST/PATCH/PUT under /blobs/uploads) being served now.",
            multiprocess_mode="livesum",
        )
        self.storage_errors = Counter(
            "hub_storage_errors_total",
            "Storage backend failures (not 'blob not found'), by operation.",
            ["operation"],
        )
        self.database_errors = Counter(
            "hub_database_errors_total",
            "Database errors raised to the hub, by SQLAlchemy exception class.",
            ["error"],
        )
        self.body_timeouts = Counter(
            "hub_request_body_timeouts_total",
            "Requests refused because the client sent its body too slowly.",
        )

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import (
            CONTENT_TYPE_LATEST,
            REGISTRY,
            CollectorRegistry,
            generate_latest,
            multiprocess,
        )

        if self.is_multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

    @property
    def is_multiprocess(self) -> bool:
        return multiprocess()


@lru_cache(maxsize=1)
def metrics() -> Metrics:
    """The process's one set of metrics (prometheus_client registers names globally)."""
    return Metrics()


def worker_exit() -> None:
    """Drop this process's live gauges from the multiprocess sums (its counters stay)."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(os.getpid())


async def endpoint(request: Request) -> Response:
    body, content_type = metrics().exposition()
    return Response(
        body,
        media_type=content_type.split(";")[0],
        headers={
            "Content-Type": content_type,
            "Cache-Control": "no-store",
        },
    )
