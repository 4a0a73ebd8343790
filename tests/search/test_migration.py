"""Migration 0003 on both databases: it creates the index and indexes what is already there."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect, text

from hub.db.migrate import _config
from hub.search import SearchQuery, open_search
from tests.support.databases import engine_fixture

# Unmigrated: each test walks the schema up (and down) itself.
engine = engine_fixture("search_migration", migrated=False)


def seed_at_0002(engine: Engine) -> None:
    """What a hub at 0002 holds: two repositories, one with a tagged module, one private-less
    bare one, in one namespace."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO namespaces (id, name, public, created_at) "
                "VALUES (1, 'acme', :t, CURRENT_TIMESTAMP)"
            ),
            {"t": True},
        )
        conn.execute(
            text(
                "INSERT INTO repositories (id, name, namespace_id, created_at, description, "
                "keywords, readme) VALUES "
                "(1, 'acme/add-header', 1, CURRENT_TIMESTAMP, 'Adds a header', 'headers,envoy', "
                "'# Add header'), "
                "(2, 'acme/ratelimit', 1, CURRENT_TIMESTAMP, 'Limits', '', 'mentions headers')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO manifests (id, repository_id, digest, media_type, size, annotations, "
                "created_at) VALUES (1, 1, 'sha256:aa', 'application/json', 1, '{}', "
                "CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO tags (repository_id, name, manifest_digest, updated_at) "
                "VALUES (1, 'v1', 'sha256:aa', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO wasm_modules (manifest_digest, variant, layer_digest, module_sha256, "
                "module_size, abi_versions, root_ids, runtime_type, toolchain, facts, created_at) "
                "VALUES ('sha256:aa', 'compat', 'sha256:bb', 'cc', 1, "
                "'proxy_abi_version_0_2_1,v0-abc', '', '', 'rustc 1.78.0', '{}', "
                "CURRENT_TIMESTAMP)"
            )
        )


def test_0003_creates_the_index_and_backfills(engine: Engine) -> None:
    command.upgrade(_config(engine), "0002")
    seed_at_0002(engine)
    command.upgrade(_config(engine), "0003")

    tables = set(inspect(engine).get_table_names())
    assert {"search_documents", "search_abis"} <= tables
    assert ("search_fts" if engine.dialect.name == "sqlite" else "search_text") in tables
    # Today's queries need today's columns (0009 adds search_documents.loads).
    command.upgrade(_config(engine), "head")

    search = open_search(engine)
    result = search.query(SearchQuery(q="header"))
    assert [h.repository for h in result.results] == ["acme/add-header", "acme/ratelimit"]
    hit = result.results[0]
    assert hit.exact is False and hit.latest_tag == "v1" and hit.variant == "compat"
    assert hit.abi_versions == ["proxy_abi_version_0_2_1", "v0-abc"]
    assert result.facets["abi"] == {"proxy_abi_version_0_2_1": 1, "v0-abc": 1}
    assert search.query(SearchQuery(q="add-hea")).results[0].repository == "acme/add-header"

    command.downgrade(_config(engine), "0002")
    tables = set(inspect(engine).get_table_names())
    assert not {t for t in tables if t.startswith("search_")}
    command.upgrade(_config(engine), "head")  # and back, backfilling again
    assert open_search(engine).query(SearchQuery()).total == 2


def test_0009_adds_loads_and_fills_it_from_the_stored_load_check(engine: Engine) -> None:
    command.upgrade(_config(engine), "0002")
    seed_at_0002(engine)
    command.upgrade(_config(engine), "0008_reliability")
    # acme/add-header's module was load-checked at push before the upgrade and loaded;
    # acme/ratelimit has no tag, so no module and no check.
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE wasm_modules SET facts = :f"),
            {"f": '{"load_check": {"ok": true, "reason": "", "abi": "0.2.x"}}'},
        )
    foreign_keys = _foreign_keys(engine)
    command.upgrade(_config(engine), "0009_search_loads")

    search = open_search(engine)
    assert [h.repository for h in search.query(SearchQuery(loads="yes")).results] == [
        "acme/add-header"
    ]
    assert search.query(SearchQuery(loads="no")).total == 0
    assert search.query(SearchQuery()).facets["loads"] == {"yes": 1}

    command.downgrade(_config(engine), "0008_reliability")
    columns = {c["name"] for c in inspect(engine).get_columns("search_documents")}
    assert "loads" not in columns and "toolchain" in columns
    # SQLite rebuilt the table to drop the column: its cascading foreign keys survive.
    assert _foreign_keys(engine) == foreign_keys
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM search_documents")).scalar() == 2


def _foreign_keys(engine: Engine) -> list[str]:
    """search_documents' foreign keys, in a stable order: a rebuilt SQLite table may list
    them in another order, which is not a difference."""
    return sorted(
        repr(sorted(fk.items())) for fk in inspect(engine).get_foreign_keys("search_documents")
    )
