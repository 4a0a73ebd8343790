"""The env.proxy_* table against the methods behind it: every import the table names links
and instantiates with its table signature, and the gRPC calls (refused here) still read the
upstream, service and method from the guest's arguments."""

from __future__ import annotations

from typing import Any

from hub.wasm.host import run_filter
from hub.wasm.host.functions import PROXY_FUNCTIONS
from tests.playground import modules

_WAT_TYPES = {"i": "i32", "I": "i64"}


def _import(name: str) -> str:
    params, results = PROXY_FUNCTIONS[name]
    param = " ".join(_WAT_TYPES[p] for p in params)
    result = " ".join(_WAT_TYPES[r] for r in results)
    return (
        f'(import "env" "{name}" (func ${name}'
        f"{f' (param {param})' if param else ''}{f' (result {result})' if result else ''}))"
    )


def test_every_table_entry_links_to_a_method() -> None:
    names = [n for n in PROXY_FUNCTIONS if n != "proxy_log"]  # the skeleton imports proxy_log
    wasm = modules.skeleton(extra_imports="\n".join(_import(n) for n in names))
    result: dict[str, Any] = run_filter(wasm, {"request": {"path": "/"}})
    assert result["ok"] and result["outcome"] == "forwarded", result["verdict"]


def test_grpc_calls_are_refused_naming_upstream_service_and_method() -> None:
    zeros = "(i32.const 0)"
    call = (
        "(drop (call $proxy_grpc_call (i32.const 100) (i32.const 4) (i32.const 110)"
        f" (i32.const 7) (i32.const 120) (i32.const 3) {' '.join([zeros] * 6)}))"
    )
    stream = (
        "(drop (call $proxy_grpc_stream (i32.const 120) (i32.const 3) (i32.const 100)"
        f" (i32.const 4) (i32.const 110) (i32.const 7) {' '.join([zeros] * 3)}))"
    )
    wasm = modules.skeleton(
        extra_imports=_import("proxy_grpc_call") + _import("proxy_grpc_stream"),
        data='(data (i32.const 100) "auth") (data (i32.const 110) "pkg.Svc") '
        '(data (i32.const 120) "Get")',
        request_headers=f"{call} {stream} {modules.CONTINUE}",
    )
    result = run_filter(wasm, {"request": {"path": "/"}})
    assert result["ok"], result["verdict"]
    grpc = [c for c in result["calls"] if c["kind"].startswith("grpc_")]
    answer = "PARSE_FAILURE: the playground has no gRPC upstreams"
    assert [(c["kind"], c["upstream"], c["service"], c["method"], c["answer"]) for c in grpc] == [
        ("grpc_call", "auth", "pkg.Svc", "Get", answer),
        ("grpc_stream", "Get", "auth", "pkg.Svc", answer),
    ]
