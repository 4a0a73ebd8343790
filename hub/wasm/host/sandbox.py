"""One instance of an untrusted module in its own wasmtime store, with the limits applied:
the engine (epoch interruption, a ticker thread advancing the epoch), a small cache of
compiled modules, linking the module's imports against the proxy-wasm and WASI host
functions, and `call()`, which runs one export under the per-callback CPU budget and turns
whatever ends it badly into a `Verdict`."""

from __future__ import annotations

import atexit
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.wasm.host.abi import Status
from hub.wasm.host.functions import PROXY_FUNCTIONS, ProxyEnv
from hub.wasm.host.limits import Limits, Verdict, verdict
from hub.wasm.host.memory import Fault, Guest
from hub.wasm.host.state import HostState
from hub.wasm.host.wasi import FAULT, WASI_FUNCTIONS, WASI_MODULES, Wasi

if TYPE_CHECKING:
    import wasmtime

TICK_MS = 5
_engine: wasmtime.Engine | None = None
_engine_lock = threading.Lock()
_compiled: OrderedDict[str, wasmtime.Module] = OrderedDict()
COMPILED_KEEP = 8


class Aborted(Exception):
    """A callback (or instantiation) ended the run; the verdict says why."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.message)
        self.verdict = verdict


def engine() -> wasmtime.Engine:
    """The process's engine, with a daemon thread ticking its epoch every TICK_MS."""
    global _engine
    with _engine_lock:
        if _engine is None:
            import wasmtime

            config = wasmtime.Config()
            config.epoch_interruption = True
            built = wasmtime.Engine(config)

            def tick() -> None:
                while True:
                    time.sleep(TICK_MS / 1000)
                    built.increment_epoch()

            threading.Thread(target=tick, name="wasm-epoch", daemon=True).start()
            # Drop compiled modules before wasmtime's bindings are torn down at exit.
            atexit.register(_compiled.clear)
            _engine = built
        return _engine


def compile_module(data: bytes) -> tuple[wasmtime.Module, bool]:
    """(module, was cached). Compiling is the slow part; a worker keeps the last few, by the
    sha256 of their bytes."""
    import wasmtime

    key = hashlib.sha256(data).hexdigest()
    found = _compiled.get(key)
    if found is not None:
        _compiled.move_to_end(key)
        return found, True
    module = wasmtime.Module(engine(), data)
    _compiled[key] = module
    while len(_compiled) > COMPILED_KEEP:
        _compiled.popitem(last=False)
    return module, False


def _valtypes(spec: str) -> list[wasmtime.ValType]:
    import wasmtime

    return [wasmtime.ValType.i64() if c == "I" else wasmtime.ValType.i32() for c in spec]


def _spec_of(kind: wasmtime.FuncType) -> tuple[str, str]:
    def code(types: list[wasmtime.ValType]) -> str:
        return "".join("I" if str(t) == "i64" else "i" if str(t) == "i32" else "?" for t in types)

    return code(kind.params), code(kind.results)


def unresolved_imports(module: wasmtime.Module) -> list[str]:
    """Imports this host cannot satisfy, each with the reason (Envoy refuses such modules:
    "Failed to load Wasm module due to a missing import")."""
    import wasmtime

    problems = []
    for imp in module.imports:
        where = f"{imp.module}.{imp.name}"
        kind = imp.type
        if not isinstance(kind, wasmtime.FuncType):
            problems.append(f"{where}: imports a {type(kind).__name__}, the host provides none")
            continue
        table = (
            PROXY_FUNCTIONS
            if imp.module == "env"
            else WASI_FUNCTIONS
            if imp.module in WASI_MODULES
            else {}
        )
        expected = table.get(imp.name or "")
        if expected is None:
            problems.append(f"{where}: unknown to a proxy-wasm 0.2.x host")
        elif _spec_of(kind) != expected:
            got = _spec_of(kind)
            problems.append(
                f"{where}: signature ({','.join(got[0])})->({','.join(got[1])}) differs from "
                f"the host's ({','.join(expected[0])})->({','.join(expected[1])})"
            )
    return problems


def _wrap(impl: Callable[..., Any], results: str, on_fault: int) -> Callable[..., Any]:
    def call(caller: wasmtime.Caller, *args: int) -> Any:
        try:
            return impl(Guest(caller), *args)
        except Fault:
            return None if not results else on_fault

    return call


class Sandbox:
    def __init__(self, module: wasmtime.Module, state: HostState, limits: Limits) -> None:
        import wasmtime

        self.module = module
        self.state = state
        self.limits = limits
        self.store = wasmtime.Store(engine())
        self.store.set_limits(
            memory_size=limits.memory_bytes,
            table_elements=limits.table_elements,
            instances=2,
            tables=4,
            memories=2,
        )
        self.timings: list[dict[str, Any]] = []
        self.instance: wasmtime.Instance | None = None
        self.exports: dict[str, Any] = {}

    def _imports(self) -> list[wasmtime.Func]:
        import wasmtime

        env, wasi = ProxyEnv(self.state), Wasi(self.state)
        funcs = []
        for imp in self.module.imports:
            name = imp.name or ""
            if imp.module == "env":
                params, results = PROXY_FUNCTIONS[name]
                impl, fault = getattr(env, name), int(Status.INVALID_MEMORY_ACCESS)
            else:
                params, results = WASI_FUNCTIONS[name]
                impl, fault = getattr(wasi, name), FAULT
            kind = wasmtime.FuncType(_valtypes(params), _valtypes(results))
            funcs.append(
                wasmtime.Func(self.store, kind, _wrap(impl, results, fault), access_caller=True)
            )
        return funcs

    def instantiate(self) -> None:
        import wasmtime

        self.state.callback = "(instantiation)"
        self._deadline()
        try:
            self.instance = wasmtime.Instance(self.store, self.module, self._imports())
        except Exception as exc:
            if isinstance(exc, wasmtime.WasmtimeError) and "memory" in str(exc).lower():
                detail = " ".join(str(exc).split())
                raise Aborted(
                    Verdict(
                        "memory",
                        f"memory limit {self.limits.memory_bytes // (1024 * 1024)} MiB exceeded "
                        f"at instantiation: {detail}",
                        "(instantiation)",
                    )
                ) from None
            raise Aborted(verdict(exc, "(instantiation)", self.limits, 0)) from None
        self.exports = {
            e.name: self.instance.exports(self.store)[e.name] for e in self.module.exports
        }

    def has(self, name: str) -> bool:
        import wasmtime

        return isinstance(self.exports.get(name), wasmtime.Func)

    def _deadline(self) -> None:
        self.store.set_epoch_deadline(-(-self.limits.cpu_ms // TICK_MS) + 1)

    def _memory_used(self) -> int:
        import wasmtime

        memory = self.exports.get("memory")
        if not isinstance(memory, wasmtime.Memory):
            return 0
        used: int = memory.data_len(self.store)
        return used

    def call(self, name: str, *args: int) -> int | None:
        """Run one export under the CPU budget; Aborted when it does not end well."""
        self.state.callback = name
        self._deadline()
        started = time.perf_counter()
        try:
            result = self.exports[name](self.store, *args)
        except Exception as exc:
            self.timings.append(
                {"callback": name, "ms": round((time.perf_counter() - started) * 1000, 3)}
            )
            raise Aborted(verdict(exc, name, self.limits, self._memory_used())) from None
        entry: dict[str, Any] = {
            "callback": name,
            "ms": round((time.perf_counter() - started) * 1000, 3),
        }
        if isinstance(result, int):
            entry["returned"] = result
        self.timings.append(entry)
        return result if isinstance(result, int) else None
