"""What the catalog's read side hands out (hub.artifacts.details): plain records for the JSON
APIs and the pages, and a module's facts as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.db.models import Namespace, Repository, WasmModule


@dataclass
class TagInfo:
    name: str
    digest: str
    media_type: str
    size: int  # manifest plus every blob it references, as Harbor reports it
    pushed_at: datetime
    annotations: dict[str, str]
    module: WasmModule | None
    pulls: int = 0  # manifest GETs by this tag (hub.artifacts.pulls)


@dataclass
class NamespaceInfo:
    namespace: Namespace
    repo_count: int
    updated_at: datetime


@dataclass
class NameMatches:
    namespaces: list[NamespaceInfo]
    repositories: list[RepositoryInfo]


@dataclass
class RepositoryInfo:
    repository: Repository
    namespace: str
    tags_count: int
    tags: list[TagInfo] = field(default_factory=list)


@dataclass(slots=True)
class ModuleSummary:
    """The columns of WasmModule a listing shows (no facts JSON): same names, same forms."""

    variant: str
    abi_versions: str  # comma-separated
    root_ids: str  # comma-separated
    toolchain: str
    module_size: int


@dataclass(slots=True)
class TagSummary:
    name: str
    digest: str
    size: int  # manifest plus every blob it references
    pushed_at: datetime
    module: ModuleSummary | None
    pulls: int = 0


@dataclass
class RepositoryOverview:
    """A repository page's data: the row and every tag, newest first, read as plain rows
    (building ORM objects for hundreds of tags costs more than the queries)."""

    repository: Repository
    namespace: str
    tags: list[TagSummary]  # newest first; the first ``limit`` when overview() had one
    tags_count: int = 0
    has_latest: bool = False  # a tag named "latest" exists (maybe beyond ``tags``)


def module_json(module: WasmModule | None) -> dict[str, Any] | None:
    if module is None:
        return None
    return {
        "variant": module.variant,
        "layer_digest": module.layer_digest,
        "sha256": module.module_sha256,
        "size": module.module_size,
        "abi_versions": [v for v in module.abi_versions.split(",") if v],
        "root_ids": [r for r in module.root_ids.split(",") if r],
        "runtime_type": module.runtime_type,
        "toolchain": module.toolchain,
        **json.loads(module.facts or "{}"),
    }
