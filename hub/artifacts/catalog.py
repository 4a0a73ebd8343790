"""Listings from the database: tags, the catalog, referrers (never a storage walk)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from hub.artifacts import repositories
from hub.db.models import Manifest, Repository, Tag
from hub.oci.digest import Digest
from hub.oci.manifest import OCI_INDEX


def visibility(visible: set[int] | None) -> ColumnElement[bool]:
    """SQL: the repository is public, or private in a namespace the caller may see."""
    if visible is None:
        return true()
    return or_(not_(col(Repository.private)), col(Repository.namespace_id).in_(visible))


def _bytewise(column: Any, dialect: str) -> ColumnElement[Any]:
    # spec: tags and the catalog come in lexical order; PostgreSQL's default collation would
    # sort by locale, so ask for byte order explicitly.
    return column.collate("C") if dialect == "postgresql" else column


class CatalogService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    def tags(self, name: str, n: int | None, last: str | None) -> list[str]:
        with Session(self.engine) as session:
            repo = repositories.get(session, name)
            order = _bytewise(col(Tag.name), self.dialect)
            query = select(Tag.name).where(Tag.repository_id == repo.id).order_by(order)
            if last:
                query = query.where(order > last)
            if n is not None:
                query = query.limit(n)
            return list(session.exec(query))

    def repositories(
        self, n: int | None, last: str | None, visible: set[int] | None = None
    ) -> list[str]:
        """Repository names; private ones only in the ``visible`` namespaces (None: all)."""
        with Session(self.engine) as session:
            order = _bytewise(col(Repository.name), self.dialect)
            query = select(Repository.name).where(visibility(visible)).order_by(order)
            if last:
                query = query.where(order > last)
            if n is not None:
                query = query.limit(n)
            return list(session.exec(query))

    def referrers(self, name: str, subject: Digest, artifact_type: str | None) -> dict[str, Any]:
        """An image index of the manifests whose subject is ``subject`` (spec: "Listing
        Referrers"); an unknown repository or subject gives an empty index, not an error."""
        with Session(self.engine) as session:
            repo = repositories.find(session, name)
            rows: list[Manifest] = []
            if repo is not None:
                query = select(Manifest).where(
                    Manifest.repository_id == repo.id, Manifest.subject_digest == str(subject)
                )
                if artifact_type:
                    query = query.where(Manifest.artifact_type == artifact_type)
                rows = list(session.exec(query.order_by(col(Manifest.id))))
        manifests = []
        for row in rows:
            descriptor: dict[str, Any] = {
                "mediaType": row.media_type,
                "digest": row.digest,
                "size": row.size,
            }
            if row.artifact_type:
                descriptor["artifactType"] = row.artifact_type
            annotations = json.loads(row.annotations)
            if annotations:
                descriptor["annotations"] = annotations
            manifests.append(descriptor)
        return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
