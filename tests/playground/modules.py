"""Hand-built proxy-wasm modules (WAT, compiled with wasmtime.wat2wasm) for the limits and
link checks: a well-behaved skeleton, and variants that trap, loop forever, grow memory
without bound, or import what no proxy-wasm host provides."""

from __future__ import annotations

import wasmtime

CONTINUE = "(i32.const 0)"
TRUE = "(i32.const 1)"
TRAP = "unreachable"
LOOP = "(loop $spin (br $spin)) (i32.const 0)"
# Grow a page at a time until memory.grow answers -1 (the store's cap), then give up.
BOMB = "(loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) unreachable"


def skeleton(
    configure: str = TRUE,
    request_headers: str = CONTINUE,
    extra_imports: str = "",
    data: str = "",
    extra_funcs: str = "",
) -> bytes:
    """ABI 0.2.1 marker, a bump allocator, and the callbacks the lifecycle needs; the
    configure and request-headers bodies are given (each must leave one i32), and more
    functions (exports) may be added."""
    return bytes(
        wasmtime.wat2wasm(
            f"""
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  {extra_imports}
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 16) "configured")
  {data}
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $p))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (drop (call $log (i32.const 2) (i32.const 16) (i32.const 10)))
    {configure})
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) {request_headers})
  {extra_funcs}
)"""
        )
    )


def unlinkable() -> bytes:
    return skeleton(
        extra_imports='(import "env" "proxy_open_socket" (func (param i32) (result i32)))'
    )


# Serialized pairs (spec "Serialization"): :method GET, :path /, :authority authz.
_CALL_HEADERS = (
    r"\03\00\00\00"
    r"\07\00\00\00\03\00\00\00\05\00\00\00\01\00\00\00\0a\00\00\00\05\00\00\00"
    r":method\00GET\00:path\00/\00:authority\00authz\00"
)


def http_caller() -> bytes:
    """Pauses the request on a proxy_http_call to "authz"; when the answer comes, copies its
    body into the request header x-authz and resumes. Rewrites the request body to REDACTED
    and writes "hello stdout" with WASI fd_write in the response headers."""
    return bytes(
        wasmtime.wat2wasm(
            rf"""
(module
  (import "env" "proxy_http_call"
    (func $http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (type $five (func (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buffer (type $five)))
  (import "env" "proxy_set_buffer_bytes" (func $set_buffer (type $five)))
  (import "env" "proxy_add_header_map_value" (func $add_header (type $five)))
  (import "env" "proxy_continue_stream" (func $continue (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 64) "{_CALL_HEADERS}")
  (data (i32.const 200) "authz")
  (data (i32.const 208) "x-authz")
  (data (i32.const 220) "REDACTED")
  (data (i32.const 240) "\04\01\00\00\0d\00\00\00")
  (data (i32.const 260) "hello stdout\0a")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $p))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $http_call (i32.const 200) (i32.const 5) (i32.const 64) (i32.const 65)
      (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 300)))
    (i32.const 1))
  (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32)
    (drop (call $get_buffer
      (i32.const 4) (i32.const 0) (local.get 3) (i32.const 304) (i32.const 308)))
    (drop (call $add_header (i32.const 0) (i32.const 208) (i32.const 7)
      (i32.load (i32.const 304)) (i32.load (i32.const 308))))
    (drop (call $continue (i32.const 0))))
  (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32)
    (drop (call $set_buffer
      (i32.const 0) (i32.const 0) (local.get 1) (i32.const 220) (i32.const 8)))
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (drop (call $fd_write (i32.const 1) (i32.const 240) (i32.const 1) (i32.const 312)))
    (i32.const 0))
)"""
        )
    )


def header_flood(count: int = 1000) -> bytes:
    """Adds `count` request headers "x-flood: y" in proxy_on_request_headers."""
    add = (
        '(import "env" "proxy_add_header_map_value" '
        "(func $add (param i32 i32 i32 i32 i32) (result i32)))"
    )
    body = f"""
    (local $i i32)
    (loop $more
      (drop (call $add
        (i32.const 0) (i32.const 512) (i32.const 7) (i32.const 520) (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const {count}))))
    (i32.const 0)"""
    data = '(data (i32.const 512) "x-flood") (data (i32.const 520) "y")'
    return skeleton(request_headers=body, extra_imports=add, data=data)


def ticker(on_tick: str = "", stop_after: int = 0, http_call: bool = False) -> bytes:
    """Sets a 1000 ms tick period in proxy_on_configure; proxy_on_tick traps unless called
    for the root context (1), logs "tick N" and then runs ``on_tick``; with ``stop_after``,
    tick number ``stop_after`` sets the period to 0 (Envoy's way to stop the timer). With
    ``http_call``, each tick calls upstream "authz" and the answer is logged as "answered"."""
    period = (
        '(import "env" "proxy_set_tick_period_milliseconds" '
        "(func $tick_period (param i32) (result i32)))"
    )
    data = '(data (i32.const 40) "tick ?")'
    more = ""
    if http_call:
        period += (
            '(import "env" "proxy_http_call" (func $http_call '
            "(param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))"
        )
        data += f' (data (i32.const 64) "{_CALL_HEADERS}") (data (i32.const 200) "authz")'
        data += ' (data (i32.const 220) "answered")'
        on_tick += """
    (drop (call $http_call (i32.const 200) (i32.const 5) (i32.const 64) (i32.const 65)
      (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 300)))"""
        more = """
  (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32)
    (drop (call $log (i32.const 2) (i32.const 220) (i32.const 8))))"""
    stop = (
        f"(if (i32.eq (global.get $ticks) (i32.const {stop_after})) "
        "(then (drop (call $tick_period (i32.const 0)))))"
        if stop_after
        else ""
    )
    funcs = f"""
  (global $ticks (mut i32) (i32.const 0))
  (func (export "proxy_on_tick") (param $context i32)
    (if (i32.ne (local.get $context) (i32.const 1)) (then unreachable))
    (global.set $ticks (i32.add (global.get $ticks) (i32.const 1)))
    ;; "tick N" for N = 1..9: the digit is '0' + N, written into the message
    (i32.store8 (i32.const 45) (i32.add (i32.const 48) (global.get $ticks)))
    (drop (call $log (i32.const 2) (i32.const 40) (i32.const 6)))
    {stop}
    {on_tick}){more}"""
    return skeleton(
        configure=f"(drop (call $tick_period (i32.const 1000))) {TRUE}",
        extra_imports=period,
        data=data,
        extra_funcs=funcs,
    )
