"""The playground service: resolve a stored filter, run it in a sandbox worker with the
request the caller describes, and answer what the upstream and the client would have seen.
The JSON API (hub.api.playground) and `wasm-hub run` (hub.playground.cli) both call run(),
so they print the same thing. Also the load check pushes get (hub.artifacts.modules)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from hub.artifacts.details import DetailsService
from hub.config import Settings
from hub.oci.digest import Digest, InvalidDigest
from hub.oci.reference import valid_name, valid_tag
from hub.playground.pool import PoolBusy, RunFailed, WorkerPool
from hub.playground.request import PlaygroundError, RunRequest, parse
from hub.storage import BlobNotFound, Storage
from hub.storage.paths import blob_key
from hub.wasm.host.limits import MIB, Limits

log = logging.getLogger("hub.playground")
MAX_MODULE = 64 * MIB
POOL_WAIT = 10.0  # seconds a run may wait for a free worker before the answer is "busy"
LOAD_CHECK_WAIT = 2.0  # a push waits less: it records "not checked" instead
LOAD_CHECK_START = 10.0  # nor does it wait long for the first worker to start
LOAD_CHECK_ABI = "0.2.x"


class NotAFilter(PlaygroundError):
    """The manifest carries no WebAssembly module."""


class Busy(Exception):
    """Every sandbox worker stayed busy; try again later."""


@dataclass
class Target:
    repository: str
    ref: str
    digest: str
    sha256: str
    size: int
    variant: str
    root_ids: list[str]


class PlaygroundService:
    def __init__(self, settings: Settings, details: DetailsService, storage: Storage) -> None:
        self.settings = settings
        self.details = details
        self.storage = storage
        self.pool = WorkerPool(settings.playground_workers)
        self.limits = Limits(
            cpu_ms=settings.playground_cpu_ms,
            memory_bytes=settings.playground_memory_mb * MIB,
            wall_seconds=settings.playground_timeout_seconds,
        )
        # A push's check runs under tighter limits: any upload reaches it, unasked.
        self.load_limits = replace(
            self.limits,
            cpu_ms=min(self.limits.cpu_ms, 100),
            wall_seconds=min(self.limits.wall_seconds, 3.0),
        )

    def close(self) -> None:
        self.pool.close()

    # -- running a stored filter -----------------------------------------------------------

    def parse(self, body: Any) -> RunRequest:
        return parse(body, self.limits.max_body_bytes)

    def _target(self, repository: str, ref: str, visible: set[int] | None) -> Target:
        if not valid_name(repository):
            raise PlaygroundError(
                f"{repository!r} is not a repository name", {"repository": repository}
            )
        if ":" in ref:
            try:
                Digest.parse(ref)
            except InvalidDigest as exc:
                raise PlaygroundError(f"ref {ref!r}: {exc}", {"ref": ref}) from None
        elif not valid_tag(ref):
            raise PlaygroundError(f"{ref!r} is neither a tag nor a digest", {"ref": ref})
        digest, module, _ = self.details.resolve(repository, ref, visible)
        if module is None:
            raise NotAFilter(
                f"{repository}@{digest} carries no WebAssembly module: nothing to run",
                {"repository": repository, "digest": digest},
            )
        return Target(
            repository=repository,
            ref=ref,
            digest=digest,
            sha256=module.module_sha256,
            size=module.module_size,
            variant=module.variant,
            root_ids=[r for r in module.root_ids.split(",") if r],
        )

    def _bytes(self, sha256: str) -> bytes:
        data = bytearray()
        try:
            for chunk in self.storage.read(blob_key(Digest.parse(f"sha256:{sha256}"))):
                data.extend(chunk)
                if len(data) > MAX_MODULE:
                    raise PlaygroundError(f"the module is over {MAX_MODULE} bytes")
        except BlobNotFound:
            raise PlaygroundError(f"the bytes of module sha256:{sha256} are missing") from None
        return bytes(data)

    def run(self, request: RunRequest, visible: set[int] | None = None) -> dict[str, Any]:
        """Blocking: call it from a worker thread. NameUnknown / ManifestUnknown for a missing
        (or hidden) repository or ref, PlaygroundError for a bad request, Busy when no
        sandbox worker frees up."""
        started = time.perf_counter()
        target = self._target(request.repository, request.ref, visible)
        data = self._bytes(target.sha256)
        job = dict(request.job)
        job.setdefault("root_id", target.root_ids[0] if target.root_ids else "")
        job["plugin_name"] = target.repository
        job["limits"] = self.limits.to_json()
        try:
            result = self.pool.run(
                "run", data, job, timeout=self.limits.wall_seconds, wait=POOL_WAIT
            )
        except PoolBusy as exc:
            raise Busy(str(exc)) from None
        except RunFailed as exc:
            result = _failed(exc, self.limits)
        result["module"] = {
            "repository": target.repository,
            "ref": target.ref,
            "digest": target.digest,
            "sha256": target.sha256,
            "size": target.size,
            "variant": target.variant,
            "root_ids": target.root_ids,
        }
        result.setdefault("timing", {})["wall_ms"] = round(
            (time.perf_counter() - started) * 1000, 3
        )
        return result

    # -- the load check at push ----------------------------------------------------------------

    def load_check(
        self, data: bytes, root_ids: Sequence[str], module_abi: Sequence[str]
    ) -> dict[str, Any]:
        """{"ok": True/False/None, "reason", "abi": "0.2.x"}; never raises: a push must not
        fail because of it (None = not checked, and why)."""
        if not any(v.startswith("0.2.") for v in module_abi):
            found = ", ".join(module_abi) or "none"
            return {
                "ok": False,
                "reason": f"exports no proxy_abi_version_0_2_x marker (ABI found: {found})",
                "abi": LOAD_CHECK_ABI,
            }
        job = {
            "config": "",
            "root_id": root_ids[0] if root_ids else "",
            "limits": self.load_limits.to_json(),
        }
        try:
            result = self.pool.run(
                "load_check",
                data,
                job,
                timeout=self.load_limits.wall_seconds,
                wait=LOAD_CHECK_WAIT,
                start_timeout=LOAD_CHECK_START,
            )
        except PoolBusy as exc:
            return {"ok": None, "reason": f"not checked: {exc}", "abi": LOAD_CHECK_ABI}
        except RunFailed as exc:
            if exc.kind == "timeout":
                return {"ok": False, "reason": exc.message, "abi": LOAD_CHECK_ABI}
            return {"ok": None, "reason": f"not checked: {exc.message}", "abi": LOAD_CHECK_ABI}
        except Exception as exc:  # never fail a push over the check
            log.exception("load check failed")
            return {"ok": None, "reason": f"not checked: {exc}", "abi": LOAD_CHECK_ABI}
        return result


def _failed(exc: RunFailed, limits: Limits) -> dict[str, Any]:
    """The answer for a run the pool had to stop: the same shape as a finished one."""
    return {
        "ok": False,
        "outcome": "error",
        "verdict": exc.message,
        "error": {"kind": exc.kind, "message": exc.message, "callback": None},
        "abi": None,
        "root_id": None,
        "upstream": {"reached": False, "request": None},
        "client": {"response": None},
        "diff": {"request_headers": None, "response_headers": None},
        "local_response": None,
        "callbacks": [],
        "logs": [],
        "logs_dropped": 0,
        "metrics": [],
        "calls": [],
        "calls_dropped": 0,
        "shared_data": {},
        "notes": [],
        "timing": {},
        "limits": limits.to_json(),
    }
