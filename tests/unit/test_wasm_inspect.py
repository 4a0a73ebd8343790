"""hub.wasm.inspect / abi / producers on hand-assembled modules and on a real filter built from
source (tests/support/wasm_build.py)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from hub.wasm import abi, producers
from hub.wasm.errors import InvalidModule, WasmArtifactError
from hub.wasm.facts import ModuleFacts
from hub.wasm.inspect import inspect
from tests.support import wasm_build
from tests.support.wasm_asm import (
    FUNC_VOID,
    HEADER,
    custom,
    leb,
    name,
    producers_payload,
    proxy_filter,
    section,
    vec,
)

RUST_PRODUCERS = {"language": [("Rust", "")], "processed-by": [("rustc", "1.78.0 (9b00956e5)")]}


def module(
    exports: Sequence[str] = ("proxy_abi_version_0_2_1",),
    *,
    import_memory: bool = False,
    producers_section: bytes | None = None,
) -> bytes:
    """`proxy_filter` with a ``name`` section and a ``producers`` one (Rust by default)."""
    out = proxy_filter(exports, import_memory=import_memory)
    if producers_section is None:
        producers_section = producers_payload(RUST_PRODUCERS)
    return (
        out
        + custom("name", b"\x00" + leb(5) + name("tiny"))
        + custom("producers", producers_section)
    )


# --- facts ---------------------------------------------------------------------------------


def test_hand_assembled_filter() -> None:
    data = module()
    facts = inspect(data)
    assert facts.size == len(data)
    assert facts.sha256 == hashlib.sha256(data).hexdigest()
    assert [(e.name, e.kind) for e in facts.exports] == [
        ("memory", "memory"),
        ("proxy_abi_version_0_2_1", "function"),
    ]
    assert [(i.module, i.name, i.kind) for i in facts.imports] == [("env", "proxy_log", "function")]
    memory = facts.memory
    assert memory is not None
    assert (memory.initial, memory.maximum, memory.imported) == (1, 2, None)
    assert memory.exported and memory.exported_as == ("memory",)
    assert facts.custom_sections == ("name", "producers")
    assert facts.producers is not None
    assert [p.name for p in facts.producers["processed-by"]] == ["rustc"]
    assert facts.toolchain == "Rust 1.78"
    assert facts.proxy_abi == ("0.2.1",)
    assert facts.is_proxy_wasm and facts.warnings == ()


def test_facts_are_json_and_round_trip() -> None:
    facts = inspect(module())
    text = json.dumps(facts.to_json())
    data = json.loads(text)
    assert data["exports"][1] == {"name": "proxy_abi_version_0_2_1", "kind": "function"}
    assert data["imports"] == [{"module": "env", "name": "proxy_log", "kind": "function"}]
    assert data["memories"][0]["initial"] == 1 and data["memories"][0]["maximum"] == 2
    assert data["producers"]["language"] == [{"name": "Rust", "version": ""}]
    assert data["proxy_abi"] == ["0.2.1"] and data["toolchain"] == "Rust 1.78"
    assert ModuleFacts.from_json(data) == facts


def test_imported_memory() -> None:
    facts = inspect(module(import_memory=True))
    assert len(facts.memories) == 1
    memory = facts.memories[0]
    assert memory.imported == "env.memory"
    assert memory.exported_as == ("memory",)  # re-exported: index 0 is the imported one
    assert ("env", "memory", "memory") in [(i.module, i.name, i.kind) for i in facts.imports]


@pytest.mark.parametrize(
    ("exports", "expected"),
    [
        (["proxy_abi_version_0_1_0"], ("0.1.0",)),
        (["proxy_abi_version_0_2_0"], ("0.2.0",)),
        (["proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0"], ("0.2.0", "0.2.1")),
        (["proxy_on_tick", "proxy_on_configure"], (abi.UNVERSIONED,)),
        (["proxy_abi_version_0_1_0", "proxy_on_tick"], ("0.1.0",)),
        (["_start", "malloc"], ()),
    ],
)
def test_proxy_abi_from_exports(exports: list[str], expected: tuple[str, ...]) -> None:
    facts = inspect(module(exports))
    assert facts.proxy_abi == expected
    assert facts.is_proxy_wasm == bool(expected)


def test_abi_marker_must_be_a_function() -> None:
    assert abi.module_abi_versions([]) == ()
    # A global named like the marker is not the marker: inspect passes function exports only.
    assert abi.module_abi_versions(["memory"]) == ()


def test_wasme_abi_strings_map_to_meshes() -> None:
    assert abi.mesh_label("v0-4689a30309abf31aee9ae36e73d34b1bb182685f") == "Istio 1.7–1.9"
    assert abi.mesh_label("v0-097b7f2e4cc1fb490cc1943d0d633655ac3c522f") == "Istio 1.5–1.6"
    assert abi.mesh_label("v0-edc016b1fa5adca3ebd3d7020eaed0ad7b8814ca") == "Gloo 1.5"
    assert abi.mesh_label("v0.2.1") == "Gloo 1.6"
    assert abi.mesh_label("v0-0000") is None
    assert abi.describe_module_abi("0.2.1") == "proxy-wasm ABI 0.2.1"
    assert "pre-spec" in abi.describe_module_abi(abi.UNVERSIONED)


def P(fields: dict[str, list[tuple[str, str]]]) -> producers.Producers:
    return {k: tuple(producers.Producer(n, v) for n, v in vals) for k, vals in fields.items()}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (RUST_PRODUCERS, "Rust 1.78"),
        ({"processed-by": [("rustc", "1.66.1 (90743e729 2023-01-10)")]}, "Rust 1.66"),
        ({"language": [("C11", "")], "processed-by": [("clang", "17.0.6")]}, "clang/C 17.0"),
        (
            {
                "language": [("C++14", "")],
                "processed-by": [("clang", "15.0.0")],
                "sdk": [("Emscripten", "3.1.45")],
            },
            "Emscripten/C++ 3.1",
        ),
        ({"processed-by": [("TinyGo", "0.33.0")]}, "TinyGo 0.33"),
        ({"language": [("Go", "go1.22.1")]}, "Go 1.22"),
        ({"language": [("AssemblyScript", "0.27.0")]}, "AssemblyScript 0.27"),
        ({"processed-by": [("clang", "")]}, "clang"),
        ({"processed-by": [("wabt", "1.0.34")]}, "wabt 1.0"),
        ({"language": [("wat", "")]}, "wat"),
        ({}, None),
    ],
)
def test_toolchain(fields: dict[str, list[tuple[str, str]]], expected: str | None) -> None:
    assert producers.toolchain(P(fields)) == expected


def test_producers_unknown_fields_kept() -> None:
    parsed = producers.parse(producers_payload({"language": [("wat", "")], "x-tool": [("a", "1")]}))
    assert set(parsed) == {"language", "x-tool"}


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (leb(2) + name("language") + vec([]), "ends inside a field"),
        (producers_payload({"sdk": []}) + b"\x00", "left over"),
        (vec([name("sdk") + vec([]), name("sdk") + vec([])]), "appears twice"),
        (vec([leb(1) + b"\xff" + vec([])]), "UTF-8"),
    ],
)
def test_malformed_producers_is_a_warning_not_an_error(payload: bytes, problem: str) -> None:
    facts = inspect(module(producers_section=payload))
    assert facts.producers is None and facts.toolchain is None
    assert len(facts.warnings) == 1 and problem in facts.warnings[0]
    assert "producers section is malformed" in facts.warnings[0]


def test_no_producers_section() -> None:
    facts = inspect(HEADER)
    assert facts.producers is None and facts.toolchain is None
    assert facts.exports == () and facts.memories == () and facts.proxy_abi == ()


# --- invalid input ------------------------------------------------------------------------


TRUNCATED = "truncated section"
INVALID_FRAMING = [
    (b"", "empty file"),
    (b"\x7fELF\x02\x01\x01\x00", "bad magic: expected 00 61 73 6d ('\\0asm'), got 7f 45 4c 46"),
    (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "this is gzip data"),
    (b"(module)\n", "WebAssembly text (.wat)"),
    (b"\x00as", "truncated header: 3 bytes"),
    (b"\x00asm\x02\x00\x00\x00", "unsupported version 2"),
    (b"\x00asm\x0d\x00\x01\x00", "unsupported version 13 (layer 1): this is a WebAssembly comp"),
    (HEADER + b"\x01\x10\x01\x60", f"{TRUNCATED} 1 (type) at offset 0x8: it declares 16 bytes"),
    (HEADER + b"\x01\x10\x01\x60", "but only 2 remain"),
    (HEADER + b"\x07", f"{TRUNCATED} 7 (export) at offset 0x8: the file ends inside its size"),
    (HEADER + section(7, leb(1) + name("f")), f"{TRUNCATED} 7 (export) at offset 0x8: its con"),
    (HEADER + section(2, vec([name("env") + name("x") + b"\x09"])), "unknown import kind 0x09"),
    (HEADER + section(5, vec([b"\x01" + leb(1)])), f"{TRUNCATED} 5 (memory)"),
    (HEADER + section(7, vec([]) + b"\x00"), "1 bytes left over"),
    (HEADER + section(42, b""), "unknown section id 42"),
    (HEADER + section(7, vec([b"\x02\xc3\x28" + b"\x00\x00"])), "malformed UTF-8"),
]


@pytest.mark.parametrize(("data", "message"), INVALID_FRAMING)
def test_invalid_framing(data: bytes, message: str) -> None:
    with pytest.raises(InvalidModule) as caught:
        inspect(data)
    assert message in str(caught.value)
    assert isinstance(caught.value, WasmArtifactError) and isinstance(caught.value, ValueError)


def test_truncated_module_names_the_section() -> None:
    data = module()
    with pytest.raises(InvalidModule, match=r"truncated section \d+ \(\w+\)"):
        inspect(data[: len(data) - 5])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # A body that leaves an i32 on the stack of a () -> () function: framing is fine.
        (
            HEADER + section(1, vec([FUNC_VOID])) + section(3, vec([leb(0)]))
            + section(10, vec([leb(4) + b"\x00\x41\x00\x0b"])),
            "type mismatch",
        ),
        # An export of a function that does not exist.
        (HEADER + section(7, vec([name("f") + b"\x00" + leb(3)])), "invalid module: "),
        # A function section without its code section.
        (HEADER + section(1, vec([FUNC_VOID])) + section(3, vec([leb(0)])), "invalid module: "),
    ],
)  # fmt: skip
def test_only_the_validator_catches(data: bytes, message: str) -> None:
    with pytest.raises(InvalidModule, match="^invalid module: ") as caught:
        inspect(data)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_engine_is_built_lazily() -> None:
    code = (
        "import sys, hub.wasm.inspect as i, hub.wasm.formats, hub.wasm.compat\n"
        "assert i._engine is None and 'wasmtime' not in sys.modules\n"
        "i.inspect(b'\\x00asm\\x01\\x00\\x00\\x00')\n"
        "assert i._engine is not None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- a real filter built from source --------------------------------------------------------


def test_real_filter(real_filter: bytes) -> None:
    facts = inspect(real_filter)
    functions = facts.function_exports()
    assert "proxy_abi_version_0_2_0" in functions
    assert facts.proxy_abi == ("0.2.0",)
    callbacks = {
        "proxy_on_vm_start",
        "proxy_on_configure",
        "proxy_on_context_create",
        "proxy_on_request_headers",
        "proxy_on_response_headers",
        "proxy_on_done",
        "proxy_on_delete",
    }
    assert callbacks <= set(functions)
    imports = {(i.module, i.name) for i in facts.imports}
    assert ("wasi_unstable", "proc_exit") in imports
    assert ("env", "proxy_log") in imports
    assert ("env", "proxy_add_header_map_value") in imports  # the filter adds a header
    assert all(m == "env" and n.startswith("proxy_") for m, n in imports if m != "wasi_unstable")
    memory = facts.memory
    assert memory is not None and memory.exported_as == ("memory",)
    assert 5_000 < facts.size < 100_000
    if "producers" in facts.custom_sections:
        assert facts.toolchain
    else:
        # asc 0.14.13 --optimize writes no custom sections at all.
        assert facts.producers is None and facts.toolchain is None
    json.dumps(facts.to_json())


def test_a_failing_build_raises_with_the_tool_output(tmp_path: Path) -> None:
    script = "console.log('compiling'); console.error('ERROR TS2304: nope'); process.exit(3)"
    with pytest.raises(wasm_build.BuildError) as caught:
        wasm_build._run(["node", "-e", script], tmp_path)
    text = str(caught.value)
    assert "exited 3" in text and "compiling" in text and "ERROR TS2304: nope" in text
    with pytest.raises(wasm_build.BuildError, match="not on PATH"):
        wasm_build._run(["no-such-tool-hub-test"], tmp_path)
