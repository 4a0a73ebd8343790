"""What inspect() learns of a module, as plain frozen data with a JSON form (stored in
WasmModule.facts, shown by the web UI and the JSON API)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.wasm.producers import Producer, Producers


@dataclass(frozen=True)
class Export:
    name: str
    kind: str  # function | table | memory | global | tag

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind}


@dataclass(frozen=True)
class Import:
    module: str
    name: str
    kind: str

    def to_json(self) -> dict[str, Any]:
        return {"module": self.module, "name": self.name, "kind": self.kind}


@dataclass(frozen=True)
class Memory:
    """A linear memory. Sizes are in pages (64 KiB unless page_size says otherwise)."""

    initial: int
    maximum: int | None
    imported: str | None = None  # "env.memory" when the host supplies it
    exported_as: tuple[str, ...] = ()
    shared: bool = False
    memory64: bool = False
    page_size: int = 65536

    @property
    def exported(self) -> bool:
        return bool(self.exported_as)

    def to_json(self) -> dict[str, Any]:
        return {
            "initial": self.initial,
            "maximum": self.maximum,
            "imported": self.imported,
            "exported_as": list(self.exported_as),
            "shared": self.shared,
            "memory64": self.memory64,
            "page_size": self.page_size,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Memory:
        return cls(
            data["initial"],
            data["maximum"],
            data.get("imported"),
            tuple(data.get("exported_as", ())),
            data.get("shared", False),
            data.get("memory64", False),
            data.get("page_size", 65536),
        )


@dataclass(frozen=True)
class ModuleFacts:
    size: int
    sha256: str  # hex of the .wasm bytes: Envoy's and Consul's `sha256` for http(s) sources
    exports: tuple[Export, ...]
    imports: tuple[Import, ...]
    memories: tuple[Memory, ...]  # index order: imported first, then defined
    custom_sections: tuple[str, ...]  # names, in file order
    producers: Producers | None  # None: no (readable) producers section
    toolchain: str | None
    proxy_abi: tuple[str, ...]  # hub.wasm.abi.module_abi_versions: ("0.2.0",), ("unversioned",)
    warnings: tuple[str, ...] = ()  # problems that do not make the module invalid

    @property
    def memory(self) -> Memory | None:
        """Memory 0: the one proxy-wasm hosts read and write (exported as "memory")."""
        return self.memories[0] if self.memories else None

    @property
    def is_proxy_wasm(self) -> bool:
        return bool(self.proxy_abi)

    def function_exports(self) -> list[str]:
        return [e.name for e in self.exports if e.kind == "function"]

    def to_json(self) -> dict[str, Any]:
        """A dict of JSON types only (json.dumps works on it as is)."""
        return {
            "size": self.size,
            "sha256": self.sha256,
            "exports": [e.to_json() for e in self.exports],
            "imports": [i.to_json() for i in self.imports],
            "memories": [m.to_json() for m in self.memories],
            "custom_sections": list(self.custom_sections),
            "producers": None
            if self.producers is None
            else {k: [p.to_json() for p in v] for k, v in self.producers.items()},
            "toolchain": self.toolchain,
            "proxy_abi": list(self.proxy_abi),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModuleFacts:
        """Read back what to_json() wrote (e.g. WasmModule.facts)."""
        producers = data.get("producers")
        return cls(
            size=data["size"],
            sha256=data["sha256"],
            exports=tuple(Export(e["name"], e["kind"]) for e in data.get("exports", ())),
            imports=tuple(
                Import(i["module"], i["name"], i["kind"]) for i in data.get("imports", ())
            ),
            memories=tuple(Memory.from_json(m) for m in data.get("memories", ())),
            custom_sections=tuple(data.get("custom_sections", ())),
            producers=None
            if producers is None
            else {
                k: tuple(Producer(p["name"], p["version"]) for p in v) for k, v in producers.items()
            },
            toolchain=data.get("toolchain"),
            proxy_abi=tuple(data.get("proxy_abi", ())),
            warnings=tuple(data.get("warnings", ())),
        )
