"""Read side of the catalog for the JSON APIs: namespaces, repositories, tags with the facts of
their Wasm modules, and module look-up for plain HTTP download."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from hub.artifacts import repositories
from hub.db.models import (
    Blob,
    Manifest,
    ManifestReference,
    Namespace,
    Repository,
    Tag,
    WasmModule,
    utcnow,
)


@dataclass
class TagInfo:
    name: str
    digest: str
    media_type: str
    size: int  # manifest plus every blob it references, as Harbor reports it
    pushed_at: datetime
    annotations: dict[str, str]
    module: WasmModule | None


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


class DetailsService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def namespaces(self, name: str | None = None) -> list[NamespaceInfo]:
        with Session(self.engine) as session:
            query = (
                select(
                    Namespace,
                    func.count(col(Repository.id)),
                    func.max(col(Repository.updated_at)),
                )
                .join(Repository, col(Repository.namespace_id) == col(Namespace.id), isouter=True)
                .where(col(Namespace.public))
                .group_by(col(Namespace.id))
                .order_by(col(Namespace.name))
            )
            if name:
                query = query.where(col(Namespace.name).contains(name))
            return [
                NamespaceInfo(ns, count, updated or ns.created_at)
                for ns, count, updated in session.exec(query)
            ]

    def namespace(self, namespace_id: int) -> Namespace | None:
        with Session(self.engine) as session:
            return session.get(Namespace, namespace_id)

    def repositories(
        self, namespace_id: int | None = None, offset: int = 0, limit: int = 100
    ) -> tuple[list[RepositoryInfo], int]:
        with Session(self.engine) as session:
            where: list[Any] = [col(Namespace.public)]
            if namespace_id is not None:
                where.append(col(Repository.namespace_id) == namespace_id)
            base = (
                select(Repository, Namespace.name)
                .join(Namespace, col(Namespace.id) == col(Repository.namespace_id))
                .where(*where)
            )
            total = session.exec(select(func.count()).select_from(base.subquery())).one()
            rows = session.exec(
                base.order_by(col(Repository.name)).offset(offset).limit(limit)
            ).all()
            counts = self._tag_counts(session, [r.id for r, _ in rows if r.id is not None])
            return [
                RepositoryInfo(repo, ns, counts.get(repo.id or 0, 0)) for repo, ns in rows
            ], int(total)

    def _tag_counts(self, session: Session, ids: list[int]) -> dict[int, int]:
        if not ids:
            return {}
        rows = session.exec(
            select(Tag.repository_id, func.count())
            .where(col(Tag.repository_id).in_(ids))
            .group_by(col(Tag.repository_id))
        )
        return {repo_id: count for repo_id, count in rows}

    def repository(self, name: str) -> RepositoryInfo:
        """NameUnknown when missing (the API maps it to 404)."""
        with Session(self.engine) as session:
            repo = repositories.get(session, name)
            assert repo.id is not None
            tags = self._tags(session, repo.id)
            return RepositoryInfo(repo, repositories.namespace_of(name), len(tags), tags)

    def _tags(self, session: Session, repository_id: int) -> list[TagInfo]:
        rows = session.exec(
            select(Tag, Manifest, WasmModule)
            .join(
                Manifest,
                (col(Manifest.repository_id) == col(Tag.repository_id))
                & (col(Manifest.digest) == col(Tag.manifest_digest)),
            )
            .join(
                WasmModule,
                col(WasmModule.manifest_digest) == col(Manifest.digest),
                isouter=True,
            )
            .where(col(Tag.repository_id) == repository_id)
            .order_by(col(Tag.updated_at).desc(), col(Tag.name))
        ).all()
        sizes = self._sizes(session, [m.id for _, m, _ in rows if m.id is not None])
        return [
            TagInfo(
                name=tag.name,
                digest=manifest.digest,
                media_type=manifest.media_type,
                size=manifest.size + sizes.get(manifest.id or 0, 0),
                pushed_at=tag.updated_at,
                annotations=json.loads(manifest.annotations or "{}"),
                module=module,
            )
            for tag, manifest, module in rows
        ]

    def _sizes(self, session: Session, manifest_ids: list[int]) -> dict[int, int]:
        if not manifest_ids:
            return {}
        rows = session.exec(
            select(ManifestReference.manifest_id, func.sum(Blob.size))
            .join(Blob, col(Blob.digest) == col(ManifestReference.digest))
            .where(col(ManifestReference.manifest_id).in_(manifest_ids))
            .group_by(col(ManifestReference.manifest_id))
        )
        return {mid: int(total or 0) for mid, total in rows}

    def search_names(self, q: str, limit: int = 100) -> NameMatches:
        """Harbor's /api/search: a substring match on namespace and repository names."""
        needle = q.strip().lower()
        namespaces = [i for i in self.namespaces() if needle in i.namespace.name][:limit]
        with Session(self.engine) as session:
            rows = session.exec(
                select(Repository, Namespace.name)
                .join(Namespace, col(Namespace.id) == col(Repository.namespace_id))
                .where(col(Namespace.public), col(Repository.name).contains(needle))
                .order_by(col(Repository.name))
                .limit(limit)
            ).all()
            counts = self._tag_counts(session, [r.id for r, _ in rows if r.id is not None])
        repos = [RepositoryInfo(r, ns, counts.get(r.id or 0, 0)) for r, ns in rows]
        return NameMatches(namespaces, repos)

    def module_by_sha256(self, sha256_hex: str) -> WasmModule | None:
        """A stored module by the sha256 of its .wasm bytes (what Envoy's `sha256` pins)."""
        with Session(self.engine) as session:
            return session.exec(
                select(WasmModule).where(WasmModule.module_sha256 == sha256_hex)
            ).first()

    def update_metadata(self, name: str, changes: dict[str, str]) -> Repository:
        with Session(self.engine) as session:
            repo = repositories.get(session, name)
            for key, value in changes.items():
                setattr(repo, key, value)
            repo.updated_at = utcnow()
            session.add(repo)
            session.commit()
            session.refresh(repo)
            return repo
