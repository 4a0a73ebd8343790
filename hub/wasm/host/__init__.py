"""A proxy-wasm ABI 0.2.x host on wasmtime, for running untrusted filters in the playground
and for the load check at push. Runs inside a worker process (hub.playground.pool): the limits
here bound one run; the process boundary protects the hub from everything else.

    run_filter(wasm, job)    -> the request/response after the filter, logs, metrics, ...
    load_check(wasm, job)    -> {"ok", "reason", "abi"}: VM start + configure only

Modules: abi (numbers, pair serialization), memory (guest memory), state (maps, buffers, the
record), functions (env.proxy_*: the table and `ProxyEnv`, whose methods live in properties,
maps, stream, outbound and shared), wasi (WASI calls), limits (budgets, verdicts), sandbox
(engine, linking, one call under limits), lifecycle (Envoy's call order), result (JSON)."""

from __future__ import annotations

import time
from typing import Any

from hub.wasm.host.lifecycle import Run
from hub.wasm.host.limits import Limits, Verdict
from hub.wasm.host.sandbox import Aborted

__all__ = ["Limits", "load_check", "run_filter"]


def _explain(run: Run, verdict: Verdict) -> str:
    """The verdict, plus the filter's own last words when it aborted itself (the
    AssemblyScript SDK logs a critical message before proc_exit)."""
    message = verdict.message
    if verdict.kind in ("exit", "trap") and run.state.logs:
        last = run.state.logs[-1]
        if last["level"] in ("critical", "error"):
            message += f"; its last log: {last['message'][:300]!r}"
    return message


def _summary(run: Run, served: dict[str, Any]) -> str:
    if run.outcome == "local_response" and run.state.local_response is not None:
        local = run.state.local_response
        return (
            f"local response {local.status} sent from {local.sent_in}: the upstream was not called"
        )
    if run.outcome in ("stalled", "reset"):
        return run.notes[-1]
    status = (served.get("client") or {}).get("response") or {}
    return f"forwarded to the upstream; the client got {status.get('status', '?')}"


def run_filter(data: bytes, job: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    run = Run(data, job)
    served: dict[str, Any] = {
        "upstream": {"reached": False, "request": None},
        "client": {"response": None},
        "diff": {"request_headers": None, "response_headers": None},
    }
    verdict: Verdict | None = None
    try:
        run.start_vm()
        run.configure()
        run.tick()
        served = run.serve()
    except Aborted as exc:
        verdict = exc.verdict
        run.outcome = "error"
    state = run.state
    local = state.local_response
    return {
        "ok": verdict is None,
        "outcome": run.outcome,
        "verdict": _explain(run, verdict) if verdict else _summary(run, served),
        "error": verdict.to_json() if verdict else None,
        "abi": run.abi,
        "root_id": run.root_id,
        **served,
        "local_response": None
        if local is None
        else {
            "status": local.status,
            "details": local.details,
            "body": local.body.decode("utf-8", "replace"),
            "headers": [[k, v] for k, v in local.headers],
            "grpc_status": local.grpc_status,
            "sent_in": local.sent_in,
        },
        "callbacks": run.callbacks,
        "logs": state.logs,
        "logs_dropped": state.logs_dropped,
        "metrics": [m.to_json() for m in state.metrics.values()],
        "calls": state.calls,
        "calls_dropped": state.calls_dropped,
        "shared_data": {k: v.decode("utf-8", "replace") for k, (v, _) in state.shared_data.items()},
        "notes": run.notes,
        "timing": {**run.timing, "total_ms": round((time.perf_counter() - started) * 1000, 3)},
        "limits": run.limits.to_json(),
    }


def load_check(data: bytes, job: dict[str, Any]) -> dict[str, Any]:
    """Would a proxy-wasm 0.2.x host load this module? Instantiate it, start the VM and
    configure it with the job's configuration (empty at push)."""
    run = Run(data, job)
    size = len(run.state.plugin_config)
    config = "an empty configuration" if size == 0 else f"a {size}-byte configuration"
    try:
        run.start_vm()
        run.configure()
    except Aborted as exc:
        reason = _explain(run, exc.verdict)
        if exc.verdict.callback == "proxy_on_configure":
            reason += f" (configured with {config})"
        return {"ok": False, "reason": reason, "abi": "0.2.x"}
    return {
        "ok": True,
        "reason": f"instantiated; proxy_on_vm_start and proxy_on_configure with {config} "
        f"succeeded (ABI {run.abi})",
        "abi": "0.2.x",
    }
