"""The app in-process (Starlette's TestClient) on a migrated SQLite file or a fresh PostgreSQL
database and memory storage: for property-based tests that send hundreds of requests, where
a subprocess per example would be too slow. The same create_app() the server runs."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

with warnings.catch_warnings():
    # Starlette 1.x asks for its httpx fork (httpx2) and warns about plain httpx, which
    # serves these tests equally well.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from hub.app import create_app
from hub.config import Settings
from hub.db.engine import make_engine
from hub.db.migrate import upgrade


@contextmanager
def app_client(
    workdir: Path, database_url: str | None = None, **settings: object
) -> Iterator[TestClient]:
    url = database_url or f"sqlite:///{workdir}/hub.db"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    config = Settings(
        database_url=url,
        storage_url="memory://",
        auth=str(settings.pop("auth", "none")),
        **settings,  # type: ignore[arg-type]
    )
    # raise_server_exceptions=False: a crash is answered 500 as a real server would, so a
    # property can assert "never a 5xx" instead of stopping at the first exception.
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        yield client
