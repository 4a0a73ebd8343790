"""Per-namespace storage quotas, counted on the unique blob bytes linked into the namespace's
repositories (a layer shared by ten repositories of one namespace counts once). Manifests are
not counted: they are small and bounded by HUB_MAX_MANIFEST_BYTES.

The check that counts is enforce(), inside the transaction that links a blob; on PostgreSQL it
locks the namespace row, so two concurrent pushes cannot both squeeze under the limit. The
early checks (precheck) only spare a client from sending bytes that would be refused."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, func
from sqlmodel import Session, col, select

from hub.db.models import Blob, Namespace, Repository, RepositoryBlob
from hub.oci.errors import RegistryError


class QuotaExceeded(RegistryError):
    """413 in the registry's envelope; DENIED is the spec code for "not allowed", and the
    status tells clients it is about size (distribution answers quota errors the same way)."""

    code, status, message = "DENIED", 413, "namespace storage quota exceeded"


@dataclass(frozen=True)
class Usage:
    namespace: str
    used: int
    quota: int | None


def _human(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def used_bytes(session: Session, namespace_id: int) -> int:
    linked = (
        select(RepositoryBlob.digest)
        .join(Repository, col(Repository.id) == col(RepositoryBlob.repository_id))
        .where(col(Repository.namespace_id) == namespace_id)
        .distinct()
    )
    total = session.exec(
        select(func.coalesce(func.sum(Blob.size), 0)).where(col(Blob.digest).in_(linked))
    ).one()
    return int(total)


def _namespace_of_repository(session: Session, repository_id: int, lock: bool) -> Namespace | None:
    query = (
        select(Namespace)
        .join(Repository, col(Repository.namespace_id) == col(Namespace.id))
        .where(col(Repository.id) == repository_id)
    )
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Namespace)
    return session.exec(query).first()


def _refuse(ns: Namespace, used: int, adding: int) -> QuotaExceeded:
    assert ns.quota_bytes is not None
    return QuotaExceeded(
        {"namespace": ns.name, "quota": ns.quota_bytes, "used": used, "adding": adding},
        f"namespace {ns.name!r} has a storage quota of {_human(ns.quota_bytes)} and uses "
        f"{_human(used)}; this {_human(adding)} blob does not fit. Delete unused tags or "
        "manifests and run garbage collection, or ask an administrator to raise the quota",
    )


_QUOTA_OF_REPOSITORY = (
    select(col(Namespace.quota_bytes))
    .join(Repository, col(Repository.namespace_id) == col(Namespace.id))
    .where(col(Repository.id) == bindparam("id"))
)
_QUOTA_OF_NAMESPACE = select(col(Namespace.quota_bytes)).where(
    col(Namespace.name) == bindparam("name")
)


def enforce(session: Session, repository_id: int, digest: str, size: int) -> None:
    """Inside the linking transaction: refuse a new link that would exceed the quota."""
    # One scalar first: most namespaces have no quota, and on SQLite this runs holding the
    # write lock (hub.db.writelock), so the common case stays a single cheap read.
    if session.execute(_QUOTA_OF_REPOSITORY, {"id": repository_id}).scalar() is None:
        return
    ns = _namespace_of_repository(session, repository_id, lock=True)
    assert ns is not None and ns.id is not None and ns.quota_bytes is not None
    already = session.exec(
        select(RepositoryBlob.digest)
        .join(Repository, col(Repository.id) == col(RepositoryBlob.repository_id))
        .where(col(Repository.namespace_id) == ns.id, col(RepositoryBlob.digest) == digest)
    ).first()
    if already is not None:
        return  # the namespace holds these bytes already: no new bytes counted
    used = used_bytes(session, ns.id)
    if used + size > ns.quota_bytes:
        raise _refuse(ns, used, size)


class QuotaService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def precheck(self, repository: str, adding: int, digest: str | None = None) -> None:
        """Refuse early, before bytes are received, when ``adding`` more bytes cannot fit."""
        namespace = repository.split("/", 1)[0]
        with self.engine.connect() as conn:
            if conn.execute(_QUOTA_OF_NAMESPACE, {"name": namespace}).scalar() is None:
                return  # no quota (or no namespace yet): nothing to check, one cheap read
        with Session(self.engine) as session:
            ns = session.exec(select(Namespace).where(Namespace.name == namespace)).first()
            if ns is None or ns.id is None or ns.quota_bytes is None:
                return
            if digest is not None:
                have = session.exec(
                    select(RepositoryBlob.digest)
                    .join(Repository, col(Repository.id) == col(RepositoryBlob.repository_id))
                    .where(col(Repository.namespace_id) == ns.id, RepositoryBlob.digest == digest)
                ).first()
                if have is not None:
                    return
            used = used_bytes(session, ns.id)
            if used + adding > ns.quota_bytes:
                raise _refuse(ns, used, adding)

    def usage(self, namespace: str) -> Usage | None:
        with Session(self.engine) as session:
            ns = session.exec(select(Namespace).where(Namespace.name == namespace)).first()
            if ns is None or ns.id is None:
                return None
            return Usage(ns.name, used_bytes(session, ns.id), ns.quota_bytes)

    def set(self, namespace: str, quota: int | None) -> Usage | None:
        with Session(self.engine) as session:
            ns = session.exec(select(Namespace).where(Namespace.name == namespace)).first()
            if ns is None or ns.id is None:
                return None
            ns.quota_bytes = quota
            session.add(ns)
            session.commit()
            return Usage(ns.name, used_bytes(session, ns.id), quota)


def parse_size(raw: str) -> int | None:
    """'none' -> None (unlimited); '500MiB', '2GB', '1048576' -> bytes."""
    text = raw.strip().lower().replace(" ", "")
    if text in ("none", "unlimited", ""):
        return None
    units = {
        "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
        "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
        "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "b": 1,
    }  # fmt: skip
    for suffix, factor in units.items():
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return int(float(text[: -len(suffix)]) * factor)
    if text.isdigit():
        return int(text)
    raise ValueError(f"{raw!r} is not a size; use bytes or e.g. 500MiB, 2GB, or 'none'")
