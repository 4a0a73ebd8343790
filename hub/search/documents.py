"""What the index holds for one repository, read from the catalog rows inside the caller's
session, and how the shared tables are written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert
from sqlmodel import Session, col, select

from hub.db.models import Manifest, ManifestReference, Namespace, Repository, Tag, WasmModule
from hub.search import tables, text


@dataclass(frozen=True)
class Document:
    repository_id: int
    namespace_id: int
    repository: str  # namespace/name
    namespace: str
    name: str  # without the namespace
    keywords: str
    description: str
    readme: str
    private: bool
    updated_at: datetime
    latest_tag: str | None
    variant: str
    abi_versions: list[str]
    toolchain: str
    loads: bool | None = None  # the module's load check at push; None: never checked

    def fields(self) -> dict[str, str]:
        """The normalized text of each indexed field (hub.search.text)."""
        return {
            "name": text.normalize(self.name),
            "namespace": text.normalize(self.namespace),
            "keywords": text.normalize(self.keywords),
            "description": text.normalize(self.description),
            "readme": text.normalize(self.readme),
        }


def _module(session: Session, repository_id: int, digest: str) -> WasmModule | None:
    module = session.get(WasmModule, digest)
    if module is not None:
        return module
    # A tag on an image index: the facts are those of its first child carrying a module.
    child = session.exec(
        select(WasmModule)
        .join(ManifestReference, col(ManifestReference.digest) == col(WasmModule.manifest_digest))
        .join(Manifest, col(Manifest.id) == col(ManifestReference.manifest_id))
        .where(
            col(Manifest.repository_id) == repository_id,
            col(Manifest.digest) == digest,
            col(ManifestReference.kind) == "manifest",
        )
        .order_by(col(WasmModule.manifest_digest))
    ).first()
    return child


def load_check_ok(facts: str | None) -> bool | None:
    """``facts["load_check"]["ok"]`` of a WasmModule's facts JSON (hub.artifacts.modules): True
    or False when the proxy-wasm host checked the module at push, None when it did not (the
    check was off, busy, or the module predates it)."""
    try:
        found: Any = json.loads(facts or "{}")
    except ValueError:
        return None
    check = found.get("load_check") if isinstance(found, dict) else None
    ok = check.get("ok") if isinstance(check, dict) else None
    return ok if isinstance(ok, bool) else None


def load(session: Session, repository_id: int) -> Document | None:
    """The repository's document, or None when it no longer exists or has no namespace (which
    no search could show)."""
    found = session.exec(
        select(Repository, Namespace.name)
        .join(Namespace, col(Namespace.id) == col(Repository.namespace_id))
        .where(col(Repository.id) == repository_id)
    ).first()
    if found is None:
        return None
    repo, namespace = found
    assert repo.namespace_id is not None
    short = repo.name.partition("/")[2]
    # "Latest" is the most recently pushed tag, the order the repository page lists them in.
    tag = session.exec(
        select(Tag)
        .where(col(Tag.repository_id) == repository_id)
        .order_by(col(Tag.updated_at).desc(), col(Tag.name))
    ).first()
    module = _module(session, repository_id, tag.manifest_digest) if tag else None
    abi_versions = [v.strip() for v in module.abi_versions.split(",")] if module else []
    return Document(
        repository_id=repository_id,
        namespace_id=repo.namespace_id,
        repository=repo.name,
        namespace=namespace,
        name=short or repo.name,
        keywords=repo.keywords.replace(",", " "),
        description=repo.description,
        readme=repo.readme,
        private=repo.private,
        updated_at=repo.updated_at,
        latest_tag=tag.name if tag else None,
        variant=module.variant if module else "",
        abi_versions=sorted({v for v in abi_versions if v}),
        toolchain=module.toolchain if module else "",
        loads=load_check_ok(module.facts) if module else None,
    )


def delete_facts(conn: Connection, repository_id: int) -> None:
    conn.execute(delete(tables.abis).where(tables.abis.c.repository_id == repository_id))
    conn.execute(delete(tables.documents).where(tables.documents.c.repository_id == repository_id))


def write_facts(conn: Connection, doc: Document) -> None:
    delete_facts(conn, doc.repository_id)
    conn.execute(
        insert(tables.documents).values(
            repository_id=doc.repository_id,
            namespace_id=doc.namespace_id,
            repository=doc.repository,
            name=doc.name,
            latest_tag=doc.latest_tag,
            variant=doc.variant,
            abi_versions=",".join(doc.abi_versions),
            toolchain=doc.toolchain,
            loads=doc.loads,
            private=doc.private,
            updated_at=doc.updated_at,
        )
    )
    if doc.abi_versions:
        conn.execute(
            insert(tables.abis),
            [{"repository_id": doc.repository_id, "abi": abi} for abi in doc.abi_versions],
        )
