"""Upgrades of a database that holds data, on SQLite and PostgreSQL: a hub at 0003 (before
identity) with users, namespaces, repositories, blobs, manifests, tags, an upload and a module
is upgraded to head; everything survives and the app works on it. Then `alembic check`: the
models and the migrations describe the same schema (no pending autogenerate diff)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, text

from hub.artifacts.catalog import CatalogService
from hub.auth.access import AccessService, Identity
from hub.auth.accounts import AccountService
from hub.config import Settings
from hub.db.migrate import _config, pending
from tests.support.databases import engine_fixture

NOW = "CURRENT_TIMESTAMP"


# Unmigrated: each test walks the schema up itself, stopping where it seeds old data.
engine = engine_fixture("upgrade", migrated=False)


def insert(conn: object, sql: str, **params: object) -> int:
    """Insert one row and return its generated id (RETURNING: SQLite >= 3.35 and PostgreSQL),
    so PostgreSQL's sequences stay right for the rows the app adds afterwards."""
    row = conn.execute(text(sql + " RETURNING id"), params).one()  # type: ignore[attr-defined]
    return int(row[0])


def seed_at_0003(engine: Engine) -> dict[str, int]:
    """What a hub at 0003 holds, written with 0003's columns."""
    with engine.begin() as conn:
        alice = insert(
            conn,
            f"INSERT INTO users (username, email, is_admin, created_at) "
            f"VALUES ('alice', 'a@example.test', :f, {NOW})",
            f=False,
        )
        ns = insert(
            conn,
            f"INSERT INTO namespaces (name, public, created_at) VALUES ('alice', :t, {NOW})",
            t=True,
        )
        other = insert(
            conn,
            f"INSERT INTO namespaces (name, public, created_at) VALUES ('shared', :t, {NOW})",
            t=True,
        )
        repo = insert(
            conn,
            f"INSERT INTO repositories (name, namespace_id, created_at, description, keywords) "
            f"VALUES ('alice/add-header', :ns, {NOW}, 'Adds a header', 'headers')",
            ns=ns,
        )
        repo2 = insert(
            conn,
            f"INSERT INTO repositories (name, namespace_id, created_at) "
            f"VALUES ('shared/limits', :ns, {NOW})",
            ns=other,
        )
        for digest, size in (("sha256:" + "a" * 64, 10), ("sha256:" + "b" * 64, 20)):
            conn.execute(
                text(f"INSERT INTO blobs (digest, size, created_at) VALUES (:d, :s, {NOW})"),
                {"d": digest, "s": size},
            )
            conn.execute(
                text(
                    f"INSERT INTO repository_blobs (repository_id, digest, created_at) "
                    f"VALUES (:r, :d, {NOW})"
                ),
                {"r": repo, "d": digest},
            )
        manifest = insert(
            conn,
            f"INSERT INTO manifests (repository_id, digest, media_type, size, annotations, "
            f"created_at) VALUES (:r, :d, 'application/vnd.oci.image.manifest.v1+json', 20, "
            f"'{{}}', {NOW})",
            r=repo,
            d="sha256:" + "b" * 64,
        )
        conn.execute(
            text(
                "INSERT INTO manifest_references (manifest_id, digest, kind) "
                "VALUES (:m, :d, 'blob')"
            ),
            {"m": manifest, "d": "sha256:" + "a" * 64},
        )
        for tag in ("v1", "latest"):
            conn.execute(
                text(
                    f"INSERT INTO tags (repository_id, name, manifest_digest, updated_at) "
                    f"VALUES (:r, :t, :d, {NOW})"
                ),
                {"r": repo, "t": tag, "d": "sha256:" + "b" * 64},
            )
        conn.execute(
            text(
                f"INSERT INTO uploads (id, repository_id, size, segments, created_at, "
                f"updated_at) VALUES ('u1', :r, 5, 1, {NOW}, {NOW})"
            ),
            {"r": repo2},
        )
        conn.execute(
            text(
                "INSERT INTO wasm_modules (manifest_digest, variant, layer_digest, "
                "module_sha256, module_size, abi_versions, root_ids, runtime_type, toolchain, "
                f"facts, created_at) VALUES (:d, 'compat', :l, 'cc', 1, "
                f"'proxy_abi_version_0_2_1', '', '', 'rustc', '{{}}', {NOW})"
            ),
            {"d": "sha256:" + "b" * 64, "l": "sha256:" + "a" * 64},
        )
    return {"alice": alice, "ns": ns, "repo": repo, "repo2": repo2, "manifest": manifest}


def counts(engine: Engine) -> dict[str, int]:
    tables = [
        "users",
        "namespaces",
        "repositories",
        "blobs",
        "repository_blobs",
        "manifests",
        "manifest_references",
        "tags",
        "uploads",
        "wasm_modules",
    ]
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


def test_upgrade_keeps_data(engine: Engine) -> None:
    command.upgrade(_config(engine), "0003")
    ids = seed_at_0003(engine)
    before = counts(engine)
    assert before["tags"] == 2 and before["manifests"] == 1

    command.upgrade(_config(engine), "head")

    assert not pending(engine)
    assert counts(engine) == before
    with engine.connect() as conn:
        ns = conn.execute(text("SELECT name, kind, owner_id FROM namespaces ORDER BY name")).all()
        repo = conn.execute(
            text("SELECT name, description, private, namespace_id FROM repositories WHERE id=:i"),
            {"i": ids["repo"]},
        ).one()
        tags = conn.execute(text("SELECT name, manifest_digest FROM tags ORDER BY name")).all()
    # 0004: the namespace named after a user became theirs; the other has no owner.
    assert [tuple(r) for r in ns] == [("alice", "user", ids["alice"]), ("shared", "user", None)]
    assert tuple(repo) == ("alice/add-header", "Adds a header", False, ids["ns"])
    assert [tuple(t) for t in tags] == [
        ("latest", "sha256:" + "b" * 64),
        ("v1", "sha256:" + "b" * 64),
    ]

    # The app works on the upgraded data: alice owns her namespace, the catalog lists the
    # tags, and new rows get fresh ids (PostgreSQL sequences were not disturbed).
    settings = Settings(database_url=str(engine.url), storage_url="memory://")
    access = AccessService(engine, settings)
    alice = Identity(user_id=ids["alice"], username="alice")
    assert {"pull", "push", "delete"} <= access.actions(alice, "alice/add-header")
    assert "push" not in access.actions(alice, "shared/limits")
    assert CatalogService(engine).tags("alice/add-header", None, None) == ["latest", "v1"]
    bob = AccountService(engine).create_user("bob", "pw")
    assert bob.id is not None and bob.id > ids["alice"]


def test_models_match_migrations(engine: Engine) -> None:
    """`alembic check`: autogenerate finds nothing to do, so no model change lacks its
    migration (the search index's own tables are excluded by migrations/env.py)."""
    command.upgrade(_config(engine), "head")
    command.check(_config(engine))  # raises AutoGenerateDiffsDetected naming the diff
