"""What one run of an untrusted filter may use, and the verdict when it uses more.

The CPU budget is per callback, enforced with wasmtime's epoch interruption (a ticker thread
in the worker advances the engine's epoch; lifecycle.py sets the deadline before each call).
Memory is the store's limiter: memory.grow answers -1 past the cap, so a module that keeps
growing ends in a trap or a loop with its memory at the cap — that is how the memory verdict
is told apart. The whole-run wall clock is enforced outside, by the pool that kills the
worker process (hub.playground.pool)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

MIB = 1024 * 1024
PAGE = 64 * 1024


@dataclass(frozen=True)
class Limits:
    cpu_ms: int = 100  # per callback
    memory_bytes: int = 64 * MIB  # linear memory of the instance
    wall_seconds: float = 5.0  # the whole run, instantiation included (pool-enforced)
    max_log_entries: int = 500
    max_log_bytes: int = 256 * 1024
    max_body_bytes: int = 1 * MIB  # bodies the filter writes, local responses included
    max_calls: int = 200  # recorded host calls (http calls, properties set, ...)
    # Envoy's defaults: 60 KiB of request headers, 100 of them; a little room above.
    max_header_bytes: int = 64 * 1024  # one header map, serialized
    max_headers: int = 200  # entries in one header map
    max_shared_bytes: int = 1 * MIB  # shared data and queued items together
    max_metrics: int = 1000
    table_elements: int = 100_000

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Limits:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})


def mib(n: int) -> str:
    return f"{n / MIB:g} MiB"


class ProcExit(Exception):
    """The guest called WASI proc_exit: Envoy fails the VM ("wasi_unstable proc_exit")."""

    def __init__(self, code: int) -> None:
        super().__init__(f"proc_exit({code})")
        self.code = code


@dataclass
class Verdict:
    kind: str  # trap | cpu | memory | exit | link | instantiate | timeout | crash | busy
    message: str
    callback: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "callback": self.callback}


def _trap_text(exc: BaseException) -> str:
    code = getattr(exc, "trap_code", None)
    if code is not None:
        return str(code.name).lower().replace("_", " ")
    message = str(getattr(exc, "message", "") or exc)
    first = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    return first.removeprefix("wasm trap: ")


def verdict(exc: BaseException, callback: str, limits: Limits, memory_used: int) -> Verdict:
    """One line a person can act on for an exception that ended a callback. `memory_used` is
    the instance's linear memory when it ended: within a page of the cap, memory.grow was
    refused for certain; past half the cap, probably (allocators that double their heap,
    like AssemblyScript's, fail there), and the verdict says so."""
    import wasmtime

    where = f"in {callback}"
    if isinstance(exc, ProcExit):
        return Verdict(
            "exit", f"proc_exit({exc.code}) {where}: the filter aborted itself", callback
        )
    code = getattr(exc, "trap_code", None)
    if memory_used + PAGE > limits.memory_bytes:
        return Verdict(
            "memory",
            f"memory limit {mib(limits.memory_bytes)} exceeded {where} "
            f"(memory.grow refused at the cap, then {_trap_text(exc)})",
            callback,
        )
    if memory_used * 2 >= limits.memory_bytes:
        return Verdict(
            "memory",
            f"memory limit {mib(limits.memory_bytes)} probably exceeded {where}: it holds "
            f"{mib(memory_used)} and ended with {_trap_text(exc)}",
            callback,
        )
    if code == wasmtime.TrapCode.INTERRUPT:
        return Verdict("cpu", f"exceeded {limits.cpu_ms} ms CPU budget {where}", callback)
    if isinstance(exc, wasmtime.Trap):
        return Verdict("trap", f"trap: {_trap_text(exc)} {where}", callback)
    if isinstance(exc, wasmtime.WasmtimeError):
        return Verdict("trap", f"error: {_trap_text(exc)} {where}", callback)
    return Verdict("crash", f"host error {where}: {type(exc).__name__}: {exc}", callback)
