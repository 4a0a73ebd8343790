"""Tables. Everything a registry lists, searches or authorizes on lives here; bytes do not."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts() -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=False, default=utcnow)


def _ts_indexed() -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=False, default=utcnow, index=True)


class Namespace(SQLModel, table=True):
    """The first path component of a repository name: a user's or an organisation's space
    (Harbor's "project", which wasme lists)."""

    __tablename__ = "namespaces"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255, unique=True, index=True)
    public: bool = Field(default=True)  # the default visibility of its new repositories
    kind: str = Field(default="user", max_length=16)  # "user" (personal) | "org"
    # The user whose personal namespace this is (kind "user").
    owner_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    # Reliability (limits): unique blob bytes the namespace may link; None: unlimited.
    quota_bytes: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class Membership(SQLModel, table=True):
    """A user's role in an organisation namespace: owner (all), maintainer (push), reader."""

    __tablename__ = "memberships"
    namespace_id: int = Field(foreign_key="namespaces.id", primary_key=True)
    user_id: int = Field(foreign_key="users.id", primary_key=True, index=True)
    role: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ApiToken(SQLModel, table=True):
    """A personal (or robot) access token. Only a hash of the secret is kept; tokens are long
    random strings, so a fast hash is safe here (unlike passwords)."""

    __tablename__ = "api_tokens"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(default="", max_length=128)
    prefix: str = Field(max_length=16, index=True)  # the first characters, to find the row
    secret_hash: str = Field(max_length=128)
    scopes: str = Field(default="pull", max_length=64)  # comma-separated: pull, push, admin
    namespace: str | None = Field(default=None, max_length=255)  # limit to one namespace
    expires_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class SigningKey(SQLModel, table=True):
    """The registry-token signing key, made on first start and shared by every replica."""

    __tablename__ = "signing_keys"
    kid: str = Field(primary_key=True, max_length=64)
    private_pem: str
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(default="", max_length=64)  # username, "" for anonymous
    action: str = Field(max_length=64)  # sign-in, token.create, push, delete, role.change ...
    namespace: str = Field(default="", max_length=255, index=True)
    target: str = Field(default="", max_length=512)
    detail: str = Field(default="{}")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Repository(SQLModel, table=True):
    __tablename__ = "repositories"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255, unique=True, index=True)
    namespace_id: int | None = Field(default=None, foreign_key="namespaces.id", index=True)
    private: bool = Field(default=False)  # private: invisible (404) to those without access
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
    # Reliability (gc): last time a writer claimed these bytes; gc spares younger rows.
    touched_at: datetime = Field(default_factory=utcnow, sa_column=_ts_indexed())


class RepositoryBlob(SQLModel, table=True):
    """A repository may serve a blob only when linked (distribution's per-repo blob links)."""

    __tablename__ = "repository_blobs"
    repository_id: int = Field(foreign_key="repositories.id", primary_key=True)
    digest: str = Field(foreign_key="blobs.digest", primary_key=True, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    # Reliability (gc): last upload, mount, HEAD or manifest push that used this link.
    touched_at: datetime = Field(default_factory=utcnow, sa_column=_ts_indexed())


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
    # Manifest GETs by this tag name (hub.artifacts.pulls); stays with the name when it moves.
    pulls: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, default=0, server_default="0")
    )


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
    is_robot: bool = Field(default=False)  # an organisation's robot account: tokens only
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


# -- Sign-in (issue 4): the server secret, browser sessions, sign-in attempts, identities at
# OAuth/OIDC providers, trusted publishers (hub.auth.sessions, hub.auth.signin, hub.auth.trusted)


class ServerSecret(SQLModel, table=True):
    """Secrets made on first start and shared by every replica (e.g. the session-signing key
    when HUB_SECRET_KEY is not set)."""

    __tablename__ = "server_secrets"
    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class BrowserSession(SQLModel, table=True):
    """A signed-in browser. The cookie carries the session id; only its SHA-256 is kept, and
    sign-out sets ended_at, so a copied cookie stops working."""

    __tablename__ = "browser_sessions"
    id_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class SigninAttempt(SQLModel, table=True):
    """Recent sign-in attempts, counted per client address and per username to rate-limit
    password guessing across every replica."""

    __tablename__ = "signin_attempts"
    __table_args__ = (Index("ix_signin_attempts_key_at", "key", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300)  # "addr:<ip>" or "user:<name>"
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class IdentityLink(SQLModel, table=True):
    """A user's identity at an OAuth/OIDC provider: (issuer, subject) never changes, even when
    the preferred username does."""

    __tablename__ = "identity_links"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_identity_links_iss_sub"),)
    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=512)
    subject: str = Field(max_length=255)
    user_id: int = Field(foreign_key="users.id", index=True)
    provider: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class TrustedPublisher(SQLModel, table=True):
    """A rule letting a CI system's OIDC token push one repository (as on PyPI): tokens from
    ``issuer`` for ``audience`` whose claims equal every entry of ``claims`` (JSON object)."""

    __tablename__ = "trusted_publishers"
    id: int | None = Field(default=None, primary_key=True)
    repository: str = Field(max_length=255, index=True)
    issuer: str = Field(max_length=512)
    audience: str = Field(max_length=255)
    claims: str = Field(default="{}")
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class UsedCiToken(SQLModel, table=True):
    """CI tokens already exchanged (SHA-256 of issuer and jti), kept until they expire, so a
    leaked token cannot be exchanged again (PyPI does the same)."""

    __tablename__ = "used_ci_tokens"
    key: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


# -- Events: webhooks and their delivery queue (hub.events) ------------------------------------


class Webhook(SQLModel, table=True):
    """A namespace's subscription: events about its repositories are POSTed to ``url``. The
    secret is kept (not hashed) because every delivery is signed with it; the API shows it
    only in the answer that creates the webhook."""

    __tablename__ = "webhooks"
    id: int | None = Field(default=None, primary_key=True)
    namespace_id: int = Field(foreign_key="namespaces.id", index=True)
    url: str = Field(max_length=2048)
    secret: str = Field(max_length=255)
    events: str = Field(default="", max_length=255)  # comma-separated event types; "" = all
    active: bool = Field(default=True)
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class WebhookDelivery(SQLModel, table=True):
    """One event for one webhook, queued in the same transaction as the change it reports, so
    it survives restarts and any replica may send it. A replica claims a row by setting a
    lease (token + expiry) with a conditional UPDATE; an expired lease (a replica died
    mid-send) may be claimed again."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhooks.id", index=True)
    event_id: str = Field(max_length=64)
    event_type: str = Field(max_length=128)
    body: str  # the CloudEvent, JSON, exactly as sent (and signed) on every attempt
    state: str = Field(default="pending", max_length=16)  # pending | succeeded | failed
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    lease_token: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_status_code: int | None = Field(default=None)
    last_error: str = Field(default="", max_length=1024)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class WebhookAttempt(SQLModel, table=True):
    """The delivery log: one row per HTTP attempt."""

    __tablename__ = "webhook_attempts"
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_deliveries.id", index=True)
    attempt: int
    status_code: int | None = Field(default=None)
    error: str = Field(default="", max_length=1024)
    duration_ms: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


# -- Stars (web catalog, issue 6) ------------------------------------------------------------


class Star(SQLModel, table=True):
    """A user's star on a repository; Repository.stars counts them (kept in the same
    transaction, so sorting by stars reads one column)."""

    __tablename__ = "stars"
    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    repository_id: int = Field(
        foreign_key="repositories.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


# --- Reliability: gc lease, rate-limit counters (hub.artifacts.gc, hub.limits) ---------------


class Lease(SQLModel, table=True):
    """A named lock with an expiry, so one replica at a time runs a periodic job (gc)."""

    __tablename__ = "leases"
    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=128)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class RateCounter(SQLModel, table=True):
    """Requests counted in one fixed window for one client (address or token), shared by
    every replica when no Redis is configured. The key names the window; old rows expire."""

    __tablename__ = "rate_counters"
    key: str = Field(primary_key=True, max_length=255)
    count: int = Field(default=0)
    expires_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )
