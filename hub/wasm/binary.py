"""A walk over the WebAssembly binary format: the preamble, section framing (id, LEB128 size)
and the contents of the import, memory and export sections; custom sections by name.

Core spec "Binary Format" (https://webassembly.github.io/spec/core/binary/modules.html), with
the extensions that change these sections' encodings: multi-memory, memory64 and threads (limit
flags), exception handling (tag imports/exports), typed function references / GC (multi-byte
reference types). Everything else (code, data, types...) is skipped by its size: checking it is
the validator's job (inspect.py runs wasmtime after this walk). This walk exists for what a
validator does not report: names, kinds, limits, custom sections, and messages that say where
a file is broken.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.wasm.errors import InvalidModule

MAGIC = b"\x00asm"
VERSION = 1
# binary/modules.html "Sections": known section ids.
SECTION_NAMES = {
    0: "custom",
    1: "type",
    2: "import",
    3: "function",
    4: "table",
    5: "memory",
    6: "global",
    7: "export",
    8: "start",
    9: "element",
    10: "code",
    11: "data",
    12: "data count",
    13: "tag",  # exception-handling proposal, now in the spec
}
# binary/modules.html importdesc / exportdesc tags.
EXTERN_KINDS = {0: "function", 1: "table", 2: "memory", 3: "global", 4: "tag"}
# Reference types of the function-references/GC proposals: 0x63/0x64 are followed by a heap type.
_REF_WITH_HEAPTYPE = frozenset({0x63, 0x64})


@dataclass(frozen=True)
class Limits:
    minimum: int
    maximum: int | None
    shared: bool = False
    is64: bool = False
    page_size: int | None = None  # custom-page-sizes proposal; None = the 64 KiB default


@dataclass(frozen=True)
class RawImport:
    module: str
    name: str
    kind: str
    limits: Limits | None = None  # memories (and tables) only


@dataclass(frozen=True)
class RawExport:
    name: str
    kind: str
    index: int


@dataclass
class RawModule:
    imports: list[RawImport] = field(default_factory=list)
    memories: list[Limits] = field(default_factory=list)  # defined in the memory section
    exports: list[RawExport] = field(default_factory=list)
    customs: list[tuple[str, bytes]] = field(default_factory=list)  # (name, payload) in order


class ShortRead(Exception):
    """Read past the end of the current section; turned into InvalidModule with context."""


class Reader:
    """Bounded cursor over a byte string: every read past `end` raises ShortRead."""

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def byte(self) -> int:
        if self.pos >= self.end:
            raise ShortRead
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, n: int) -> bytes:
        if n > self.remaining:
            raise ShortRead
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uleb(self, bits: int = 32) -> int:
        """Unsigned LEB128 of at most ceil(bits/7) bytes (binary/values.html "Integers")."""
        result = shift = 0
        for _ in range((bits + 6) // 7):
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if result >= 1 << bits:
                    raise InvalidModule(f"integer too large at offset 0x{self.pos - 1:x}")
                return result
        raise InvalidModule(f"integer representation too long at offset 0x{self.pos - 1:x}")

    def sleb(self, bits: int = 33) -> int:
        """Signed LEB128 (used here only for heap types, an s33)."""
        result = shift = 0
        for _ in range((bits + 6) // 7):
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if b & 0x40:
                    result -= 1 << shift
                return result
        raise InvalidModule(f"integer representation too long at offset 0x{self.pos - 1:x}")

    def name(self) -> str:
        """binary/values.html "Names": a vec of bytes that must be UTF-8."""
        start = self.pos
        raw = self.take(self.uleb())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidModule(f"malformed UTF-8 in a name at offset 0x{start:x}") from None


def _limits(r: Reader) -> Limits:
    # Flags: bit 0 has-maximum; bit 1 shared (threads); bit 2 64-bit (memory64);
    # bit 3 custom page size (custom-page-sizes). Other bits: malformed.
    at = r.pos
    flags = r.byte()
    if flags & ~0x0F:
        raise InvalidModule(f"malformed limits flags 0x{flags:02x} at offset 0x{at:x}")
    bits = 64 if flags & 0x04 else 32
    minimum = r.uleb(bits)
    maximum = r.uleb(bits) if flags & 0x01 else None
    page_size = 1 << r.uleb() if flags & 0x08 else None
    return Limits(minimum, maximum, bool(flags & 0x02), bool(flags & 0x04), page_size)


def _skip_value_type(r: Reader) -> None:
    if r.byte() in _REF_WITH_HEAPTYPE:
        r.sleb()


def _imports(r: Reader) -> list[RawImport]:
    out = []
    for _ in range(r.uleb()):
        module, name = r.name(), r.name()
        at = r.pos
        kind = r.byte()
        limits = None
        if kind == 0:  # function: type index
            r.uleb()
        elif kind == 1:  # table: reftype, limits
            _skip_value_type(r)
            limits = _limits(r)
        elif kind == 2:  # memory: limits
            limits = _limits(r)
        elif kind == 3:  # global: valtype, mutability
            _skip_value_type(r)
            r.byte()
        elif kind == 4:  # tag: attribute (0 = exception), type index
            r.byte()
            r.uleb()
        else:
            raise InvalidModule(f"unknown import kind 0x{kind:02x} at offset 0x{at:x}")
        out.append(RawImport(module, name, EXTERN_KINDS[kind], limits))
    return out


def _exports(r: Reader) -> list[RawExport]:
    out = []
    for _ in range(r.uleb()):
        name = r.name()
        at = r.pos
        kind = r.byte()
        if kind not in EXTERN_KINDS:
            raise InvalidModule(f"unknown export kind 0x{kind:02x} at offset 0x{at:x}")
        out.append(RawExport(name, EXTERN_KINDS[kind], r.uleb()))
    return out


def _check_preamble(data: bytes) -> None:
    if not data:
        raise InvalidModule("empty file: a WebAssembly module starts with the bytes 00 61 73 6d")
    if not MAGIC.startswith(data[:4]):
        raise InvalidModule(f"bad magic: {_describe_start(data)}")
    if len(data) < 8:
        raise InvalidModule(
            f"truncated header: {len(data)} bytes; a module starts with 8 (magic and version)"
        )
    version = int.from_bytes(data[4:8], "little")
    if version == VERSION:
        return
    if data[4:8] == b"\x0d\x00\x01\x00":
        # component-model Binary.md: version 0x0d, layer 1.
        raise InvalidModule(
            "unsupported version 13 (layer 1): this is a WebAssembly component, not a core "
            "module; proxy-wasm hosts load core modules"
        )
    raise InvalidModule(
        f"unsupported version {version} (bytes {data[4:8].hex(' ')}); "
        "only version 1 of the binary format exists"
    )


def _describe_start(data: bytes) -> str:
    head = data[:4]
    text = f"expected 00 61 73 6d ('\\0asm'), got {head.hex(' ')} ({head!r})"
    hints = {
        b"\x1f\x8b": "this is gzip data: a compat layer? unpack plugin.wasm from it",
        b"(mod": "this looks like WebAssembly text (.wat): compile it with wat2wasm",
        b"{": "this looks like JSON, not a module",
        b"\x7fELF": "this is a native ELF binary, not WebAssembly",
    }
    for prefix, hint in hints.items():
        if data.lstrip()[: len(prefix)] == prefix:
            return f"{text}; {hint}"
    return text


def walk(data: bytes) -> RawModule:
    """Parse the module's framing and the sections the hub reports on. Raises InvalidModule."""
    _check_preamble(data)
    module = RawModule()
    r = Reader(data, 8)
    while r.remaining:
        start = r.pos
        section_id = r.byte()
        label = SECTION_NAMES.get(section_id, f"id {section_id}")
        try:
            size = r.uleb()
        except ShortRead:
            raise InvalidModule(
                f"truncated section {section_id} ({label}) at offset 0x{start:x}: "
                "the file ends inside its size"
            ) from None
        if size > r.remaining:
            raise InvalidModule(
                f"truncated section {section_id} ({label}) at offset 0x{start:x}: it declares "
                f"{size} bytes but only {r.remaining} remain; the file was cut short "
                "(an interrupted download or upload?)"
            )
        body = Reader(data, r.pos, r.pos + size)
        r.pos += size
        if section_id not in SECTION_NAMES:
            raise InvalidModule(f"unknown section id {section_id} at offset 0x{start:x}")
        try:
            _section(section_id, body, module)
        except ShortRead:
            raise InvalidModule(
                f"truncated section {section_id} ({label}) at offset 0x{start:x}: its "
                f"contents run past its declared size of {size} bytes"
            ) from None
        if section_id in (2, 5, 7) and body.remaining:
            raise InvalidModule(
                f"section {section_id} ({label}) at offset 0x{start:x} has {body.remaining} "
                "bytes left over after its contents"
            )
    return module


def _section(section_id: int, body: Reader, module: RawModule) -> None:
    if section_id == 0:
        name = body.name()
        module.customs.append((name, body.take(body.remaining)))
    elif section_id == 2:
        module.imports.extend(_imports(body))
    elif section_id == 5:
        module.memories.extend(_limits(body) for _ in range(body.uleb()))
    elif section_id == 7:
        module.exports.extend(_exports(body))
