"""Throughput and latency of the hub next to the reference registry (distribution 2.8).

    .venv/bin/python benchmarks/compare.py [--quick]

Starts `wasm-hub serve --workers 2` (SQLite + filesystem storage, HUB_AUTH=none) and Debian's
`docker-registry` (filesystem storage) on 127.0.0.1, seeds both with the same content, then
runs every scenario against both with the same client code: CLIENT_PROCS processes x
THREADS_PER_PROC threads, one keep-alive httpx connection per thread. Each scenario runs in
rounds that alternate hub/reference (ABBA...), so background load hits both sides alike;
each round has a warm-up, then a measured window bounded by time and by request count.

Results: benchmarks/results/<date>-compare.{md,json} (`-compare-quick` with --quick).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (  # noqa: E402
    RESULTS,
    Hub,
    Reference,
    Server,
    environment_info,
    today,
    tree_cpu,
)

REPO = "bench/app"
TAG = "latest"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MIB = 1024 * 1024
CLIENT_PROCS = 2
THREADS_PER_PROC = 8
CLIENTS = CLIENT_PROCS * THREADS_PER_PROC
MAX_ERRORS_PER_THREAD = 20


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    # Upper bound on requests per round, all clients together (keeps disk use and time bounded).
    max_requests: int
    bytes_per_request: int = 0
    # (processes, threads per process): one keep-alive connection per thread.
    clients: tuple[int, int] = (CLIENT_PROCS, THREADS_PER_PROC)


SCENARIOS = [
    Scenario("manifest_get", "manifest GET by tag", 40_000),
    # One connection, one request at a time: the bare per-request latency, no queueing.
    Scenario("manifest_get_1c", "manifest GET by tag, 1 client", 10_000, clients=(1, 1)),
    Scenario("blob_get_1m", "blob GET 1 MiB", 8_000, MIB),
    Scenario("blob_get_10m", "blob GET 10 MiB", 1_200, 10 * MIB),
    Scenario("push_1m", "monolithic push 1 MiB (fewest round trips)", 800, MIB),
    Scenario("push_1m_put", "monolithic push 1 MiB (POST + PUT, both)", 800, MIB),
]


@dataclass
class Target:
    """What a client process needs to know about one registry."""

    name: str
    url: str
    blob_1m: str
    blob_10m: str
    # distribution 2.8 ignores ?digest= on POST (answers 202 and drops the body), so its
    # fewest-round-trip monolithic push is POST then PUT ?digest=.
    single_post_push: bool


# --- the client (runs in worker processes) ---------------------------------------------------


class UnexpectedResponse(Exception):
    pass


def _expect(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise UnexpectedResponse(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:200]!r}"
        )
    return response


def _with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def make_operation(scenario: str, client: httpx.Client, target: Target) -> Callable[[], None]:
    if scenario in ("manifest_get", "manifest_get_1c"):
        path = f"/v2/{REPO}/manifests/{TAG}"
        headers = {"Accept": OCI_MANIFEST}

        def get_manifest() -> None:
            response = _expect(client.get(path, headers=headers), 200)
            if not response.content:
                raise UnexpectedResponse("empty manifest")

        return get_manifest

    if scenario in ("blob_get_1m", "blob_get_10m"):
        digest, size = (
            (target.blob_1m, MIB) if scenario == "blob_get_1m" else (target.blob_10m, 10 * MIB)
        )
        path = f"/v2/{REPO}/blobs/{digest}"

        def get_blob() -> None:
            with client.stream("GET", path) as response:
                _expect(response, 200)
                received = 0
                for chunk in response.iter_raw(MIB):
                    received += len(chunk)
            if received != size:
                raise UnexpectedResponse(f"blob GET returned {received} bytes, not {size}")

        return get_blob

    if scenario in ("push_1m", "push_1m_put"):
        # Distinct blobs at near-zero client cost: a random 1 MiB prefix per thread, hashed once,
        # plus a unique 32-byte suffix per push, hashed from a copy of the prefix's state.
        prefix = os.urandom(MIB - 32)
        prefix_hash = hashlib.sha256(prefix)
        single_post = scenario == "push_1m" and target.single_post_push
        uploads = f"/v2/{REPO}/blobs/uploads/"
        octets = {"Content-Type": "application/octet-stream"}

        def push() -> None:
            suffix = uuid.uuid4().hex.encode()
            hasher = prefix_hash.copy()
            hasher.update(suffix)
            digest = f"sha256:{hasher.hexdigest()}"
            body = prefix + suffix
            if single_post:
                _expect(
                    client.post(uploads, params={"digest": digest}, content=body, headers=octets),
                    201,
                )
                return
            started = _expect(client.post(uploads), 202)
            location = started.headers["location"]
            _expect(client.put(_with_digest(location, digest), content=body, headers=octets), 201)

        return push

    raise ValueError(f"unknown scenario {scenario}")


def client_round(task: dict[str, Any]) -> dict[str, Any]:
    """One process's share of a round: THREADS_PER_PROC threads, each warm up then measure."""
    target = Target(**task["target"])
    warm_until, start_at, end_at = task["warm_until"], task["start_at"], task["end_at"]
    per_thread = task["max_per_thread"]
    out: list[dict[str, Any]] = []
    lock = threading.Lock()

    def worker() -> None:
        latencies: list[float] = []
        errors: list[str] = []
        with httpx.Client(
            base_url=target.url,
            timeout=60,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        ) as client:
            op = make_operation(task["scenario"], client, target)
            warm = 0
            while warm == 0 or time.monotonic() < warm_until:
                try:
                    op()
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    errors.append(f"warm-up: {exc!r}")
                    if len(errors) >= MAX_ERRORS_PER_THREAD:
                        break
                warm += 1
            time.sleep(max(0.0, start_at - time.monotonic()))
            while len(latencies) < per_thread and len(errors) < MAX_ERRORS_PER_THREAD:
                began = time.monotonic()
                # At least one measured request per connection, so a window that a slow first
                # request overran (a busy machine) still measures something on both sides.
                if began >= end_at and latencies:
                    break
                try:
                    op()
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    errors.append(repr(exc))
                    continue
                latencies.append(time.monotonic() - began)
            done = time.monotonic()
        with lock:
            out.append({"latencies": latencies, "errors": errors, "done_at": done, "warm": warm})

    threads = [threading.Thread(target=worker) for _ in range(task["threads"])]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, start_at - time.monotonic()))
    cpu_start = time.process_time()
    for thread in threads:
        thread.join()
    return {
        "latencies": [x for r in out for x in r["latencies"]],
        "errors": [e for r in out for e in r["errors"]],
        "done_at": max(r["done_at"] for r in out),
        "warm_requests": sum(r["warm"] for r in out),
        "client_cpu": time.process_time() - cpu_start,
    }


def ready(_: int) -> int:
    """A no-op task: submitting CLIENT_PROCS of these at once starts every client process (and
    its imports) before the first timed round."""
    time.sleep(0.5)
    return os.getpid()


# --- seeding and checks ----------------------------------------------------------------------


def push_blob(client: httpx.Client, data: bytes) -> str:
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    started = _expect(client.post(f"/v2/{REPO}/blobs/uploads/"), 202)
    _expect(
        client.put(
            _with_digest(started.headers["location"], digest),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        ),
        201,
    )
    return digest


def seed(server: Server, blob_1m: bytes, blob_10m: bytes, config: bytes) -> dict[str, str]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        digests = {
            "config": push_blob(client, config),
            "blob_1m": push_blob(client, blob_1m),
            "blob_10m": push_blob(client, blob_10m),
        }
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": digests["config"],
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": digests["blob_1m"],
                        "size": len(blob_1m),
                    },
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": digests["blob_10m"],
                        "size": len(blob_10m),
                    },
                ],
                "annotations": {"org.opencontainers.image.title": "benchmark"},
            },
            indent=2,
        ).encode()
        _expect(
            client.put(
                f"/v2/{REPO}/manifests/{TAG}",
                content=manifest,
                headers={"Content-Type": OCI_MANIFEST},
            ),
            201,
        )
        # Read everything back once, verifying bytes, before timing anything.
        got = _expect(
            client.get(f"/v2/{REPO}/manifests/{TAG}", headers={"Accept": OCI_MANIFEST}), 200
        )
        if got.content != manifest:
            raise RuntimeError(f"{server.name}: manifest came back changed")
        for key, data in (("blob_1m", blob_1m), ("blob_10m", blob_10m)):
            body = _expect(client.get(f"/v2/{REPO}/blobs/{digests[key]}"), 200).content
            if body != data:
                raise RuntimeError(f"{server.name}: {key} came back changed")
        # Does the registry accept a single-request monolithic push (POST ?digest= + body)?
        probe = os.urandom(4096)
        digest = f"sha256:{hashlib.sha256(probe).hexdigest()}"
        answer = client.post(
            f"/v2/{REPO}/blobs/uploads/",
            params={"digest": digest},
            content=probe,
            headers={"Content-Type": "application/octet-stream"},
        )
        digests["single_post"] = (
            "yes"
            if answer.status_code == 201
            else (f"no (POST ?digest= answered {answer.status_code})")
        )
    return digests


# --- measurement -----------------------------------------------------------------------------


@dataclass
class SideResult:
    latencies: list[float] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    errors: list[str] = field(default_factory=list)
    rounds_rps: list[float] = field(default_factory=list)
    warm_requests: int = 0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
        return ordered[index] * 1000

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self, bytes_per_request: int) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "mib_per_s": round(self.rps * bytes_per_request / MIB, 1)
            if bytes_per_request
            else None,
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "server_cpu_ms_per_req": round(1000 * self.server_cpu / self.requests, 3)
            if self.requests
            else None,
            "client_cpu_ms_per_req": round(1000 * self.client_cpu / self.requests, 3)
            if self.requests
            else None,
            # How busy the whole machine was with this benchmark (server + client CPU over the
            # window, per core): near 100 means the numbers are machine-bound, not server-bound.
            "busy_pct": round(
                100 * (self.server_cpu + self.client_cpu) / self.seconds / (os.cpu_count() or 1)
            )
            if self.seconds
            else None,
            "rounds_rps": [round(x, 1) for x in self.rounds_rps],
            "warm_up_requests": self.warm_requests,
            "errors": len(self.errors),
            "first_errors": self.errors[:5],
        }


def run_round(
    pool: ProcessPoolExecutor,
    server: Server,
    target: Target,
    scenario: Scenario,
    warm_s: float,
    measure_s: float,
    into: SideResult,
) -> None:
    # Push rounds leave dirty pages behind; flush them so every round starts from the same
    # writeback state instead of paying for the previous round's data.
    os.sync()
    now = time.monotonic()
    warm_until = now + 0.3 + warm_s
    start_at = warm_until + 0.1
    end_at = start_at + measure_s
    procs, threads = scenario.clients
    per_thread = max(1, scenario.max_requests // (procs * threads))
    task = {
        "target": target.__dict__,
        "scenario": scenario.key,
        "threads": threads,
        "warm_until": warm_until,
        "start_at": start_at,
        "end_at": end_at,
        "max_per_thread": per_thread,
    }
    futures = [pool.submit(client_round, task) for _ in range(procs)]
    time.sleep(max(0.0, start_at - time.monotonic()))
    cpu_before = tree_cpu(server.pid)
    parts = [f.result(timeout=measure_s + warm_s + 180) for f in futures]
    cpu_after = tree_cpu(server.pid)
    seconds = max(p["done_at"] for p in parts) - start_at
    count = sum(len(p["latencies"]) for p in parts)
    into.latencies.extend(x for p in parts for x in p["latencies"])
    into.requests += count
    into.seconds += seconds
    into.server_cpu += cpu_after - cpu_before
    into.client_cpu += sum(p["client_cpu"] for p in parts)
    into.errors.extend(e for p in parts for e in p["errors"])
    into.warm_requests += sum(p["warm_requests"] for p in parts)
    into.rounds_rps.append(count / seconds if seconds else 0.0)


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:  # None or NaN
        return "—"
    return f"{value:,.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| scenario | hub req/s | ref req/s | **hub/ref** | hub p50 ms | ref p50 ms "
        "| hub p99 ms | ref p99 ms | hub MiB/s | ref MiB/s | server CPU ms/req hub / ref "
        "| CPU busy % hub / ref | errors hub / ref |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in results["scenarios"]:
        hub, ref = row["hub"], row["reference"]
        lines.append(
            f"| {row['title']} | {fmt(hub['rps'])} | {fmt(ref['rps'])} "
            f"| **{fmt(row['throughput_ratio'], 2)}** "
            f"| {fmt(hub['p50_ms'], 2)} | {fmt(ref['p50_ms'], 2)} "
            f"| {fmt(hub['p99_ms'], 2)} | {fmt(ref['p99_ms'], 2)} "
            f"| {fmt(hub['mib_per_s'])} | {fmt(ref['mib_per_s'])} "
            f"| {fmt(hub['server_cpu_ms_per_req'], 2)} / {fmt(ref['server_cpu_ms_per_req'], 2)} "
            f"| {fmt(hub['busy_pct'], 0)} / {fmt(ref['busy_pct'], 0)} "
            f"| {hub['errors']} / {ref['errors']} |"
        )
    return "\n".join(lines)


def flags(results: dict[str, Any]) -> str:
    """Things worth a look, found mechanically."""
    found = []
    for row in results["scenarios"]:
        ratio = row["throughput_ratio"]
        if ratio is not None and ratio < 0.5:
            found.append(f"- {row['title']}: hub at {ratio:.2f}x the reference's throughput")
        for side in ("hub", "reference"):
            p50 = row[side]["p50_ms"]
            if row["clients"] == 1 and p50 == p50 and 35 <= p50 <= 50:
                found.append(
                    f"- {row['title']} ({side}): p50 {p50:.1f} ms with one client is the "
                    "~40 ms Nagle/delayed-ACK stall (TCP_NODELAY not set on the connection)"
                )
    return "\n".join(found) or "- none"


def report(results: dict[str, Any]) -> str:
    env = results["environment"]
    cfg = results["config"]
    rounds = "\n".join(
        f"- {row['title']}: hub {row['hub']['rounds_rps']}, "
        f"reference {row['reference']['rounds_rps']}"
        for row in results["scenarios"]
    )
    errors = (
        "\n".join(
            f"- {row['title']} ({side}): {err}"
            for row in results["scenarios"]
            for side in ("hub", "reference")
            for err in row[side]["first_errors"]
        )
        or "- none"
    )
    return f"""# Hub vs reference registry — {env["date"]}{" (quick)" if cfg["quick"] else ""}

Hub: `wasm-hub serve --workers {cfg["hub_workers"]}` (commit {env["hub_commit"]}\
{", hub/ modified" if env["hub_tree_dirty"] else ""}), SQLite + filesystem storage, HUB_AUTH=none.
Reference: `{env["reference"]}`, filesystem storage, inmemory blob descriptor cache.
Client: the same httpx code for both, {cfg["clients"]} concurrent keep-alive connections
({cfg["client_procs"]} processes x {cfg["threads_per_proc"]} threads), {cfg["rounds"]} rounds per
side alternating hub/reference, {cfg["warm_s"]} s warm-up + {cfg["measure_s"]} s measured per
round (capped per round at the request counts in the JSON). Machine: {env["cpus"]} x
{env["cpu_model"]}, {env["memory_gib"]} GiB; client and servers share it. Load average at start
{env["loadavg_start"]}, at end {env["loadavg_end"]}.

**hub/ref** is the throughput ratio (>1: hub faster). Latency is per completed operation at
{cfg["clients"]}-way concurrency (1 for the "1 client" row). Server CPU is the registry
process tree's user+system time in the measured windows divided by requests (independent of
the client's own cost). CPU busy % is (server + client CPU) / window / cores: near 100, the
machine (mostly the Python client) is the limit and the req/s ratio understates the gap in
server efficiency, which the server CPU column shows.

{markdown(results)}

Single-request monolithic push (POST ?digest= with the body): hub {results["single_post"]["hub"]},
reference {results["single_post"]["reference"]}. So "fewest round trips" is 1 request on the
hub and POST + PUT on the reference; the "POST + PUT, both" row is like for like.

Flags:
{flags(results)}

Per-round throughput (req/s):
{rounds}

Errors (first few per side):
{errors}

Raw numbers: `{results["json_name"]}`.
"""


def compare(
    hub: Server,
    ref: Server,
    pool: ProcessPoolExecutor,
    scenarios: list[Scenario],
    rounds: int,
    warm_s: float,
    measure_s: float,
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Seed both registries, then run each scenario in alternating rounds; returns the rows
    and whether each side took a single-POST push."""
    blob_1m, blob_10m = os.urandom(MIB), os.urandom(10 * MIB)
    config = json.dumps({"architecture": "wasm", "os": "wasip1"}).encode()
    targets: dict[str, Target] = {}
    single_post: dict[str, str] = {}
    for side, server in (("hub", hub), ("reference", ref)):
        digests = seed(server, blob_1m, blob_10m, config)
        single_post[side] = digests["single_post"]
        targets[side] = Target(
            side,
            server.url,
            digests["blob_1m"],
            digests["blob_10m"],
            single_post_push=digests["single_post"] == "yes",
        )
    rows = []
    for scenario in scenarios:
        sides = {"hub": SideResult(), "reference": SideResult()}
        servers = {"hub": hub, "reference": ref}
        for n in range(rounds):
            order = ("hub", "reference") if n % 2 == 0 else ("reference", "hub")
            for side in order:
                run_round(
                    pool,
                    servers[side],
                    targets[side],
                    scenario,
                    warm_s,
                    measure_s,
                    sides[side],
                )
        hub_s = sides["hub"].summary(scenario.bytes_per_request)
        ref_s = sides["reference"].summary(scenario.bytes_per_request)
        ratio = hub_s["rps"] / ref_s["rps"] if ref_s["rps"] else None
        rows.append(
            {
                "key": scenario.key,
                "title": scenario.title,
                "max_requests_per_round": scenario.max_requests,
                "clients": scenario.clients[0] * scenario.clients[1],
                "throughput_ratio": round(ratio, 3) if ratio else None,
                "hub": hub_s,
                "reference": ref_s,
            }
        )
        print(
            f"{scenario.title}: hub {hub_s['rps']} req/s, ref {ref_s['rps']} req/s, "
            f"ratio {fmt(ratio, 2)}; errors {hub_s['errors']}/{ref_s['errors']}",
            flush=True,
        )
    return rows, single_post


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short rounds (about a minute)")
    parser.add_argument("--only", nargs="*", help="scenario keys to run (default: all)")
    args = parser.parse_args(argv)
    rounds, warm_s, measure_s = (2, 0.5, 1.5) if args.quick else (3, 1.0, 4.0)
    unknown = set(args.only or ()) - {s.key for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; known: {[s.key for s in SCENARIOS]}")
    scenarios = [s for s in SCENARIOS if not args.only or s.key in args.only]

    env = environment_info()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        hub = Hub(Path(tmp) / "hub")
        ref = Reference(Path(tmp) / "reference")
        pool = ProcessPoolExecutor(CLIENT_PROCS, mp_context=get_context("spawn"))
        try:
            hub.start()
            ref.start()
            if len(set(pool.map(ready, range(CLIENT_PROCS)))) != CLIENT_PROCS:
                raise RuntimeError("client processes did not all start")
            rows, single_post = compare(hub, ref, pool, scenarios, rounds, warm_s, measure_s)
            for server in (hub, ref):
                if server.proc is not None and server.proc.poll() is not None:
                    print(f"{server.name} died:\n{server.tail()}", file=sys.stderr)
        finally:
            try:
                pool.shutdown(cancel_futures=True)
            finally:
                try:
                    hub.stop()
                finally:
                    ref.stop()
            hub_log, ref_log = hub.tail(2000), ref.tail(2000)
    env["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    suffix = "compare-quick" if args.quick else "compare"
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS / f"{today()}-{suffix}.json"
    md_path = RESULTS / f"{today()}-{suffix}.md"
    results = {
        "environment": env,
        "config": {
            "quick": args.quick,
            "rounds": rounds,
            "warm_s": warm_s,
            "measure_s": measure_s,
            "clients": CLIENTS,
            "client_procs": CLIENT_PROCS,
            "threads_per_proc": THREADS_PER_PROC,
            "hub_workers": hub.expected_workers,
        },
        "single_post": single_post,
        "scenarios": rows,
        "elapsed_s": round(time.monotonic() - started, 1),
        "server_log_tails": {"hub": hub_log, "reference": ref_log},
        "json_name": json_path.name,
    }
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(report(results))
    print()
    print(markdown(results))
    print(f"\nwrote {md_path} and {json_path.name} in {results['elapsed_s']} s")
    failed = any(r["hub"]["errors"] or r["reference"]["errors"] for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
