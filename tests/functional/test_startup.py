"""`wasm-hub` start-up: wrong settings stop it with a message naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.server import HubServer, free_port


def run_hub(
    args: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        env={**os.environ, "HUB_AUTH": "none", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
    )


def test_unknown_storage_scheme_names_the_choices(tmp_path: Path) -> None:
    r = run_hub(
        ["serve", "--port", str(free_port())],
        {"HUB_STORAGE_URL": "ftp://x", "HUB_DATABASE_URL": f"sqlite:///{tmp_path}/h.db"},
        tmp_path,
    )
    assert r.returncode == 2
    assert "HUB_STORAGE_URL" in r.stderr and "file://" in r.stderr and "s3://" in r.stderr


def test_unknown_database_and_unreachable_database(tmp_path: Path) -> None:
    r = run_hub(["serve"], {"HUB_DATABASE_URL": "mysql://x/y"}, tmp_path)
    assert r.returncode == 2 and "HUB_DATABASE_URL" in r.stderr and "sqlite" in r.stderr
    # nothing listens on port 1
    r = run_hub(["serve"], {"HUB_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:1/db"}, tmp_path)
    assert r.returncode == 2 and "HUB_DATABASE_URL" in r.stderr and "cannot connect" in r.stderr


def test_bad_auth_mode(tmp_path: Path) -> None:
    r = run_hub(["serve"], {"HUB_AUTH": "maybe"}, tmp_path)
    assert r.returncode == 2 and "HUB_AUTH" in r.stderr and "required" in r.stderr


def test_unmigrated_postgres_stops_with_advice(tmp_path: Path, postgres_url: str) -> None:
    from tests.support.postgres import fresh_database

    with fresh_database("hub_unmigrated") as url:
        r = run_hub(["serve", "--port", str(free_port())], {"HUB_DATABASE_URL": url}, tmp_path)
        assert r.returncode == 2 and "wasm-hub migrate" in r.stderr


def test_sqlite_is_migrated_at_start(tmp_path: Path) -> None:
    with HubServer(tmp_path, {}) as server:
        assert httpx.get(f"{server.url}/v2/").status_code == 200
    assert (tmp_path / "hub.db").exists()


def test_auth_required_by_default(tmp_path: Path) -> None:
    env = {"HUB_AUTH": "required", "HUB_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db"}
    assert run_hub(["migrate"], env, tmp_path).returncode == 0
    r = run_hub(["user", "create", "alice", "--password-stdin"], env, tmp_path, stdin="s3cret\n")
    assert r.returncode == 0, r.stderr
    with HubServer(tmp_path, env) as server:
        anonymous = httpx.get(f"{server.url}/v2/")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer realm=")
        assert anonymous.json()["errors"][0]["code"] == "UNAUTHORIZED"
        wrong = httpx.get(f"{server.url}/v2/_catalog", auth=("alice", "nope"))
        assert wrong.status_code == 401
        ok = httpx.get(f"{server.url}/v2/_catalog", auth=("alice", "s3cret"))
        assert ok.status_code == 200 and ok.json() == {"repositories": []}
        push = httpx.post(f"{server.url}/v2/alice/b/blobs/uploads/", auth=("alice", "s3cret"))
        assert push.status_code == 202  # Basic credentials straight on /v2 work too
        assert httpx.post(f"{server.url}/v2/alice/b/blobs/uploads/").status_code == 401
        # nobody pushes into a namespace that is not theirs (or does not exist)
        elsewhere = httpx.post(f"{server.url}/v2/a/b/blobs/uploads/", auth=("alice", "s3cret"))
        assert elsewhere.status_code == 404
    # the password is stored hashed, never as given
    import sqlite3

    stored = (
        sqlite3.connect(tmp_path / "hub.db")
        .execute("select password_hash from users")
        .fetchone()[0]
    )
    assert "s3cret" not in stored and stored.startswith("scrypt$")
