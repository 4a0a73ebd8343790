"""A fresh database on either backend the hub supports, for tests that run once per backend:
SQLite (a file in the test's own directory) and PostgreSQL (a new database on 127.0.0.1,
through tests.support.postgres, dropped afterwards). As a URL (``database_url``), an engine
(``open_engine``, ``engine_fixture``) or a running hub on it (``hub_on``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hub.db.engine import make_engine
from hub.db.migrate import upgrade
from tests.support.postgres import fresh_database
from tests.support.server import HubServer, migrate

BACKENDS = ["sqlite", "postgresql"]


@contextmanager
def database_url(backend: str, directory: Path, name: str) -> Iterator[str]:
    """The URL of an empty database: ``directory/<name>.db`` for SQLite, or a PostgreSQL
    database named ``hub_test_<name>_<random>`` that is dropped on exit."""
    if backend == "sqlite":
        yield f"sqlite:///{directory}/{name}.db"
        return
    with fresh_database(f"hub_test_{name}") as url:
        yield url


@contextmanager
def open_engine(url: str, migrated: bool = True) -> Iterator[Engine]:
    """An engine on ``url``, at the newest schema when ``migrated``, disposed on exit (before a
    PostgreSQL database around it is dropped)."""
    engine = make_engine(url)
    try:
        if migrated:
            upgrade(engine)
        yield engine
    finally:
        engine.dispose()


def engine_fixture(name: str, migrated: bool = True) -> Callable[..., Iterator[Engine]]:
    """A function-scoped ``engine`` fixture, run once per backend, on a fresh database; assign
    it to a module-level name ``engine`` (pytest names fixtures after their function)."""

    @pytest.fixture(params=BACKENDS)
    def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
        with (
            database_url(request.param, tmp_path, name) as url,
            open_engine(url, migrated) as found,
        ):
            yield found

    return engine


@contextmanager
def hub_on(backend: str, workdir: Path, env: dict[str, str], name: str) -> Iterator[HubServer]:
    """A running hub on a fresh database of ``backend``: SQLite (the server's own file, which
    `serve` migrates at start-up) or a new PostgreSQL database, migrated first as a deployment
    does."""
    if backend == "sqlite":
        with HubServer(workdir, env) as server:
            yield server
        return
    with database_url(backend, workdir, name) as url:
        env = {**env, "HUB_DATABASE_URL": url}
        migrate(env, workdir)
        with HubServer(workdir, env) as server:
            yield server
