"""A registry load tool with zot's `zb` workload, runnable against any OCI registry URL.

    .venv/bin/python benchmarks/zb.py http://127.0.0.1:5000 [-c 16] [-n 200] [--tests ...]
    .venv/bin/python benchmarks/zb.py URL1 URL2 ...   # connections spread over replicas

Tests (after zot's cmd/zb): catalog; manifest GET; push monolithic (POST, then PUT ?digest=
with the body) and push chunked (POST, PATCHes with Content-Range, PUT ?digest=) at 1, 10 and
100 MB; pull (manifest, then the blob) at 1, 10 and 100 MB; pull mixed (20% 1 MB, 70% 10 MB,
10% 100 MB); and mixed 75% pull / 25% push at 1 and 10 MB. `-c` keep-alive connections (spread
over CLIENT_PROCS processes, one thread per connection) share `-n` requests per test. Reports
requests/s, MB/s, latency min/p50/p75/p90/p99/max and errors per test.

Pushed blobs are all distinct, at near-zero client cost: each process draws one random buffer
per size, and every push appends a unique 32-byte suffix, hashed from a copy of the buffer's
hash state; bodies are sent as memoryview slices, never copied. Pulled blobs are seeded once
per registry and checked byte for byte then, so timed pulls only count bytes.

"MB" here is 10^6 bytes for throughput and the blob sizes are MiB (1, 10, 100 MiB), as in zb.
Nothing here talks to an address the caller did not give.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import httpx

MIB = 1024 * 1024
MB = 1_000_000
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SIZES = {"1m": MIB, "10m": 10 * MIB, "100m": 100 * MIB}
SUFFIX = 32
CHUNK = 10 * MIB  # PATCH size for chunked pushes
CLIENT_PROCS = 2
REPO = "zb/bench"


@dataclass(frozen=True)
class Test:
    key: str
    title: str
    # what one request moves, on average (for MB/s)
    mean_bytes: float = 0.0


TESTS = [
    Test("catalog", "catalog GET"),
    Test("manifest", "manifest GET by tag"),
    *(Test(f"push-mono-{s}", f"push monolithic {s[:-1]} MB", SIZES[s]) for s in SIZES),
    *(Test(f"push-chunk-{s}", f"push chunked {s[:-1]} MB", SIZES[s]) for s in SIZES),
    *(Test(f"pull-{s}", f"pull {s[:-1]} MB", SIZES[s]) for s in SIZES),
    Test(
        "pull-mixed", "pull mixed 20% 1 MB, 70% 10 MB, 10% 100 MB", 0.2 * MIB + 7 * MIB + 10 * MIB
    ),
    Test("mixed-1m", "pull 75% / push 25%, 1 MB", MIB),
    Test("mixed-10m", "pull 75% / push 25%, 10 MB", 10 * MIB),
]
BY_KEY = {t.key: t for t in TESTS}


class Unexpected(Exception):
    pass


def expect(response: httpx.Response, *status: int) -> httpx.Response:
    if response.status_code not in status:
        raise Unexpected(
            f"{response.request.method} {response.request.url.path}: {response.status_code} "
            f"{response.text[:200]!r}"
        )
    return response


def with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


# --- content --------------------------------------------------------------------------------


class Payloads:
    """Distinct blobs of each size without copying: a random buffer per size (per process)
    plus a unique suffix per push, its digest from a copy of the buffer's hash state."""

    def __init__(self) -> None:
        self._buffers: dict[int, tuple[bytes, Any]] = {}
        self._lock = threading.Lock()

    def _buffer(self, size: int) -> tuple[bytes, Any]:
        with self._lock:
            if size not in self._buffers:
                data = os.urandom(size - SUFFIX)
                self._buffers[size] = (data, hashlib.sha256(data))
            return self._buffers[size]

    def new(self, size: int) -> tuple[list[memoryview], str]:
        """(pieces of the body, digest) for a fresh blob of ``size`` bytes."""
        data, state = self._buffer(size)
        suffix = uuid.uuid4().hex.encode()
        hasher = state.copy()
        hasher.update(suffix)
        return [memoryview(data), memoryview(suffix)], f"sha256:{hasher.hexdigest()}"


def slices(pieces: list[memoryview], start: int, end: int) -> Iterator[memoryview]:
    """The bytes [start, end) of the concatenated pieces, as views."""
    offset = 0
    for piece in pieces:
        lo, hi = max(start, offset), min(end, offset + len(piece))
        if lo < hi:
            yield piece[lo - offset : hi - offset]
        offset += len(piece)


def body(views: Iterator[memoryview]) -> Iterator[bytes]:
    # httpx sends any bytes-like chunk from an iterator; a Content-Length header is set by the
    # caller, so the body is not sent chunked (distribution rejects chunked PATCH bodies).
    for view in views:
        for n in range(0, len(view), MIB):
            yield view[n : n + MIB]  # type: ignore[misc]


# --- operations -----------------------------------------------------------------------------


@dataclass
class Seeded:
    """What a registry was seeded with: a tagged manifest per size, and the blobs."""

    repo: str
    blobs: dict[str, str]  # size key -> digest
    tags: dict[str, str]  # size key -> tag


def push_monolithic(client: httpx.Client, repo: str, payloads: Payloads, size: int) -> str:
    pieces, digest = payloads.new(size)
    started = expect(client.post(f"/v2/{repo}/blobs/uploads/"), 202)
    expect(
        client.put(
            with_digest(started.headers["location"], digest),
            content=body(iter(pieces)),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        ),
        201,
    )
    return digest


def push_chunked(client: httpx.Client, repo: str, payloads: Payloads, size: int) -> str:
    pieces, digest = payloads.new(size)
    location = expect(client.post(f"/v2/{repo}/blobs/uploads/"), 202).headers["location"]
    for start in range(0, size, CHUNK):
        end = min(size, start + CHUNK)
        location = expect(
            client.patch(
                location,
                content=body(slices(pieces, start, end)),
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{start}-{end - 1}",
                    "Content-Length": str(end - start),
                },
            ),
            202,
        ).headers["location"]
    expect(client.put(with_digest(location, digest)), 201)
    return digest


def pull(client: httpx.Client, seeded: Seeded, key: str) -> None:
    """zb's pull: the manifest by tag, then its layer, streamed and counted."""
    manifest = expect(
        client.get(
            f"/v2/{seeded.repo}/manifests/{seeded.tags[key]}", headers={"Accept": OCI_MANIFEST}
        ),
        200,
    )
    layer = json.loads(manifest.content)["layers"][0]
    received = 0
    with client.stream("GET", f"/v2/{seeded.repo}/blobs/{layer['digest']}") as response:
        expect(response, 200)
        for chunk in response.iter_raw(MIB):
            received += len(chunk)
    if received != layer["size"]:
        raise Unexpected(f"pulled {received} bytes of {layer['size']}")


def operation(
    test: str, client: httpx.Client, seeded: Seeded, payloads: Payloads
) -> Callable[[], None]:
    rng = random.Random(os.getpid() ^ threading.get_ident())
    repo = seeded.repo
    if test == "catalog":
        return lambda: None if expect(client.get("/v2/_catalog"), 200) else None
    if test == "manifest":
        path = f"/v2/{repo}/manifests/{seeded.tags['1m']}"
        return lambda: (
            None if expect(client.get(path, headers={"Accept": OCI_MANIFEST}), 200) else None
        )
    kind, _, size_key = test.rpartition("-")
    if kind == "push-mono":
        return lambda: None if push_monolithic(client, repo, payloads, SIZES[size_key]) else None
    if kind == "push-chunk":
        return lambda: None if push_chunked(client, repo, payloads, SIZES[size_key]) else None
    if kind == "pull":
        if size_key == "mixed":

            def pull_mixed() -> None:
                roll = rng.random()
                pull(client, seeded, "1m" if roll < 0.2 else "10m" if roll < 0.9 else "100m")

            return pull_mixed
        return lambda: pull(client, seeded, size_key)
    if kind == "mixed":

        def mixed() -> None:
            if rng.random() < 0.75:
                pull(client, seeded, size_key)
            else:
                push_monolithic(client, repo, payloads, SIZES[size_key])

        return mixed
    raise ValueError(f"unknown test {test!r}")


# --- seeding --------------------------------------------------------------------------------


def seed(url: str, sizes: list[str], repo: str = REPO) -> Seeded:
    """Push one blob of each size and a manifest tagged with it; read each back once."""
    payloads = Payloads()
    blobs: dict[str, str] = {}
    tags: dict[str, str] = {}
    config = json.dumps({"architecture": "wasm", "os": "wasip1"}).encode()
    config_digest = f"sha256:{hashlib.sha256(config).hexdigest()}"
    # follow_redirects: a hub with HUB_S3_REDIRECT answers blob GETs with a 307 to S3
    with httpx.Client(base_url=url, timeout=300, follow_redirects=True) as client:
        started = expect(client.post(f"/v2/{repo}/blobs/uploads/"), 202)
        expect(
            client.put(with_digest(started.headers["location"], config_digest), content=config), 201
        )
        for key in sizes:
            size = SIZES[key]
            digest = push_monolithic(client, repo, payloads, size)
            got = hashlib.sha256()
            with client.stream("GET", f"/v2/{repo}/blobs/{digest}") as response:
                expect(response, 200)
                for chunk in response.iter_bytes(MIB):
                    got.update(chunk)
            if f"sha256:{got.hexdigest()}" != digest:
                raise Unexpected(f"{url}: the {key} blob came back changed")
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": {
                        "mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": config_digest,
                        "size": len(config),
                    },
                    "layers": [
                        {
                            "mediaType": "application/vnd.oci.image.layer.v1.tar",
                            "digest": digest,
                            "size": size,
                        }
                    ],
                }
            ).encode()
            tag = f"size-{key}"
            expect(
                client.put(
                    f"/v2/{repo}/manifests/{tag}",
                    content=manifest,
                    headers={"Content-Type": OCI_MANIFEST},
                ),
                201,
            )
            blobs[key], tags[key] = digest, tag
    return Seeded(repo, blobs, tags)


def sizes_needed(tests: list[str]) -> list[str]:
    needed = {"1m"}  # the manifest test reads the 1m tag
    for test in tests:
        if test.startswith("pull-") or test.startswith("mixed-"):
            key = test.rpartition("-")[2]
            needed |= set(SIZES) if key == "mixed" else {key}
    return [k for k in SIZES if k in needed]


# --- running --------------------------------------------------------------------------------


def _client_share(task: dict[str, Any]) -> dict[str, Any]:
    """One process's threads: each takes requests from the shared budget until it is spent."""
    seeded = Seeded(**task["seeded"])
    payloads = Payloads()
    for key in task["warm_sizes"]:  # draw the random buffers before the clock starts
        payloads.new(SIZES[key])
    budget = task["requests"]
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    counter = [0]

    def worker(n: int) -> None:
        url = task["urls"][(task["first_thread"] + n) % len(task["urls"])]
        with httpx.Client(
            base_url=url,
            timeout=600,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        ) as client:
            op = operation(task["test"], client, seeded, payloads)
            time.sleep(max(0.0, task["start_at"] - time.monotonic()))
            while True:
                with lock:
                    if counter[0] >= budget:
                        return
                    counter[0] += 1
                began = time.monotonic()
                try:
                    op()
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    with lock:
                        errors.append(repr(exc)[:300])
                    continue
                with lock:
                    latencies.append(time.monotonic() - began)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(task["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "errors": errors, "done_at": time.monotonic()}


def _ready(_: int) -> int:
    time.sleep(0.3)
    return os.getpid()


def percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index] * 1000


def summarise(
    test: Test, latencies: list[float], errors: list[str], seconds: float
) -> dict[str, Any]:
    ordered = sorted(latencies)
    done = len(ordered)
    return {
        "test": test.key,
        "title": test.title,
        "requests": done,
        "seconds": round(seconds, 3),
        "rps": round(done / seconds, 2) if seconds else 0.0,
        "mb_per_s": round(done * test.mean_bytes / MB / seconds, 1)
        if seconds and test.mean_bytes
        else None,
        "min_ms": round(ordered[0] * 1000, 2) if ordered else None,
        "p50_ms": round(percentile(ordered, 50), 2),
        "p75_ms": round(percentile(ordered, 75), 2),
        "p90_ms": round(percentile(ordered, 90), 2),
        "p99_ms": round(percentile(ordered, 99), 2),
        "max_ms": round(ordered[-1] * 1000, 2) if ordered else None,
        "errors": len(errors),
        "first_errors": errors[:3],
    }


class Runner:
    """Client processes kept across tests (their start-up is not timed)."""

    def __init__(self, procs: int = CLIENT_PROCS) -> None:
        self.procs = procs
        self.pool = ProcessPoolExecutor(procs, mp_context=get_context("spawn"))
        if len(set(self.pool.map(_ready, range(procs)))) != procs:
            raise RuntimeError("client processes did not all start")

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self,
        urls: list[str],
        seeded: Seeded,
        test: str,
        concurrency: int,
        requests: int,
        on_window: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """One test: ``requests`` operations over ``concurrency`` connections. ``on_window``
        is called with "start" and "end" around the timed part (for server CPU readings)."""
        spec = BY_KEY[test]
        procs = min(self.procs, concurrency)
        threads = [
            concurrency // procs + (1 if n < concurrency % procs else 0) for n in range(procs)
        ]
        budgets = [requests * t // concurrency for t in threads]
        budgets[0] += requests - sum(budgets)
        start_at = time.monotonic() + 0.5 + (2.0 if "100m" in test or "mixed" in test else 0.5)
        # pushes draw their random buffer before the clock starts
        warm = [test.rpartition("-")[2]] if test.startswith(("push", "mixed")) else []
        tasks = []
        first = 0
        for n in range(procs):
            tasks.append(
                {
                    "urls": urls,
                    "seeded": seeded.__dict__,
                    "test": test,
                    "threads": threads[n],
                    "first_thread": first,
                    "requests": budgets[n],
                    "start_at": start_at,
                    "warm_sizes": warm,
                }
            )
            first += threads[n]
        futures = [self.pool.submit(_client_share, t) for t in tasks]
        time.sleep(max(0.0, start_at - time.monotonic()))
        if on_window:
            on_window("start")
        parts = [f.result(timeout=3600) for f in futures]
        if on_window:
            on_window("end")
        seconds = max(p["done_at"] for p in parts) - start_at
        return summarise(
            spec,
            [x for p in parts for x in p["latencies"]],
            [e for p in parts for e in p["errors"]],
            seconds,
        )


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:
        return "—"
    return f"{value:,.{digits}f}"


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| test | requests | req/s | MB/s | min ms | p50 ms | p75 ms | p90 ms | p99 ms "
        "| max ms | errors |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['title']} | {r['requests']} | {fmt(r['rps'])} | {fmt(r['mb_per_s'])} "
            f"| {fmt(r['min_ms'], 2)} | {fmt(r['p50_ms'], 2)} | {fmt(r['p75_ms'], 2)} "
            f"| {fmt(r['p90_ms'], 2)} | {fmt(r['p99_ms'], 2)} | {fmt(r['max_ms'], 2)} "
            f"| {r['errors']} |"
        )
    return "\n".join(lines)


def default_requests(test: str, requests: int) -> int:
    """zb runs every test with the same -n; 100 MB tests get a tenth (at least the
    concurrency) so a run stays minutes, not hours, on a laptop-sized machine."""
    return max(1, requests // 10) if "100m" in test or test == "pull-mixed" else requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("urls", nargs="+", help="registry base URL(s), e.g. http://127.0.0.1:5000")
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("-n", "--requests", type=int, default=200, help="per test (100 MB: /10)")
    parser.add_argument("--tests", nargs="*", default=[t.key for t in TESTS], choices=list(BY_KEY))
    parser.add_argument("--repo", default=REPO)
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args(argv)
    seeded = seed(args.urls[0], sizes_needed(args.tests), args.repo)
    rows = []
    with Runner() as runner:
        for test in args.tests:
            row = runner.run(
                args.urls, seeded, test, args.concurrency, default_requests(test, args.requests)
            )
            rows.append(row)
            print(
                f"{row['title']}: {row['rps']} req/s, p50 {row['p50_ms']} ms, "
                f"errors {row['errors']}",
                file=sys.stderr,
                flush=True,
            )
    print(table(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {"urls": args.urls, "concurrency": args.concurrency, "rows": rows}, fh, indent=2
            )
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
