"""Read side of the catalog for the JSON APIs: namespaces, repositories, tags with the facts of
their Wasm modules, and module look-up for plain HTTP download."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from hub.artifacts import repositories
from hub.artifacts.catalog import visibility
from hub.artifacts.views import (
    ModuleSummary,
    NameMatches,
    NamespaceInfo,
    RepositoryInfo,
    RepositoryOverview,
    TagInfo,
    TagSummary,
)
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
from hub.oci.errors import NameUnknown


class DetailsService:
    def __init__(
        self, engine: Engine, on_change: list[Callable[[Session, int], None]] | None = None
    ) -> None:
        self.engine = engine
        # Called with (session, repository id) inside the transaction of a metadata change.
        self.on_change = on_change or []

    def namespaces(
        self, name: str | None = None, visible: set[int] | None = None
    ) -> list[NamespaceInfo]:
        """Namespaces with their count of repositories the caller may see; a namespace shows
        when it has such a repository or the caller belongs to it."""
        with Session(self.engine) as session:
            query = (
                select(
                    Namespace,
                    func.count(col(Repository.id)),
                    func.max(col(Repository.updated_at)),
                )
                .join(
                    Repository,
                    (col(Repository.namespace_id) == col(Namespace.id)) & visibility(visible),
                    isouter=True,
                )
                .group_by(col(Namespace.id))
                .order_by(col(Namespace.name))
            )
            if visible is not None:
                query = query.having(
                    (func.count(col(Repository.id)) > 0) | col(Namespace.id).in_(visible)
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

    def namespace_named(self, name: str) -> Namespace | None:
        with Session(self.engine) as session:
            return session.exec(select(Namespace).where(Namespace.name == name)).first()

    def repositories(
        self,
        namespace_id: int | None = None,
        offset: int = 0,
        limit: int = 100,
        visible: set[int] | None = None,
    ) -> tuple[list[RepositoryInfo], int]:
        with Session(self.engine) as session:
            where: list[Any] = [visibility(visible)]
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

    def repository(self, name: str, visible: set[int] | None = None) -> RepositoryInfo:
        """NameUnknown when missing or private to the caller (the API maps it to 404)."""
        with Session(self.engine) as session:
            repo = repositories.get(session, name)
            assert repo.id is not None
            if repo.private and visible is not None and repo.namespace_id not in visible:
                raise NameUnknown({"name": name}, f"repository {name!r} is not known")
            tags = self._tags(session, repo.id)
            return RepositoryInfo(repo, repositories.namespace_of(name), len(tags), tags)

    def overview(
        self, name: str, visible: set[int] | None = None, limit: int | None = None
    ) -> RepositoryOverview:
        """The repository and its newest ``limit`` tags (None: all), with the count of all.
        NameUnknown when missing or private to the caller, like repository()."""
        with Session(self.engine) as session:
            repo = repositories.get(session, name)
            assert repo.id is not None
            if repo.private and visible is not None and repo.namespace_id not in visible:
                raise NameUnknown({"name": name}, f"repository {name!r} is not known")
            rows = session.execute(
                core_select(
                    col(Tag.name),
                    col(Tag.updated_at),
                    col(Tag.pulls),
                    col(Manifest.digest),
                    col(Manifest.size),
                    # Blob sizes summed per row: one round trip, no 200-id IN list.
                    core_select(func.coalesce(func.sum(col(Blob.size)), 0))
                    .join(ManifestReference, col(ManifestReference.digest) == col(Blob.digest))
                    .where(col(ManifestReference.manifest_id) == col(Manifest.id))
                    .scalar_subquery(),
                    col(WasmModule.variant),
                    col(WasmModule.abi_versions),
                    col(WasmModule.root_ids),
                    col(WasmModule.toolchain),
                    col(WasmModule.module_size),
                )
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
                .where(col(Tag.repository_id) == repo.id)
                .order_by(col(Tag.updated_at).desc(), col(Tag.name))
                .limit(limit)
            ).all()
            if limit is None or len(rows) < limit:
                count = len(rows)
                has_latest = any(r[0] == "latest" for r in rows)
            else:
                count = session.exec(
                    select(func.count()).where(col(Tag.repository_id) == repo.id)
                ).one()
                has_latest = (
                    session.exec(
                        select(Tag.id).where(Tag.repository_id == repo.id, Tag.name == "latest")
                    ).first()
                    is not None
                )
            tags = [
                TagSummary(
                    name=tag,
                    digest=digest,
                    size=size + int(blobs),
                    pushed_at=pushed,
                    module=None
                    if variant is None
                    else ModuleSummary(variant, abis, roots, toolchain, module_size),
                    pulls=pulls,
                )
                for (
                    tag,
                    pushed,
                    pulls,
                    digest,
                    size,
                    blobs,
                    variant,
                    abis,
                    roots,
                    toolchain,
                    module_size,
                ) in rows
            ]
            return RepositoryOverview(
                repo, repositories.namespace_of(name), tags, int(count), has_latest
            )

    def tag(
        self, name: str, tag: str, visible: set[int] | None = None
    ) -> tuple[Repository, TagInfo | None]:
        """The repository and one tag with its module facts (None: no such tag); NameUnknown
        as repository()."""
        with Session(self.engine) as session:
            repo = repositories.get(session, name)
            assert repo.id is not None
            if repo.private and visible is not None and repo.namespace_id not in visible:
                raise NameUnknown({"name": name}, f"repository {name!r} is not known")
            found = self._tags(session, repo.id, tag)
            return repo, found[0] if found else None

    def _tags(self, session: Session, repository_id: int, tag: str | None = None) -> list[TagInfo]:
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
            .where(
                col(Tag.repository_id) == repository_id,
                *([col(Tag.name) == tag] if tag is not None else []),
            )
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
                pulls=tag.pulls,
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

    def search_names(
        self, q: str, visible: set[int] | None = None, limit: int = 100
    ) -> NameMatches:
        """Harbor's /api/search: a substring match on namespace and repository names."""
        needle = q.strip().lower()
        namespaces = [i for i in self.namespaces(None, visible) if needle in i.namespace.name]
        with Session(self.engine) as session:
            rows = session.exec(
                select(Repository, Namespace.name)
                .join(Namespace, col(Namespace.id) == col(Repository.namespace_id))
                .where(visibility(visible), col(Repository.name).contains(needle))
                .order_by(col(Repository.name))
                .limit(limit)
            ).all()
            counts = self._tag_counts(session, [r.id for r, _ in rows if r.id is not None])
        repos = [RepositoryInfo(r, ns, counts.get(r.id or 0, 0)) for r, ns in rows]
        return NameMatches(namespaces[:limit], repos)

    def module_by_sha256(
        self, sha256_hex: str, visible: set[int] | None = None
    ) -> WasmModule | None:
        """A stored module by the sha256 of its .wasm bytes (what Envoy's `sha256` pins),
        if some repository the caller may see holds it."""
        with Session(self.engine) as session:
            return session.exec(
                select(WasmModule)
                .join(Manifest, col(Manifest.digest) == col(WasmModule.manifest_digest))
                .join(Repository, col(Repository.id) == col(Manifest.repository_id))
                .where(WasmModule.module_sha256 == sha256_hex, visibility(visible))
            ).first()

    def resolve(
        self, name: str, ref: str, visible: set[int] | None = None
    ) -> tuple[str, WasmModule | None, Repository]:
        """A tag or manifest digest of a repository -> (manifest digest, its module or None,
        the repository). NameUnknown when the repository is missing or private to the caller;
        ManifestUnknown when the repository has no such tag or manifest."""
        from hub.oci.errors import ManifestUnknown

        with Session(self.engine) as session:
            repo = repositories.get(session, name)
            if repo.private and visible is not None and repo.namespace_id not in visible:
                raise NameUnknown({"name": name}, f"repository {name!r} is not known")
            if ":" in ref:  # a digest; tags cannot hold a colon
                digest: str | None = session.exec(
                    select(Manifest.digest).where(
                        Manifest.repository_id == repo.id, Manifest.digest == ref
                    )
                ).first()
            else:
                digest = session.exec(
                    select(Tag.manifest_digest).where(Tag.repository_id == repo.id, Tag.name == ref)
                ).first()
            if digest is None:
                raise ManifestUnknown(
                    {"name": name, "reference": ref}, f"{name} has no manifest {ref!r}"
                )
            return digest, session.get(WasmModule, digest), repo

    def update_metadata(self, name: str, changes: dict[str, str | bool]) -> Repository:
        with Session(self.engine) as session:
            repo = repositories.get(session, name)
            for key, value in changes.items():
                setattr(repo, key, value)
            repo.updated_at = utcnow()
            session.add(repo)
            assert repo.id is not None
            for hook in self.on_change:
                hook(session, repo.id)
            session.commit()
            session.refresh(repo)
            return repo
