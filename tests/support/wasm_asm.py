"""A tiny assembler for the WebAssembly binary format (core spec, binary/modules.html), for
tests that need modules of an exact shape: hand-assembled proxy-wasm filters and the custom
sections that make pushed bytes unique."""

from __future__ import annotations

from collections.abc import Sequence

HEADER = b"\x00asm\x01\x00\x00\x00"  # magic + version 1
I32 = b"\x7f"


def leb(value: int) -> bytes:
    """Unsigned LEB128."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def name(text: str) -> bytes:
    return leb(len(text.encode())) + text.encode()


def vec(items: list[bytes]) -> bytes:
    return leb(len(items)) + b"".join(items)


def section(section_id: int, payload: bytes) -> bytes:
    return bytes([section_id]) + leb(len(payload)) + payload


def custom(section_name: str, payload: bytes) -> bytes:
    """A custom section (id 0): its name, then ``payload`` as is."""
    return section(0, name(section_name) + payload)


def producers_payload(fields: dict[str, list[tuple[str, str]]]) -> bytes:
    """The body of a ``producers`` custom section (tool-conventions ProducersSection.md)."""
    return vec([name(f) + vec([name(n) + name(v) for n, v in vals]) for f, vals in fields.items()])


FUNC_LOG = b"\x60" + vec([I32, I32, I32]) + vec([I32])  # proxy_log(level, ptr, len) -> status
FUNC_VOID = b"\x60" + vec([]) + vec([])
EMPTY_BODY = b"\x02\x00\x0b"  # a function body: size 2, no locals, `end`


def proxy_filter(exports: Sequence[str], *, import_memory: bool = False) -> bytes:
    """A proxy-wasm filter's shape, without custom sections: imports env.proxy_log; a memory
    (1..2 pages, exported as "memory"), defined or imported from env.memory; one empty function
    exported under each name in ``exports``."""
    imports = [name("env") + name("proxy_log") + b"\x00" + leb(0)]
    if import_memory:
        imports.append(name("env") + name("memory") + b"\x02\x01" + leb(1) + leb(2))
    out = HEADER + section(1, vec([FUNC_LOG, FUNC_VOID])) + section(2, vec(imports))
    out += section(3, vec([leb(1)]))
    if not import_memory:
        out += section(5, vec([b"\x01" + leb(1) + leb(2)]))
    export_items = [name("memory") + b"\x02" + leb(0)]
    export_items += [name(e) + b"\x00" + leb(1) for e in exports]  # function 1 (0 is imported)
    return out + section(7, vec(export_items)) + section(10, vec([EMPTY_BODY]))
