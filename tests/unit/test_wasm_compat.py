"""hub.wasm.compat.extract_plugin: plugin.wasm out of a compat tar.gz, streamed, with limits."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterator

import pytest

from hub.wasm.compat import extract_plugin
from hub.wasm.errors import InvalidLayer, WasmArtifactError
from hub.wasm.inspect import inspect
from tests.support.artifacts import compat_layer, minimal_wasm, wasme_config

WASM = minimal_wasm(b"compat")


def member(
    name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = ""
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def tar_gz(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return gzip.compress(raw.getvalue(), mtime=0)


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


class Counting:
    """An iterable of chunks that records how many were taken."""

    def __init__(self, data: bytes, size: int = 64 * 1024) -> None:
        self.chunks = list(chunked(data, size))
        self.taken = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.taken += 1
            yield chunk


@pytest.mark.parametrize("chunk_size", [1, 7, 512, 1 << 20])
def test_plugin_and_runtime_config(chunk_size: int) -> None:
    layer = compat_layer(WASM, wasme_config())
    wasm, config = extract_plugin(chunked(layer, chunk_size))
    assert wasm == WASM and config == wasme_config()


def test_runtime_config_is_optional() -> None:
    assert extract_plugin([compat_layer(WASM)]) == (WASM, None)


def test_found_by_basename_first_wins_and_order_free() -> None:
    layer = tar_gz(
        member("meta/runtime-config.json", b"{}"),
        member("./wasm/plugin.wasm", WASM),
        member("plugin.wasm", b"second"),
    )
    assert extract_plugin([layer]) == (WASM, b"{}")


def test_stops_reading_once_both_are_found() -> None:
    noise = bytes(range(256)) * 8192  # 2 MiB that gzip cannot shrink much
    layer = tar_gz(member("plugin.wasm", WASM), member("runtime-config.json", b"{}"))
    layer_with_tail = tar_gz(
        member("plugin.wasm", WASM), member("runtime-config.json", b"{}"), member("x", noise)
    )
    assert extract_plugin([layer]) == (WASM, b"{}")
    source = Counting(layer_with_tail, 4096)
    assert extract_plugin(source) == (WASM, b"{}")
    assert source.taken < len(source.chunks)


def test_real_filter_round_trip(real_filter: bytes) -> None:
    wasm, config = extract_plugin(chunked(compat_layer(real_filter), 1000))
    assert wasm == real_filter and config is None
    assert inspect(wasm).proxy_abi == ("0.2.0",)


def test_no_plugin() -> None:
    layer = tar_gz(member("runtime-config.json", b"{}"), member("filter.wasm", WASM))
    with pytest.raises(InvalidLayer, match="no plugin.wasm in the layer"):
        extract_plugin([layer])


def test_plugin_over_the_limit() -> None:
    with pytest.raises(InvalidLayer, match=r"plugin.wasm is \d+ bytes; the limit is 16 bytes"):
        extract_plugin([compat_layer(WASM)], max_wasm_bytes=16)
    assert extract_plugin([compat_layer(WASM)], max_wasm_bytes=len(WASM))[0] == WASM


def test_runtime_config_over_its_limit() -> None:
    big = b"{" + b" " * (1 << 20) + b"}"
    with pytest.raises(InvalidLayer, match="runtime-config.json is 1048578 bytes"):
        extract_plugin([tar_gz(member("runtime-config.json", big), member("plugin.wasm", WASM))])


def test_decompression_bomb_is_stopped_early() -> None:
    bomb = tar_gz(member("zeros", bytes(64 << 20)), member("plugin.wasm", WASM))
    assert len(bomb) < 100 * 1024  # ~64 MiB of zeros gzip to ~64 KiB: a ratio near 1000
    source = Counting(bomb, 1024)
    with pytest.raises(InvalidLayer, match="refusing a decompression bomb") as caught:
        extract_plugin(source)
    assert "over 100 times" in str(caught.value)
    assert source.taken < len(source.chunks) // 2  # stopped long before the end


def test_ratio_is_configurable() -> None:
    # ~2 MiB of text that compresses around 20-fold: fine at 100, refused at 5.
    text = b"".join(b"line %d of a plain text file\n" % i for i in range(70_000))
    layer = tar_gz(member("notes.txt", text), member("plugin.wasm", WASM))
    assert extract_plugin([layer])[0] == WASM
    with pytest.raises(InvalidLayer, match="over 5 times"):
        extract_plugin([layer], max_ratio=5)


def test_small_archives_are_below_the_ratio_floor() -> None:
    # A tar pads a 9-byte file to 10 KiB of zeros: ~80-fold, yet obviously not a bomb.
    tiny = minimal_wasm(b"", name="t")
    assert extract_plugin([compat_layer(tiny)], max_ratio=2)[0] == tiny


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (b"", "not gzip data: it is empty"),
        (b"\x1f", "not gzip data: it is empty or 1 byte"),
        (WASM, "not gzip data (it starts with 00 61 73; gzip starts with 1f 8b)"),
        (WASM + WASM, "it looks like a raw .wasm module"),
        (b"PK\x03\x04zipfile", "not gzip data"),
        (b"\x1f\x8b\x08\x00garbage-garbage", "not valid gzip data"),
        (gzip.compress(b"just some text, not a tar archive " * 40), "not a valid tar archive"),
        (gzip.compress(WASM), "not a valid tar archive"),
        (gzip.compress(b""), "not a valid tar archive"),
    ],
    ids=[
        "empty",
        "one-byte",
        "raw-wasm",
        "wasm-hint",
        "zip",
        "bad-deflate",
        "text",
        "gz-wasm",
        "gz-empty",
    ],
)
def test_not_a_tar_gz(layer: bytes, message: str) -> None:
    with pytest.raises(InvalidLayer) as caught:
        extract_plugin(chunked(layer, 3))
    assert message in str(caught.value)
    assert isinstance(caught.value, WasmArtifactError)


def test_plain_tar_is_not_gzip() -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info, data = member("plugin.wasm", WASM)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(InvalidLayer, match="not gzip data"):
        extract_plugin([raw.getvalue()])


def test_truncated_gzip() -> None:
    layer = compat_layer(bytes(range(256)) * 400)  # incompressible enough to need every byte
    with pytest.raises(InvalidLayer, match="truncated after"):
        extract_plugin([layer[: len(layer) // 2]])


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (member("plugin.wasm", kind=tarfile.SYMTYPE, link="/etc/passwd"), "symbolic link"),
        (member("x/plugin.wasm", kind=tarfile.LNKTYPE, link="real.wasm"), "hard link"),
        (member("plugin.wasm/", kind=tarfile.DIRTYPE), "a directory"),
        (member("plugin.wasm", kind=tarfile.FIFOTYPE), "not a regular file"),
    ],
)
def test_links_named_plugin_wasm_are_refused(
    entry: tuple[tarfile.TarInfo, bytes], problem: str
) -> None:
    layer = tar_gz(member("real.wasm", WASM), entry, member("later/plugin.wasm", WASM))
    with pytest.raises(InvalidLayer, match=problem) as caught:
        extract_plugin([layer])
    assert "must be the module file itself" in str(caught.value)


def test_multi_member_gzip() -> None:
    """RFC 1952 members back to back (what `cat a.gz b.gz` makes; Go's reader accepts it)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info, data = member("plugin.wasm", WASM)
        tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    layer = gzip.compress(tar_bytes[:700]) + gzip.compress(tar_bytes[700:])
    assert extract_plugin(chunked(layer, 100)) == (WASM, None)


def test_trailing_padding_after_gzip_is_ignored() -> None:
    assert extract_plugin([compat_layer(WASM) + b"\x00" * 512]) == (WASM, None)
