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
) -> bytes:
    """ABI 0.2.1 marker, a bump allocator, and the callbacks the lifecycle needs; the
    configure and request-headers bodies are given (each must leave one i32)."""
    return wasmtime.wat2wasm(
        f"""
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  {extra_imports}
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 16) "configured")
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
)"""
    )


def unlinkable() -> bytes:
    return skeleton(
        extra_imports='(import "env" "proxy_open_socket" (func (param i32) (result i32)))'
    )
