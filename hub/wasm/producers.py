"""The `producers` custom section and the toolchain name the hub shows for it.

Format (WebAssembly/tool-conventions ProducersSection.md): a vec of fields, each a name
(`language`, `processed-by`, `sdk`) and a vec of (name, version) string pairs; the end of the
last field is the end of the section. It is a custom section: a broken one never makes a module
invalid, so parse() reports problems as ValueError for the caller to turn into a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.wasm.binary import Reader, ShortRead
from hub.wasm.errors import InvalidModule

SECTION = "producers"
FIELDS = ("language", "processed-by", "sdk")


@dataclass(frozen=True)
class Producer:
    name: str
    version: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}


Producers = dict[str, tuple[Producer, ...]]


def parse(payload: bytes) -> Producers:
    """Fields in section order; unknown field names are kept (consumers "should gracefully
    handle unknown tool names", ProducersSection.md). Raises ValueError when malformed."""
    r = Reader(payload)
    fields: Producers = {}
    try:
        for _ in range(r.uleb()):
            name = r.name()
            if name in fields:
                raise ValueError(f"field {name!r} appears twice")
            fields[name] = tuple(Producer(r.name(), r.name()) for _ in range(r.uleb()))
    except ShortRead:
        raise ValueError("it ends inside a field") from None
    except InvalidModule as exc:  # a bad LEB128 or UTF-8 inside the section
        raise ValueError(str(exc)) from None
    if r.remaining:
        raise ValueError(f"{r.remaining} bytes left over after its fields")
    return fields


def _major_minor(version: str) -> str:
    """'1.78.0 (9b00956e5 2024-04-29)' -> '1.78'; 'go1.22.1' -> '1.22'; '' -> ''."""
    match = re.search(r"(\d+)(?:\.(\d+))?", version)
    if not match:
        return ""
    return match.group(1) + (f".{match.group(2)}" if match.group(2) else "")


def _find(producers: Producers, field: str, *names: str) -> Producer | None:
    wanted = {n.lower() for n in names}
    for p in producers.get(field, ()):
        if p.name.lower() in wanted:
            return p
    return None


def _any(producers: Producers, *names: str) -> Producer | None:
    for field in FIELDS:
        found = _find(producers, field, *names)
        if found:
            return found
    return None


def _language(name: str) -> str:
    """clang writes the dialect ('C11', 'C++14'); the family is what a reader wants."""
    if name.upper().startswith("C++"):
        return "C++"
    return "C" if re.fullmatch(r"C\d*", name, re.IGNORECASE) else name


def _named(label: str, version: str) -> str:
    short = _major_minor(version)
    return f"{label} {short}" if short else label


def toolchain(producers: Producers) -> str | None:
    """A short display name for what built the module, or None when the section says nothing.

    What toolchains write: rustc `language: Rust` + `processed-by: rustc (1.78.0 (...))`;
    clang `language: C11|C++14` + `processed-by: clang (17.0.6 ...)`; Emscripten adds
    `sdk: Emscripten`; Go's linker `language: Go (go1.22)`; TinyGo names itself.
    The most specific wins: an SDK, then a language front end, then the compiler.
    """
    language = producers.get("language", ())
    lang = _language(language[0].name) if language else ""
    if emscripten := _find(producers, "sdk", "Emscripten"):
        return _named(f"Emscripten/{lang}" if lang else "Emscripten", emscripten.version)
    if tinygo := _any(producers, "TinyGo"):
        return _named("TinyGo", tinygo.version)
    if rust := _find(producers, "language", "Rust"):
        rustc = _find(producers, "processed-by", "rustc")
        return _named("Rust", rust.version or (rustc.version if rustc else ""))
    if rustc := _find(producers, "processed-by", "rustc"):
        return _named("Rust", rustc.version)
    if assemblyscript := _any(producers, "AssemblyScript", "asc"):
        return _named("AssemblyScript", assemblyscript.version)
    if go := _any(producers, "Go"):
        return _named("Go", go.version)
    if clang := _find(producers, "processed-by", "clang"):
        return _named(f"clang/{lang}" if lang else "clang", clang.version)
    if language:
        return _named(language[0].name, language[0].version)
    processed = producers.get("processed-by", ())
    sdk = producers.get("sdk", ())
    first = (sdk or processed or (None,))[0]
    return _named(first.name, first.version) if first else None
