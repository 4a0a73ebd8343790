"""Limits (issue 8): HUB_MAX_BLOB_BYTES and namespace quotas answer 413 and leave nothing
behind; rate limits answer 429 with Retry-After, counted across two replicas in the database
(PostgreSQL) and in Redis."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import redis

from tests.support.postgres import fresh_database
from tests.support.pushing import push, push_blob, random_artifact, sha256
from tests.support.server import HubServer, migrate

LIMIT = 100_000


def stored(server: HubServer, digest: str) -> bool:
    hex_ = digest.split(":", 1)[1]
    return (server.workdir / "blobs" / "blobs" / "sha256" / hex_[:2] / hex_).exists()


def error_of(response: httpx.Response) -> dict[str, object]:
    errors = response.json()["errors"]
    assert isinstance(errors, list) and errors
    first: dict[str, object] = errors[0]
    return first


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """Auth on, a 100 kB blob limit; users admin and bob (password sign-in)."""
    workdir = tmp_path_factory.mktemp("limits")
    env = {"HUB_AUTH": "required", "HUB_MAX_BLOB_BYTES": str(LIMIT)}
    with HubServer(workdir, env) as server:
        for args in (("admin", "--admin"), ("bob",)):
            made = server.run("user", "create", *args, "--password-stdin", stdin="pw-secret\n")
            assert made.returncode == 0, made.stderr
        yield server


def client(server: HubServer, user: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=(user, "pw-secret"), timeout=30)


def test_blob_size_limit(guarded: HubServer) -> None:
    repository = f"bob/big{secrets.token_hex(3)}"
    big = secrets.token_bytes(LIMIT + 1)
    with client(guarded, "bob") as bob:
        # Monolithic with Content-Length: refused before the body is read.
        r = bob.post(
            f"/v2/{repository}/blobs/uploads/", params={"digest": sha256(big)}, content=big
        )
        assert r.status_code == 413
        error = error_of(r)
        assert error["code"] == "SIZE_INVALID" and "HUB_MAX_BLOB_BYTES" in str(error["message"])
        # Streamed without a length: cut off once the limit is passed.
        r = bob.post(
            f"/v2/{repository}/blobs/uploads/",
            params={"digest": sha256(big)},
            content=iter([big[:60_000], big[60_000:]]),
        )
        assert r.status_code == 413 and error_of(r)["code"] == "SIZE_INVALID"
        # Chunked: the chunk that crosses the limit is refused; what came before stays.
        started = bob.post(f"/v2/{repository}/blobs/uploads/")
        first = bob.patch(
            started.headers["location"], content=big[:60_000], headers={"Content-Range": "0-59999"}
        )
        assert first.status_code == 202
        second = bob.patch(
            first.headers["location"],
            content=big[60_000:],
            headers={"Content-Range": f"60000-{len(big) - 1}"},
        )
        assert second.status_code == 413
        assert bob.get(first.headers["location"]).headers["range"] == "0-59999"
        assert bob.head(f"/v2/{repository}/blobs/{sha256(big)}").status_code == 404
        assert not stored(guarded, sha256(big))
        # At the limit is fine.
        assert push_blob(bob, repository, big[:LIMIT], chunked=True) == sha256(big[:LIMIT])


def test_namespace_quota(guarded: HubServer) -> None:
    with client(guarded, "bob") as bob, client(guarded, "admin") as admin:
        url = "/api/v1/namespaces/bob/quota"
        before = bob.get(url).json()["used_bytes"]  # other tests push into bob/ too
        first = random_artifact("bob/quota", layers=2, max_size=20_000)
        push(bob, first, chunked=False)
        used = before + sum(len(d) for d in [first.config, *first.layers])

        # An administrator sets or raises a quota; bob, the owner, may only lower it.
        assert bob.get(url).json() == {"namespace": "bob", "quota_bytes": None, "used_bytes": used}
        r = admin.put(url, json={"quota_bytes": used + 30_000})
        assert r.status_code == 200 and r.json()["quota_bytes"] == used + 30_000
        assert bob.put(url, json={"quota_bytes": used + 90_000}).status_code == 403
        assert bob.put(url, json={"quota_bytes": None}).status_code == 403
        assert bob.put(url, json={"quota_bytes": "bogus"}).status_code == 400
        assert bob.put(url, json={"quota_bytes": used + 25_000}).json()["quota_bytes"] == (
            used + 25_000
        )
        assert admin.get("/api/v1/namespaces/nobody/quota").status_code == 404

        # A blob that does not fit: 413 DENIED with the numbers, and nothing written.
        over = secrets.token_bytes(26_000)
        for chunked in (False, True):
            with pytest.raises(AssertionError, match="413") as refused:
                push_blob(bob, "bob/quota-other", over, chunked=chunked)
            assert "DENIED" in str(refused.value) and "quota" in str(refused.value)
        assert bob.head(f"/v2/bob/quota-other/blobs/{sha256(over)}").status_code == 404
        assert not stored(guarded, sha256(over))
        assert bob.get(url).json()["used_bytes"] == used

        # What the namespace holds already costs nothing to link again; what fits, fits.
        for layer in first.layers:
            push_blob(bob, "bob/quota-other", layer, chunked=False)
        push_blob(bob, "bob/quota-other", secrets.token_bytes(20_000), chunked=True)
        assert bob.get(url).json()["used_bytes"] == used + 20_000

    # The CLI shows and sets the same numbers.
    shown = guarded.run("quota", "show", "bob")
    assert shown.returncode == 0 and f"uses {used + 20_000} bytes" in shown.stdout
    cleared = guarded.run("quota", "set", "bob", "none")
    assert cleared.returncode == 0 and "quota unlimited" in cleared.stdout
    assert guarded.run("quota", "set", "nobody", "1MiB").returncode == 1


# -- rate limits across two replicas ---------------------------------------------------------


def replicas(env: dict[str, str], base: Path, stack: ExitStack) -> tuple[HubServer, HubServer]:
    """Two `wasm-hub serve` processes over one database, started together."""
    migrate(env, base)  # once, before either starts (SQLite migrates at start otherwise)
    a, b = HubServer(base / "a", env), HubServer(base / "b", env)
    stack.callback(a.stop)
    stack.callback(b.stop)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(HubServer.start, [a, b]))
    return a, b


def fresh_window(seconds: int) -> None:
    """Start at the beginning of a fixed window, so the count does not reset mid-test."""
    left = seconds - time.time() % seconds
    if left < 15:
        time.sleep(left + 0.05)


def assert_limited(a: HubServer, b: HubServer, limit: int, auth: tuple[str, str] | None) -> None:
    with httpx.Client(timeout=30, auth=auth) as http:
        for n in range(limit):
            server = a if n % 2 == 0 else b
            assert http.get(f"{server.url}/v2/").status_code == 200, n
        for server in (a, b):
            r = http.get(f"{server.url}/v2/")
            assert r.status_code == 429
            assert error_of(r)["code"] == "TOOMANYREQUESTS"
            assert 1 <= int(r.headers["retry-after"]) <= 60
            assert http.get(f"{server.url}/healthz").status_code == 200  # probes pass


@pytest.fixture(scope="module")
def window() -> int:
    fresh_window(60)
    return 60


def test_rate_limit_shared_through_the_database(tmp_path: Path, window: int) -> None:
    with fresh_database("hub_test_ratelimit") as url, ExitStack() as stack:
        env = {
            "HUB_DATABASE_URL": url,
            "HUB_RATE_LIMIT_ADDRESS": "8",
            "HUB_RATE_LIMIT_WINDOW_SECONDS": str(window),
        }
        a, b = replicas(env, tmp_path, stack)
        assert_limited(a, b, 8, None)


def test_rate_limit_shared_through_redis(tmp_path: Path, window: int) -> None:
    prefix = f"hub-test-{secrets.token_hex(6)}:"
    store = redis.Redis(host="127.0.0.1", port=6379)
    try:
        store.ping()
    except redis.ConnectionError as exc:
        raise RuntimeError(f"Redis is required on 127.0.0.1:6379: {exc}") from None
    env = {
        "HUB_DATABASE_URL": f"sqlite:///{tmp_path}/shared.db",
        "HUB_REDIS_URL": "redis://127.0.0.1:6379/0",
        "HUB_REDIS_PREFIX": prefix,
        # Replicas share their secret (README); credentials are counted under a keyed hash.
        "HUB_SECRET_KEY": secrets.token_urlsafe(32),
        "HUB_RATE_LIMIT_ADDRESS": "40",
        "HUB_RATE_LIMIT_TOKEN": "6",
        "HUB_RATE_LIMIT_WINDOW_SECONDS": str(window),
    }
    with ExitStack() as stack:
        a, b = replicas(env, tmp_path, stack)
        stack.callback(lambda: [store.delete(k) for k in store.scan_iter(f"{prefix}*")])
        # Per credential: one token's budget is spent on both replicas...
        assert_limited(a, b, 6, ("ci", "whub_token_one"))
        # ...another credential, and anonymous clients, still get through.
        with httpx.Client(timeout=30, auth=("ci", "whub_token_two")) as other:
            assert other.get(f"{a.url}/v2/").status_code == 200
        assert httpx.get(f"{b.url}/v2/", timeout=30).status_code == 200
        # The counts live in Redis under this run's prefix, not in the database.
        keys = [k.decode() for k in store.scan_iter(f"{prefix}*")]
        assert any(k.startswith(f"{prefix}cred:") for k in keys), keys
        assert any(k.startswith(f"{prefix}addr:127.0.0.1:") for k in keys), keys
