"""The module inside a "compat" layer (solo-io/wasm spec/spec-compat.md): a tar.gz holding
plugin.wasm (required) and runtime-config.json (optional).

Read as a stream, the way Istio does (pkg/wasm/imagefetcher.go extractWasmPluginBinary: gunzip,
walk the tar, take the first member whose base name is plugin.wasm), but defensively, since the
hub reads what anyone pushed: the archive is never held in memory whole, decompression is capped
at a ratio of the compressed bytes read so far (a gzip bomb is stopped in its first megabytes,
not after inflating), and plugin.wasm has a size limit checked from its header before reading.

We gunzip ourselves (zlib, bounded output per call) and give tarfile the plain tar stream
("r|"): with tarfile's own "r|gz" the bytes of members it skips are inflated inside tarfile,
where no limit can be checked until a whole member has gone through.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import zlib
from collections.abc import Iterable, Iterator

from hub.wasm.errors import InvalidLayer

PLUGIN = "plugin.wasm"
RUNTIME_CONFIG = "runtime-config.json"
MiB = 1 << 20
MAX_WASM_BYTES = 64 * MiB
MAX_RATIO = 100
# Below this many decompressed bytes the ratio is not enforced: a tar pads a few small files to
# 10 KiB of mostly zeros, which gzip shrinks ~80-fold; bombs are about gigabytes, not that.
RATIO_FLOOR = 1 * MiB
MAX_RUNTIME_CONFIG_BYTES = 1 * MiB
_GZIP_MAGIC = b"\x1f\x8b"
_OUT_STEP = 64 * 1024  # the most a single zlib call may produce


class _Gunzip(io.RawIOBase):
    """A readable file of the decompressed bytes of a gzip stream given as chunks. Counts the
    compressed bytes taken and the decompressed bytes produced, and stops on a bomb."""

    def __init__(self, chunks: Iterable[bytes], max_ratio: int) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._max_ratio = max_ratio
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and trailer
        self._head = b""
        self._buffer = bytearray()
        self._done = False
        self.compressed = 0
        self.decompressed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer and not self._done:
            self._fill()
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        del self._buffer[:n]
        return n

    def _next_input(self) -> bytes | None:
        if self._zlib.unconsumed_tail:
            return self._zlib.unconsumed_tail
        if self._zlib.eof:
            rest = self._zlib.unused_data
            # RFC 1952 allows several members back to back (Go's gzip reader reads them all);
            # anything else after the first member is ignored, as padding.
            if not rest.startswith(_GZIP_MAGIC):
                return None
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
            return rest
        for chunk in self._chunks:
            if chunk:
                self._check_magic(chunk)
                self.compressed += len(chunk)
                return bytes(chunk)
        if len(self._head) < 2:
            raise InvalidLayer("the layer is not gzip data: it is empty or 1 byte long")
        raise InvalidLayer(
            f"the layer's gzip stream is truncated after {self.compressed} bytes "
            "(an interrupted upload?)"
        )

    def _check_magic(self, chunk: bytes) -> None:
        if len(self._head) >= 2:
            return
        self._head += chunk[: 2 - len(self._head)]
        if not _GZIP_MAGIC.startswith(self._head):
            hint = (
                "; it looks like a raw .wasm module, which belongs in a wasme, wasm-to-oci or "
                "cncf layer"
                if chunk.startswith(b"\x00as")
                else ""
            )
            raise InvalidLayer(
                f"the layer is not gzip data (it starts with {chunk[:4].hex(' ')}; gzip starts "
                f"with 1f 8b): a compat layer must be a tar.gz holding plugin.wasm{hint}"
            )

    def _fill(self) -> None:
        data = self._next_input()
        if data is None:
            self._done = True
            return
        try:
            out = self._zlib.decompress(data, _OUT_STEP)
        except zlib.error as exc:
            raise InvalidLayer(f"the layer is not valid gzip data: {exc}") from None
        self.decompressed += len(out)
        if self.decompressed > max(RATIO_FLOOR, self._max_ratio * self.compressed):
            raise InvalidLayer(
                f"refusing a decompression bomb: {self.compressed} compressed bytes inflate to "
                f"more than {self.decompressed} (over {self._max_ratio} times)"
            )
        self._buffer += out


def _link_kind(member: tarfile.TarInfo) -> str | None:
    if member.issym():
        return f"a symbolic link to {member.linkname!r}"
    if member.islnk():
        return f"a hard link to {member.linkname!r}"
    if member.isdir():
        return "a directory"
    if not member.isfile():
        return "not a regular file"
    return None


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:  # not reached: callers pass regular files only
        raise InvalidLayer(f"{member.name} has no data")
    with handle:
        return handle.read()


def extract_plugin(
    chunks: Iterable[bytes],
    *,
    max_wasm_bytes: int = MAX_WASM_BYTES,
    max_ratio: int = MAX_RATIO,
) -> tuple[bytes, bytes | None]:
    """(plugin.wasm, runtime-config.json or None) from a compat layer given as byte chunks.

    Members are matched by base name, so `./plugin.wasm` and `wasm/plugin.wasm` count (Istio
    matches filepath.Base); the first of each wins. Raises InvalidLayer when the layer is not
    gzip or not tar, has no plugin.wasm, plugin.wasm is a link (or not a file) or larger than
    max_wasm_bytes, runtime-config.json exceeds 1 MiB, or decompressing would exceed max_ratio
    times the compressed bytes read (past the first MiB). The iterator is read only as far as
    needed and is not closed here.
    """
    stream = _Gunzip(chunks, max_ratio)
    plugin: bytes | None = None
    runtime: bytes | None = None
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                base = posixpath.basename(member.name.rstrip("/"))
                if base == PLUGIN and plugin is None:
                    if problem := _link_kind(member):
                        raise InvalidLayer(
                            f"{member.name} in the layer is {problem}; it must be the module "
                            "file itself"
                        )
                    if member.size > max_wasm_bytes:
                        raise InvalidLayer(
                            f"{member.name} is {member.size} bytes; the limit is "
                            f"{max_wasm_bytes} bytes"
                        )
                    plugin = _read(tar, member)
                elif base == RUNTIME_CONFIG and runtime is None and member.isfile():
                    if member.size > MAX_RUNTIME_CONFIG_BYTES:
                        raise InvalidLayer(
                            f"{member.name} is {member.size} bytes; the limit is "
                            f"{MAX_RUNTIME_CONFIG_BYTES} bytes"
                        )
                    runtime = _read(tar, member)
                if plugin is not None and runtime is not None:
                    break
    except tarfile.TarError as exc:
        raise InvalidLayer(
            f"the layer's gzip content is not a valid tar archive ({exc}): a compat layer "
            "must be a tar.gz holding plugin.wasm"
        ) from None
    if plugin is None:
        raise InvalidLayer(
            "no plugin.wasm in the layer: a compat image's last layer must be a tar.gz holding "
            "plugin.wasm (and optionally runtime-config.json)"
        )
    return plugin, runtime
