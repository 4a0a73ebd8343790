"""Every Search implementation behind one fixture, so one contract suite covers them all.

Each backend gets one freshly migrated database per test session (SQLite in a temporary
file, PostgreSQL through tests.support.postgres.fresh_database); every test starts from empty
tables. Catalogs are seeded the way a push will: SQLModel rows and ``search.index()`` in the
same session, then one commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict, Unpack

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from hub.db.engine import make_engine
from hub.db.migrate import upgrade
from hub.db.models import Manifest, ManifestReference, Namespace, Repository, Tag, WasmModule
from hub.search import Search, SearchQuery, SearchResult, open_search
from tests.support.postgres import fresh_database

# Children before parents, so foreign keys never object.
TABLES = [
    "search_abis",
    "search_documents",
    "tags",
    "manifest_references",
    "manifests",
    "wasm_modules",
    "repository_blobs",
    "uploads",
    "repositories",
    "namespaces",
]
TEXT_TABLE = {"sqlite": "search_fts", "postgresql": "search_text"}
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Module:
    """A tag and the Wasm module facts of the manifest it points at."""

    tag: str
    variant: str = "compat"
    abi_versions: str = "proxy_abi_version_0_2_1"
    toolchain: str = "rustc 1.78.0"
    pushed: int = 0  # minutes after BASE_TIME
    index_manifest: bool = False  # tag an image index whose child carries the module
    # facts["load_check"]["ok"] as hub.artifacts.modules records it; "absent": no check fact
    loads: bool | None | str = "absent"

    def facts(self) -> str:
        if self.loads == "absent":
            return "{}"
        check = {"ok": self.loads, "reason": "", "abi": "0.2.x"}
        return json.dumps({"load_check": check})


class RepoFields(TypedDict, total=False):
    """What ``Catalog.stage`` takes besides the name (``add`` passes it on)."""

    description: str
    keywords: str
    readme: str
    stars: int
    pulls: int
    updated: int
    modules: tuple[Module, ...]
    private: bool


@dataclass
class Catalog:
    """Seeds repositories straight into the database and indexes them."""

    backend: str
    engine: Engine
    search: Search
    ids: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, **fields: Unpack[RepoFields]) -> int:
        """``stage`` in a session of its own, committed."""
        with Session(self.engine) as session:
            repo_id = self.stage(session, name, **fields)
            session.commit()
        return repo_id

    def stage(
        self,
        session: Session,
        name: str,
        description: str = "",
        keywords: str = "",
        readme: str = "",
        stars: int = 0,
        pulls: int = 0,
        updated: int = 0,
        modules: tuple[Module, ...] = (),
        private: bool = False,
    ) -> int:
        """Rows and index() in ``session``, uncommitted."""
        ns_name = name.split("/", 1)[0]
        namespace = session.exec(select(Namespace).where(Namespace.name == ns_name)).first()
        if namespace is None:
            namespace = Namespace(name=ns_name)
            session.add(namespace)
            session.flush()
        repo = Repository(
            name=name,
            namespace_id=namespace.id,
            description=description,
            keywords=keywords,
            readme=readme,
            stars=stars,
            pulls=pulls,
            private=private,
            updated_at=BASE_TIME + timedelta(days=updated),
        )
        session.add(repo)
        session.flush()
        assert repo.id is not None
        for module in modules:
            self._push(session, repo.id, name, module)
        self.search.index(session, repo.id)
        self.ids[name] = repo.id
        return repo.id

    def _push(self, session: Session, repo_id: int, name: str, module: Module) -> None:
        digest = "sha256:" + hashlib.sha256(f"{name}:{module.tag}".encode()).hexdigest()
        module_digest = digest
        session.add(
            Manifest(repository_id=repo_id, digest=digest, media_type="application/json", size=1)
        )
        if module.index_manifest:
            module_digest = "sha256:" + hashlib.sha256(f"{digest}/child".encode()).hexdigest()
            child = Manifest(
                repository_id=repo_id, digest=module_digest, media_type="application/json", size=1
            )
            session.add(child)
            session.flush()
            parent = session.exec(
                select(Manifest).where(Manifest.repository_id == repo_id, Manifest.digest == digest)
            ).one()
            assert parent.id is not None
            session.add(
                ManifestReference(manifest_id=parent.id, digest=module_digest, kind="manifest")
            )
        session.add(
            WasmModule(
                manifest_digest=module_digest,
                variant=module.variant,
                layer_digest=module_digest,
                module_sha256=module_digest[7:],
                module_size=1,
                abi_versions=module.abi_versions,
                toolchain=module.toolchain,
                facts=module.facts(),
            )
        )
        session.add(
            Tag(
                repository_id=repo_id,
                name=module.tag,
                manifest_digest=digest,
                updated_at=BASE_TIME + timedelta(minutes=module.pushed),
            )
        )
        session.flush()

    def query(self, q: str = "", **options: object) -> SearchResult:
        return self.search.query(SearchQuery(q=q, **options))  # type: ignore[arg-type]

    def names(self, q: str = "", **options: object) -> list[str]:
        return [hit.repository for hit in self.query(q, **options).results]

    def clear(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {TEXT_TABLE[self.backend]}"))
            for table in TABLES:
                conn.execute(text(f"DELETE FROM {table}"))
        self.ids.clear()


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("search") / "search.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgresql_engine() -> Iterator[Engine]:
    with fresh_database("hub_test_search") as url:
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest) -> Iterator[Catalog]:
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    found = Catalog(request.param, engine, open_search(engine))
    found.clear()
    yield found
    found.clear()
