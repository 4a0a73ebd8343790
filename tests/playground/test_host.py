"""The proxy-wasm host in-process (hub.wasm.host): lifecycle order, header edits, local
responses, and each limit ending a run with its verdict. The pool and the API are tested in
test_pool.py and tests/functional/test_playground.py."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hub.wasm.host import load_check, run_filter
from hub.wasm.host.abi import deserialize_pairs, serialize_pairs
from tests.playground import modules

MIB = 1024 * 1024


def run(wasm: bytes, **job: Any) -> dict[str, Any]:
    return run_filter(wasm, job)


def test_pairs_round_trip_and_spec_example() -> None:
    # spec v0.2.1 "Serialization": {{"a": "1"}, {"b": "22"}}
    data = serialize_pairs([("a", "1"), ("b", "22")])
    assert data == bytes([2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]) + (
        b"a\x001\x00b\x0022\x00"
    )
    assert deserialize_pairs(data) == [("a", "1"), ("b", "22")]
    assert deserialize_pairs(b"") == deserialize_pairs(b"\x00") == []


def test_skeleton_runs_the_lifecycle_in_envoys_order() -> None:
    result = run(modules.skeleton(), request={"path": "/x"}, response={"status": 204})
    assert result["ok"] and result["outcome"] == "forwarded", result["verdict"]
    names = [c["callback"] for c in result["callbacks"]]
    assert names == [
        "proxy_on_context_create",
        "proxy_on_vm_start",
        "proxy_on_configure",
        "proxy_on_context_create",
        "proxy_on_request_headers",
    ]
    assert result["callbacks"][4]["action"] == "Continue"
    assert result["logs"] == [
        {
            "level": "info",
            "message": "configured",
            "callback": "proxy_on_configure",
            "source": "proxy_log",
        }
    ]
    assert result["upstream"]["request"]["path"] == "/x"
    assert result["client"]["response"]["status"] == 204


def test_a_tick_period_gets_proxy_on_tick_for_the_root_context() -> None:
    result = run(modules.ticker(), request={"path": "/x"})
    assert result["ok"], result["verdict"]
    names = [c["callback"] for c in result["callbacks"]]
    assert names == [
        "proxy_on_context_create",
        "proxy_on_vm_start",
        "proxy_on_configure",
        "proxy_on_tick",
        "proxy_on_tick",
        "proxy_on_tick",
        "proxy_on_context_create",
        "proxy_on_request_headers",
    ]
    assert all(c["ms"] is not None for c in result["callbacks"][3:6])
    ticks = [(log["callback"], log["message"]) for log in result["logs"][1:]]
    assert ticks == [("proxy_on_tick", f"tick {n}") for n in (1, 2, 3)]
    assert result["calls"][0] == {
        "kind": "set_tick_period_milliseconds",
        "callback": "proxy_on_configure",
        "period_ms": 1000,
    }
    assert any("1000 ms tick period: proxy_on_tick ran 3 times" in n for n in result["notes"])
    assert result["client"]["response"]["status"] == 200


def test_setting_the_tick_period_to_zero_stops_the_ticks() -> None:
    result = run(modules.ticker(stop_after=2))
    assert result["ok"], result["verdict"]
    assert [c["callback"] for c in result["callbacks"]].count("proxy_on_tick") == 2
    assert [log["message"] for log in result["logs"][1:]] == ["tick 1", "tick 2"]


def test_http_calls_made_in_a_tick_are_answered() -> None:
    result = run(
        modules.ticker(stop_after=1, http_call=True),
        http_calls=[{"upstream": "authz", "status": 200, "body": "ok"}],
    )
    assert result["ok"], result["verdict"]
    names = [c["callback"] for c in result["callbacks"]]
    assert names[2:5] == ["proxy_on_configure", "proxy_on_tick", "proxy_on_http_call_response"]
    assert [(log["callback"], log["message"]) for log in result["logs"][1:]] == [
        ("proxy_on_tick", "tick 1"),
        ("proxy_on_http_call_response", "answered"),
    ]
    call = next(c for c in result["calls"] if c["kind"] == "http_call")
    assert call["callback"] == "proxy_on_tick" and call["answer"] == "canned 200"


def test_no_tick_period_no_ticks() -> None:
    # the ticker's proxy_on_tick, but a configure that never sets a period
    wasm = modules.skeleton(extra_funcs='(func (export "proxy_on_tick") (param i32) unreachable)')
    result = run(wasm)
    assert result["ok"], result["verdict"]
    assert "proxy_on_tick" not in [c["callback"] for c in result["callbacks"]]


@pytest.mark.parametrize(
    ("on_tick", "kind", "message"),
    [
        ("unreachable", "trap", "trap: unreachable in proxy_on_tick"),
        ("(loop $spin (br $spin))", "cpu", "exceeded 100 ms CPU budget in proxy_on_tick"),
    ],
)
def test_a_bad_tick_ends_the_run_with_a_verdict(on_tick: str, kind: str, message: str) -> None:
    started = time.monotonic()
    result = run(modules.ticker(on_tick=on_tick))
    assert not result["ok"] and result["error"]["kind"] == kind
    assert result["verdict"].startswith(message), result["verdict"]
    assert [c["callback"] for c in result["callbacks"]][-1] == "proxy_on_tick"
    assert result["upstream"]["reached"] is False
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        (modules.TRAP, "trap", "trap: unreachable in proxy_on_request_headers"),
        (modules.LOOP, "cpu", "exceeded 100 ms CPU budget in proxy_on_request_headers"),
        (modules.BOMB, "memory", "memory limit 64 MiB exceeded in proxy_on_request_headers"),
    ],
)
def test_bad_callbacks_end_with_a_verdict(body: str, kind: str, message: str) -> None:
    started = time.monotonic()
    result = run(modules.skeleton(request_headers=body))
    elapsed = time.monotonic() - started
    assert not result["ok"] and result["outcome"] == "error"
    assert result["error"]["kind"] == kind
    assert result["verdict"].startswith(message), result["verdict"]
    assert elapsed < 2, elapsed
    assert result["upstream"]["reached"] is False


def test_trap_in_configure_is_named() -> None:
    result = run(modules.skeleton(configure=modules.TRAP))
    assert result["verdict"] == "trap: unreachable in proxy_on_configure"
    check = load_check(modules.skeleton(configure=modules.TRAP), {})
    assert check == {
        "ok": False,
        "reason": "trap: unreachable in proxy_on_configure (configured with an empty "
        "configuration)",
        "abi": "0.2.x",
    }


def test_cpu_budget_is_the_configured_one() -> None:
    started = time.monotonic()
    result = run(modules.skeleton(configure=modules.LOOP), limits={"cpu_ms": 30})
    assert result["verdict"] == "exceeded 30 ms CPU budget in proxy_on_configure"
    assert time.monotonic() - started < 1


def test_memory_cap_refuses_a_module_that_starts_too_big() -> None:
    wasm = modules.skeleton()
    result = run(wasm, limits={"memory_bytes": 32 * 1024})  # less than its one page
    assert result["error"]["kind"] == "memory"
    assert result["verdict"].startswith("memory limit"), result["verdict"]


def test_load_check_flags_imports_the_host_cannot_satisfy() -> None:
    check = load_check(modules.unlinkable(), {})
    assert check["ok"] is False
    assert "env.proxy_open_socket: unknown to a proxy-wasm 0.2.x host" in check["reason"]
    assert load_check(modules.skeleton(), {})["ok"] is True


def test_a_module_without_the_abi_marker_is_not_loaded() -> None:
    import wasmtime

    wasm = wasmtime.wat2wasm('(module (memory (export "memory") 1))')
    check = load_check(wasm, {})
    assert check["ok"] is False and "proxy_abi_version_0_2_x" in check["reason"]


def test_http_call_answered_from_canned_response_resumes_the_request() -> None:
    result = run(
        modules.http_caller(),
        request={"method": "POST", "path": "/pay", "body": "card=4111"},
        http_calls=[{"upstream": "authz", "status": 200, "body": "allow"}],
    )
    assert result["ok"] and result["outcome"] == "forwarded", result["verdict"]
    upstream = result["upstream"]["request"]
    assert ["x-authz", "allow"] in upstream["headers"]
    assert upstream["body"] == "REDACTED"
    [call] = result["calls"][:1]
    assert call["kind"] == "http_call" and call["upstream"] == "authz"
    assert call["headers"][:2] == [[":method", "GET"], [":path", "/"]]
    assert call["answer"] == "canned 200"
    names = [c["callback"] for c in result["callbacks"]]
    assert names.index("proxy_on_http_call_response") == names.index("proxy_on_request_headers") + 1
    assert {
        "level": "info",
        "message": "hello stdout",
        "callback": "proxy_on_response_headers",
        "source": "stdout",
    } in result["logs"]


def test_http_call_without_a_canned_response_fails_and_the_request_stalls() -> None:
    result = run(modules.http_caller(), request={"path": "/pay"})
    assert result["ok"] and result["outcome"] == "stalled"
    assert result["upstream"]["reached"] is False and result["client"]["response"] is None
    assert "paused in proxy_on_request_headers and never resumed" in result["verdict"]
    assert result["calls"][0]["answer"].startswith("BAD_ARGUMENT: no canned response")
    assert result["callbacks"][-1] == {
        "callback": "proxy_on_request_headers",
        "ms": result["callbacks"][-1]["ms"],
        "returned": 1,
        "action": "StopIteration",
    }


def test_header_maps_are_capped() -> None:
    result = run(modules.header_flood(300), limits={"cpu_ms": 2000})
    assert result["ok"], result["verdict"]
    headers = result["upstream"]["request"]["headers"]
    assert len(headers) == 200  # the limit: 4 pseudo-headers and 196 added
    assert any(
        c["kind"] == "header_map" and "over 200 headers" in c["refused"] for c in result["calls"]
    )


def test_logs_are_capped() -> None:
    chatty = """
    (local $i i32)
    (loop $more
      (drop (call $log (i32.const 2) (i32.const 16) (i32.const 10)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 50))))
    (i32.const 0)"""
    result = run(
        modules.skeleton(request_headers=chatty),
        limits={"max_log_entries": 10},
    )
    assert result["ok"], result["verdict"]
    assert len(result["logs"]) == 10 and result["logs_dropped"] == 41  # 51 logged in all
