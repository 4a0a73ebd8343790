"""inspect(bytes) -> ModuleFacts: is this a valid WebAssembly module, and what does it say?

Two passes. Our own walk of the binary (binary.py) gives the facts and precise messages for
files that are broken at the framing level (bad magic, wrong version, a cut-short section).
Then wasmtime's validator (the full core spec: types, code, limits) decides validity, so a
module the hub accepts is one a runtime accepts. Pure: no I/O beyond the validator.
"""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING

from hub.wasm import producers as producers_mod
from hub.wasm.abi import module_abi_versions
from hub.wasm.binary import Limits, RawModule, walk
from hub.wasm.errors import InvalidModule
from hub.wasm.facts import Export, Import, Memory, ModuleFacts

if TYPE_CHECKING:
    import wasmtime

__all__ = ["InvalidModule", "ModuleFacts", "inspect", "validate"]

_engine: wasmtime.Engine | None = None
_engine_lock = threading.Lock()


def _get_engine() -> wasmtime.Engine:
    """One Engine for the process, built on first use (not at import: the app factory and CLI
    import this module without paying for a compiler they may never use)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            import wasmtime

            _engine = wasmtime.Engine()
        return _engine


def validate(data: bytes) -> None:
    """Run wasmtime's validator; its message, condensed to one line, on failure."""
    import wasmtime

    try:
        wasmtime.Module.validate(_get_engine(), data)
    except wasmtime.WasmtimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise InvalidModule(f"invalid module: {detail}") from None


def _memories(raw: RawModule) -> tuple[Memory, ...]:
    exported: dict[int, list[str]] = {}
    for e in raw.exports:
        if e.kind == "memory":
            exported.setdefault(e.index, []).append(e.name)
    entries: list[tuple[Limits, str | None]] = [
        (imp.limits, f"{imp.module}.{imp.name}")
        for imp in raw.imports
        if imp.kind == "memory" and imp.limits is not None
    ]
    entries += [(limits, None) for limits in raw.memories]
    return tuple(
        Memory(
            initial=limits.minimum,
            maximum=limits.maximum,
            imported=imported,
            exported_as=tuple(exported.get(index, ())),
            shared=limits.shared,
            memory64=limits.is64,
            page_size=limits.page_size or 65536,
        )
        for index, (limits, imported) in enumerate(entries)
    )


def _producers(raw: RawModule) -> tuple[producers_mod.Producers | None, list[str]]:
    payloads = [p for name, p in raw.customs if name == producers_mod.SECTION]
    if not payloads:
        return None, []
    warnings = []
    if len(payloads) > 1:
        # ProducersSection.md: "may appear only once"; the first one is read.
        warnings.append(f"{len(payloads)} producers sections; only the first was read")
    try:
        return producers_mod.parse(payloads[0]), warnings
    except ValueError as exc:
        return None, [*warnings, f"producers section is malformed and was ignored: {exc}"]


def inspect(data: bytes) -> ModuleFacts:
    """Facts about a WebAssembly core module. Raises InvalidModule with a message a person can
    act on: "bad magic: ...", "unsupported version N ...", "truncated section ...", or
    "invalid module: <the validator's message>"."""
    data = bytes(data)
    raw = walk(data)
    validate(data)
    exports = tuple(Export(e.name, e.kind) for e in raw.exports)
    producers, warnings = _producers(raw)
    return ModuleFacts(
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        exports=exports,
        imports=tuple(Import(i.module, i.name, i.kind) for i in raw.imports),
        memories=_memories(raw),
        custom_sections=tuple(name for name, _ in raw.customs),
        producers=producers,
        toolchain=producers_mod.toolchain(producers) if producers else None,
        proxy_abi=module_abi_versions(e.name for e in exports if e.kind == "function"),
        warnings=tuple(warnings),
    )
