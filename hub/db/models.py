"""Tables. Everything a registry lists, searches or authorizes on lives here; bytes do not."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts() -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=False, default=utcnow)


class Namespace(SQLModel, table=True):
    """The first path component of a repository name: a user's or an organisation's space
    (Harbor's "project", which wasme lists)."""

    __tablename__ = "namespaces"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255, unique=True, index=True)
    public: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Repository(SQLModel, table=True):
    __tablename__ = "repositories"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255, unique=True, index=True)
    namespace_id: int | None = Field(default=None, foreign_key="namespaces.id", index=True)
    # Catalog metadata: from image annotations on push, or set through the API.
    description: str = Field(default="", max_length=1024)
    readme: str = Field(default="")
    keywords: str = Field(default="", max_length=1024)  # comma-separated, lower-case
    source_url: str = Field(default="", max_length=1024)
    licenses: str = Field(default="", max_length=255)
    stars: int = Field(default=0)
    pulls: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Blob(SQLModel, table=True):
    """A stored object, by digest. Shared by every repository that links it."""

    __tablename__ = "blobs"
    digest: str = Field(primary_key=True, max_length=200)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class RepositoryBlob(SQLModel, table=True):
    """A repository may serve a blob only when linked (distribution's per-repo blob links)."""

    __tablename__ = "repository_blobs"
    repository_id: int = Field(foreign_key="repositories.id", primary_key=True)
    digest: str = Field(foreign_key="blobs.digest", primary_key=True, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Manifest(SQLModel, table=True):
    __tablename__ = "manifests"
    __table_args__ = (
        UniqueConstraint("repository_id", "digest"),
        Index("ix_manifests_subject", "repository_id", "subject_digest"),
    )
    id: int | None = Field(default=None, primary_key=True)
    repository_id: int = Field(foreign_key="repositories.id", index=True)
    digest: str = Field(max_length=200)
    media_type: str = Field(max_length=255)
    size: int
    artifact_type: str | None = Field(default=None, max_length=255)
    subject_digest: str | None = Field(default=None, max_length=200)
    # JSON text of the manifest's annotations, kept for the referrers listing.
    annotations: str = Field(default="{}")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class WasmModule(SQLModel, table=True):
    """What the hub learnt of the Wasm module a manifest carries. Keyed by manifest digest:
    content-addressed, so the facts hold in every repository that has the manifest."""

    __tablename__ = "wasm_modules"
    manifest_digest: str = Field(primary_key=True, max_length=200)
    variant: str = Field(max_length=32, index=True)  # wasme-oci | compat | cncf | wasm-to-oci
    layer_digest: str = Field(max_length=200)  # the blob holding the module (or its tar.gz)
    module_sha256: str = Field(max_length=64)  # sha256 hex of the .wasm bytes themselves
    module_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    abi_versions: str = Field(default="", max_length=512)  # comma-separated
    root_ids: str = Field(default="", max_length=1024)  # comma-separated
    runtime_type: str = Field(default="", max_length=64)
    toolchain: str = Field(default="", max_length=255)
    # JSON: exports, imports, memory, producers, custom sections (hub.wasm.inspect facts)
    facts: str = Field(default="{}")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ManifestReference(SQLModel, table=True):
    """What a manifest points at: its blobs and (for an index) child manifests."""

    __tablename__ = "manifest_references"
    manifest_id: int = Field(foreign_key="manifests.id", primary_key=True)
    digest: str = Field(primary_key=True, max_length=200)
    kind: str = Field(max_length=16)  # "blob" | "manifest"


class Tag(SQLModel, table=True):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("repository_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    repository_id: int = Field(foreign_key="repositories.id", index=True)
    name: str = Field(max_length=128)
    manifest_digest: str = Field(max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Upload(SQLModel, table=True):
    """An upload session. Its bytes are segment objects in storage; this row is its state, so
    any replica can continue it."""

    __tablename__ = "uploads"
    id: str = Field(primary_key=True, max_length=64)
    repository_id: int = Field(foreign_key="repositories.id", index=True)
    size: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    segments: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    email: str | None = Field(default=None, max_length=255)
    password_hash: str | None = Field(default=None, max_length=255)
    is_admin: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
