"""`make bench`: the hub next to the reference registry, plus its memory, redirect and
scale-out figures, in one run on this machine.

    .venv/bin/python benchmarks/bench.py [--rounds 5] [--skip zb scaleout ...]

1. targets: plain `wasm-hub serve` (its defaults: one worker per CPU, access log on) and Debian's
   `docker-registry` (distribution 2.8.2, its shipped logging: info level, access log on), both
   on filesystem storage, HUB_AUTH=none / no auth. Manifest GET, blob GET 1 MiB and 10 MiB, and
   monolithic push 1 MiB at 16 keep-alive connections, in alternating rounds (compare.py);
   the ratio is the median of the per-round-pair ratios.
2. zb: zot's zb workload (zb.py) on both, same client, same order, 16 connections.
   Peak memory of each server over sections 1-2 (RSS summed over the process tree, and PSS).
3. memory: 1 GiB pushed in chunks, pulled, and pushed again as one PUT (memory.py).
4. redirect: the hub on S3 (SeaweedFS) with HUB_S3_REDIRECT: the hub's CPU per blob GET
   (answered with a 307 to a presigned URL) and its latency with one client.
5. scale-out: replicas (one worker each) on PostgreSQL + a multi-node SeaweedFS (master, two
   volume servers, filer, two S3 gateways; tests/support/seaweed_cluster.py): zb throughput
   with one replica, then two.

Prints one report and writes benchmarks/results/<date>-bench.{md,json}. Exit 1 when a target
is missed or a request failed. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import compare  # noqa: E402
import memory  # noqa: E402
import zb  # noqa: E402
from harness import (  # noqa: E402
    RESULTS,
    Hub,
    Reference,
    Server,
    environment_info,
    process_tree,
    today,
    tree_cpu,
    tree_pss,
    tree_rss,
)

MB = 1_000_000
TARGET_KEYS = ["manifest_get", "blob_get_1m", "blob_get_10m", "push_1m"]
ZB_TESTS = [
    "catalog",
    "manifest",
    "push-mono-1m",
    "push-mono-10m",
    "push-mono-100m",
    "push-chunk-1m",
    "push-chunk-10m",
    "push-chunk-100m",
    "pull-1m",
    "pull-10m",
    "pull-100m",
    "pull-mixed",
    "mixed-1m",
    "mixed-10m",
]
MEMORY_CEILING_MB = 200
REDIRECT_CEILING_MS = 2.0
SECTIONS = ("targets", "zb", "memory", "redirect", "scaleout")


class PeakMemory(threading.Thread):
    """Peak RSS (summed over the tree) and peak PSS of a server, sampled every 200 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.rss = 0
        self.pss = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.rss = max(self.rss, tree_rss(self.pid))
            self.pss = max(self.pss, tree_pss(self.pid))
            self._halt.wait(0.2)

    def stop(self) -> dict[str, float]:
        self._halt.set()
        self.join(5)
        return {"peak_rss_mb": round(self.rss / MB, 1), "peak_pss_mb": round(self.pss / MB, 1)}


def median_ratio(row: dict[str, Any]) -> float | None:
    """Median over rounds of hub/reference throughput (round n of each side ran back to back)."""
    pairs = [
        h / r
        for h, r in zip(row["hub"]["rounds_rps"], row["reference"]["rounds_rps"], strict=False)
        if r
    ]
    return round(statistics.median(pairs), 3) if pairs else None


# --- sections -------------------------------------------------------------------------------


def targets_and_zb(args: argparse.Namespace, tmp: Path, out: dict[str, Any]) -> None:
    hub = Hub(tmp / "hub")
    ref = Reference(tmp / "reference", shipped_logging=True)
    pool = ProcessPoolExecutor(compare.CLIENT_PROCS, mp_context=get_context("spawn"))
    with ExitStack() as stack:
        stack.callback(pool.shutdown, cancel_futures=True)
        stack.enter_context(hub)
        stack.enter_context(ref)
        peaks = {"hub": PeakMemory(hub.pid), "reference": PeakMemory(ref.pid)}
        for sampler in peaks.values():
            sampler.start()
        out["servers"] = {
            "hub_workers": hub.expected_workers,
            "hub_pids": len(process_tree(hub.pid)),
        }
        if "targets" not in args.skip:
            list(pool.map(compare.ready, range(compare.CLIENT_PROCS)))
            scenarios = [s for s in compare.SCENARIOS if s.key in TARGET_KEYS]
            rows, single_post = compare.compare(
                hub, ref, pool, scenarios, args.rounds, 1.0, args.window
            )
            for row in rows:
                row["median_ratio"] = median_ratio(row)
            out["targets"] = {"rows": rows, "single_post": single_post}
        if "zb" not in args.skip:
            out["zb"] = run_zb(args, hub, ref)
        out["peak_memory"] = {side: s.stop() for side, s in peaks.items()}


def run_zb(args: argparse.Namespace, hub: Server, ref: Server) -> dict[str, Any]:
    seeded = {
        side: zb.seed(server.url, zb.sizes_needed(ZB_TESTS), "zb/bench")
        for side, server in (("hub", hub), ("reference", ref))
    }
    rows = []
    with zb.Runner() as runner:
        for n, test in enumerate(ZB_TESTS):
            # Rounds alternate which side goes first, as in the targets; the row shows the
            # round with the median hub/reference ratio (a single short run swings with
            # whatever else the machine is doing).
            rounds: list[tuple[float, dict[str, Any]]] = []
            for r in range(args.zb_rounds):
                sides: dict[str, Any] = {}
                order = [("hub", hub), ("reference", ref)]
                for side, server in order if (n + r) % 2 == 0 else order[::-1]:
                    os.sync()
                    cpu: dict[str, float] = {}

                    def window(
                        edge: str, pid: int = server.pid, cpu: dict[str, float] = cpu
                    ) -> None:
                        cpu[edge] = tree_cpu(pid)

                    requests = zb.default_requests(test, args.zb_requests)
                    result = runner.run(
                        [server.url], zb.Seeded(**seeded[side].__dict__), test, 16, requests, window
                    )
                    result["server_cpu_ms"] = (
                        round(1000 * (cpu["end"] - cpu["start"]) / result["requests"], 2)
                        if result["requests"]
                        else None
                    )
                    sides[side] = result
                ref_rps = sides["reference"]["rps"]
                rounds.append((sides["hub"]["rps"] / ref_rps if ref_rps else 0.0, sides))
            ordered = sorted(rounds, key=lambda pair: pair[0])
            ratio, sides = ordered[len(ordered) // 2]
            rows.append(
                {
                    "test": test,
                    "ratio": round(ratio, 3) if ratio else None,
                    "round_ratios": [round(x, 3) for x, _ in rounds],
                    **sides,
                }
            )
            print(
                f"zb {test}: hub {sides['hub']['rps']} req/s, reference "
                f"{sides['reference']['rps']} req/s, ratio {zb.fmt(ratio, 2)} "
                f"(rounds: {', '.join(zb.fmt(x, 2) for x, _ in rounds)})",
                flush=True,
            )
    return {
        "concurrency": 16,
        "requests": args.zb_requests,
        "rounds": args.zb_rounds,
        "rows": rows,
    }


def run_memory(out: dict[str, Any]) -> None:
    result = memory.measure(1024, 16, None)
    result.pop("timeline", None)
    out["memory"] = result
    print(
        f"memory: 1 GiB push/pull/push, peak PSS {result['peak_mb']:.1f} MB, peak RSS sum "
        f"{result['peak_rss_mb']:.1f} MB",
        flush=True,
    )


def run_redirect(tmp: Path, out: dict[str, Any]) -> None:
    from tests.support.seaweed import SeaweedFS

    weed = SeaweedFS(tmp / "seaweed")
    s3 = weed.start()
    try:
        hub = Hub(tmp / "hub-s3", env=s3.hub_env(s3.bucket, "hub", redirect=True))
        with hub:
            seeded = zb.seed(hub.url, ["1m"], "zb/redirect")
            path = f"/v2/zb/redirect/blobs/{seeded.blobs['1m']}"
            one = redirect_gets(hub, path, clients=1, requests=300)
            many = redirect_gets(hub, path, clients=16, requests=3000)
        out["redirect"] = {"one_client": one, "sixteen_clients": many}
        print(
            f"redirect: p50 {one['p50_ms']} ms (1 client), hub CPU {many['server_cpu_ms']} ms "
            f"per GET at 16 clients",
            flush=True,
        )
    finally:
        weed.stop()


def redirect_gets(hub: Hub, path: str, clients: int, requests: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    left = [requests]

    def worker() -> None:
        with httpx.Client(base_url=hub.url, timeout=30) as client:
            client.get(path)  # connect outside the window
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                began = time.perf_counter()
                r = client.get(path)
                took = time.perf_counter() - began
                with lock:
                    if r.status_code == 307 and r.headers.get("location", "").startswith("http"):
                        latencies.append(took)
                    else:
                        errors.append(f"{r.status_code} {r.text[:100]}")

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    cpu0, t0 = tree_cpu(hub.pid), time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds, cpu = time.monotonic() - t0, tree_cpu(hub.pid) - cpu0
    ordered = sorted(latencies)
    return {
        "clients": clients,
        "requests": len(ordered),
        "rps": round(len(ordered) / seconds, 1),
        "p50_ms": round(zb.percentile(ordered, 50), 3),
        "p99_ms": round(zb.percentile(ordered, 99), 3),
        "server_cpu_ms": round(1000 * cpu / len(ordered), 3) if ordered else None,
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def run_scaleout(args: argparse.Namespace, tmp: Path, out: dict[str, Any]) -> None:
    from hub.db.engine import make_engine
    from hub.db.migrate import upgrade
    from tests.support.postgres import fresh_database
    from tests.support.seaweed_cluster import seaweed_cluster

    tests = ["manifest", "pull-1m", "push-mono-1m", "mixed-1m"]
    with ExitStack() as stack:
        cluster = stack.enter_context(seaweed_cluster(tmp / "cluster"))
        database_url = stack.enter_context(fresh_database("hub_bench"))
        engine = make_engine(database_url)
        upgrade(engine)
        engine.dispose()
        secret = os.urandom(16).hex()
        replicas = []
        for n, gateway in enumerate(cluster.gateways):
            env = {
                **gateway.hub_env(cluster.bucket, "hub"),
                "HUB_DATABASE_URL": database_url,
                "HUB_SECRET_KEY": secret,
            }
            replicas.append(stack.enter_context(Hub(tmp / f"replica-{n}", workers=1, env=env)))
        seeded = zb.seed(replicas[0].url, ["1m"], "zb/scale")
        rows = []
        with zb.Runner() as runner:
            for count in (1, 2):
                urls = [r.url for r in replicas[:count]]
                for test in tests:
                    result = runner.run(urls, seeded, test, 16, args.zb_requests)
                    result["replicas"] = count
                    rows.append(result)
                    print(
                        f"scale-out {count} replica(s) {test}: {result['rps']} req/s, "
                        f"errors {result['errors']}",
                        flush=True,
                    )
        out["scaleout"] = {
            "layout": [n.name for n in cluster.nodes],
            "data_nodes": cluster.data_nodes(),
            "rows": rows,
        }


# --- report ---------------------------------------------------------------------------------


def verdicts(out: dict[str, Any]) -> list[tuple[str, bool, str]]:
    found = []

    def at_least_one(title: str, ratio: float | None, detail: str = "") -> None:
        found.append((f"{title}: hub/reference >= 1.0", ratio is not None and ratio >= 1.0, detail))

    for row in out.get("targets", {}).get("rows", []):
        at_least_one(row["title"], row["median_ratio"], f"{row['median_ratio']}")
    for row in out.get("zb", {}).get("rows", []):
        rounds = ", ".join(str(x) for x in row.get("round_ratios", []))
        detail = f"{row['ratio']} (rounds: {rounds})"
        at_least_one(f"zb {row['hub']['title']}", row["ratio"], detail)
    if "memory" in out:
        m = out["memory"]
        found.append(
            (
                f"1 GiB push + pull + push: peak memory < {MEMORY_CEILING_MB} MB (PSS)",
                m["passed"],
                f"{m['peak_mb']:.1f} MB PSS ({m['peak_rss_mb']:.1f} MB RSS summed)",
            )
        )
    if "redirect" in out:
        r = out["redirect"]
        # What a GET costs the hub: its CPU time per GET (all workers, the supervisor
        # included) at 16 connections; latency, which on a shared machine mostly measures the
        # wait for a core, is reported beside it.
        cost = r["sixteen_clients"]["server_cpu_ms"]
        errors = r["one_client"]["errors"] + r["sixteen_clients"]["errors"]
        found.append(
            (
                f"blob GET with HUB_S3_REDIRECT costs the hub < {REDIRECT_CEILING_MS} ms of CPU",
                cost is not None and cost < REDIRECT_CEILING_MS and not errors,
                f"p50 {r['one_client']['p50_ms']} ms (1 client); "
                f"{r['sixteen_clients']['server_cpu_ms']} ms CPU per GET (16 clients)",
            )
        )
    return found


def report(out: dict[str, Any]) -> str:
    env = out["environment"]
    lines = [
        f"# `make bench` — {env['date']}",
        "",
        f"Hub commit {env['hub_commit']}{' (hub/ modified)' if env['hub_tree_dirty'] else ''}; "
        f"reference `{env['reference']}`. Machine: {env['cpus']} x {env['cpu_model']}, "
        f"{env['memory_gib']} GiB, shared with other jobs: load average "
        f"{env['loadavg_start']} at start, {out.get('loadavg_end')} at end.",
        "",
    ]
    if "targets" in out:
        lines += [
            "## Targets: hub (plain `wasm-hub serve`) vs reference, 16 connections",
            "",
            f"{out['rounds']} rounds per side, alternating; {out['window']} s measured per round. "
            "**ratio** = median over rounds of hub/reference req/s (>1: hub faster).",
            "",
            "| scenario | hub req/s | ref req/s | **ratio** | hub p50 ms | ref p50 ms "
            "| hub p99 ms | ref p99 ms | server CPU ms/req hub / ref | errors |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for row in out["targets"]["rows"]:
            h, r = row["hub"], row["reference"]
            lines.append(
                f"| {row['title']} | {zb.fmt(h['rps'])} | {zb.fmt(r['rps'])} "
                f"| **{zb.fmt(row['median_ratio'], 2)}** | {zb.fmt(h['p50_ms'], 2)} "
                f"| {zb.fmt(r['p50_ms'], 2)} | {zb.fmt(h['p99_ms'], 2)} | {zb.fmt(r['p99_ms'], 2)} "
                f"| {zb.fmt(h['server_cpu_ms_per_req'], 2)} / "
                f"{zb.fmt(r['server_cpu_ms_per_req'], 2)} | {h['errors']} / {r['errors']} |"
            )
        lines.append("")
    if "zb" in out:
        lines += [
            "## zb workload, hub vs reference, 16 connections",
            "",
            f"{out['zb'].get('rounds', 1)} rounds per test, alternating which side goes first; "
            "each row is the round with the median hub/reference ratio (all rounds' ratios in "
            "the last column).",
            "",
            "| test | hub req/s | ref req/s | ratio | hub MB/s | ref MB/s | hub p50 / p90 / p99 ms "
            "| ref p50 / p90 / p99 ms | server CPU ms/req hub / ref | errors | round ratios |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for row in out["zb"]["rows"]:
            h, r = row["hub"], row["reference"]
            lines.append(
                f"| {h['title']} ({h['requests']} req) | {zb.fmt(h['rps'])} | {zb.fmt(r['rps'])} "
                f"| {zb.fmt(row['ratio'], 2)} | {zb.fmt(h['mb_per_s'])} | {zb.fmt(r['mb_per_s'])} "
                f"| {zb.fmt(h['p50_ms'])} / {zb.fmt(h['p90_ms'])} / {zb.fmt(h['p99_ms'])} "
                f"| {zb.fmt(r['p50_ms'])} / {zb.fmt(r['p90_ms'])} / {zb.fmt(r['p99_ms'])} "
                f"| {zb.fmt(h['server_cpu_ms'], 2)} / {zb.fmt(r['server_cpu_ms'], 2)} "
                f"| {h['errors']} / {r['errors']} "
                f"| {', '.join(zb.fmt(x, 2) for x in row.get('round_ratios', []))} |"
            )
        lines.append("")
    if "peak_memory" in out:
        pm = out["peak_memory"]
        lines += [
            "Peak server memory over the runs above (RSS summed over the process tree; PSS "
            "counts pages shared between the hub's forked workers once): "
            f"hub {pm['hub']['peak_rss_mb']} MB RSS / {pm['hub']['peak_pss_mb']} MB PSS "
            f"({out['servers']['hub_workers']} workers + supervisor); reference "
            f"{pm['reference']['peak_rss_mb']} MB RSS / {pm['reference']['peak_pss_mb']} MB PSS.",
            "",
        ]
    if "memory" in out:
        m = out["memory"]
        phases = ", ".join(f"{p} {v / MB:.1f}" for p, v in m["peak_by_phase_pss"].items())
        lines += [
            "## Memory: 1 GiB",
            "",
            f"Plain `wasm-hub serve` ({m['workers']} workers): 1 GiB pushed as {m['patches']} "
            f"PATCHes of {m['chunk_mib']} MiB + PUT, pulled, then another 1 GiB pushed as one PUT. "
            f"Peak **{m['peak_mb']:.1f} MB PSS** ({m['peak_rss_mb']:.1f} MB RSS summed over the "
            f"tree; idle {m['idle_mb']:.1f} MB PSS). By phase (PSS MB): {phases}. Seconds: "
            f"PATCHes {m['patch_s']:.1f}, PUT {m['put_s']:.1f}, GET {m['pull_s']:.1f}, "
            f"monolithic PUT {m['mono_s']:.1f}."
            + (f" Error: {m['error']}" if m.get("error") else ""),
            "",
        ]
    if "redirect" in out:
        one, many = out["redirect"]["one_client"], out["redirect"]["sixteen_clients"]
        lines += [
            "## Blob GET with HUB_S3_REDIRECT (SeaweedFS)",
            "",
            f"307 to a presigned URL: p50 {one['p50_ms']} ms, p99 {one['p99_ms']} ms with one "
            f"client ({one['server_cpu_ms']} ms hub CPU per GET); {many['rps']} GETs/s with 16 "
            f"clients at **{many['server_cpu_ms']} ms hub CPU per GET**; errors "
            f"{one['errors'] + many['errors']}.",
            "",
        ]
    if "scaleout" in out:
        s = out["scaleout"]
        lines += [
            "## Scale-out: replicas on PostgreSQL + multi-node SeaweedFS",
            "",
            f"SeaweedFS: {', '.join(s['layout'])} ({len(s['data_nodes'])} volume servers); "
            "each replica is `wasm-hub serve --workers 1` on its own S3 gateway; 16 connections "
            "spread over the replicas.",
            "",
            "| test | 1 replica req/s | 2 replicas req/s | 2/1 | errors |",
            "|---|--:|--:|--:|--:|",
        ]
        by = {(r["test"], r["replicas"]): r for r in s["rows"]}
        for test in dict.fromkeys(r["test"] for r in s["rows"]):
            one, two = by.get((test, 1)), by.get((test, 2))
            if one and two:
                gain = two["rps"] / one["rps"] if one["rps"] else None
                lines.append(
                    f"| {one['title']} | {zb.fmt(one['rps'])} | {zb.fmt(two['rps'])} "
                    f"| {zb.fmt(gain, 2)} | {one['errors']} / {two['errors']} |"
                )
        lines.append("")
    lines += ["## Verdicts", ""]
    for name, ok, detail in verdicts(out):
        lines.append(f"- {'PASS' if ok else 'FAIL'} — {name}: {detail}")
    for section, error in out.get("errors", {}).items():
        lines.append(f"- ERROR in {section}: {error}")
    return "\n".join(lines) + "\n"


def readme_block(out: dict[str, Any], results_name: str) -> str:
    """The summary README.md keeps (between its bench:latest markers)."""
    env = out["environment"]
    lines = [
        f"Latest `make bench`: {env['date'][:16].replace('T', ' ')} UTC, hub commit "
        f"{env['hub_commit']}, load average {env['loadavg_start'][0]} at start and "
        f"{(out.get('loadavg_end') or ['?'])[0]} at end (2 cores shared with other jobs; "
        f"full report `benchmarks/results/{results_name}`).",
        "",
    ]
    if "targets" in out:
        lines += [
            "| 16 connections | hub req/s | reference req/s | **hub/reference** (median of "
            f"{out['rounds']} rounds) | server CPU ms/req hub / ref |",
            "|---|--:|--:|--:|--:|",
        ]
        for row in out["targets"]["rows"]:
            h, r = row["hub"], row["reference"]
            lines.append(
                f"| {row['title']} | {zb.fmt(h['rps'])} | {zb.fmt(r['rps'])} "
                f"| **{zb.fmt(row['median_ratio'], 2)}** | {zb.fmt(h['server_cpu_ms_per_req'], 2)} "
                f"/ {zb.fmt(r['server_cpu_ms_per_req'], 2)} |"
            )
        lines.append("")
    if "zb" in out:
        ratios = [row["ratio"] for row in out["zb"]["rows"] if row["ratio"] is not None]
        lines.append(
            f"zb workload (14 tests, 16 connections, median of {out['zb'].get('rounds', 1)} "
            "rounds each): hub/reference ratio median "
            f"{statistics.median(ratios):.2f}, range {min(ratios):.2f}-{max(ratios):.2f}."
            if ratios
            else "zb workload: no ratios."
        )
    if "peak_memory" in out:
        pm = out["peak_memory"]
        lines.append(
            f"Peak memory over those runs: hub {pm['hub']['peak_pss_mb']} MB PSS "
            f"({pm['hub']['peak_rss_mb']} MB RSS summed over supervisor + workers), reference "
            f"{pm['reference']['peak_rss_mb']} MB RSS."
        )
    for name, ok, detail in verdicts(out):
        lines.append(f"- {'PASS' if ok else 'FAIL'}: {name} — {detail}")
    if "scaleout" in out:
        by = {(r["test"], r["replicas"]): r["rps"] for r in out["scaleout"]["rows"]}
        parts = [
            f"{t} {zb.fmt(by[(t, 1)])} -> {zb.fmt(by[(t, 2)])} req/s"
            for t in dict.fromkeys(r["test"] for r in out["scaleout"]["rows"])
            if (t, 1) in by and (t, 2) in by
        ]
        lines.append(f"- Scale-out, one -> two replicas: {'; '.join(parts)}.")
    for section, error in out.get("errors", {}).items():
        lines.append(f"- ERROR in {section}: {error[:200]}")
    return "\n".join(lines)


def update_readme(block: str) -> None:
    path = HERE.parent / "README.md"
    text = path.read_text()
    start, end = "<!-- bench:latest -->\n", "<!-- /bench:latest -->"
    if start not in text or end not in text:
        print("README.md has no bench:latest markers; not updated", file=sys.stderr)
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}{block}\n{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per side for the targets")
    parser.add_argument("--window", type=float, default=4.0, help="seconds measured per round")
    parser.add_argument("--zb-requests", type=int, default=160, help="per zb test (100 MB: /10)")
    parser.add_argument(
        "--zb-rounds", type=int, default=3, help="rounds per zb test; the median ratio counts"
    )
    parser.add_argument("--skip", nargs="*", default=[], choices=SECTIONS)
    parser.add_argument(
        "--update-readme", action="store_true", help="put the summary in README.md (make bench)"
    )
    args = parser.parse_args(argv)
    out: dict[str, Any] = {
        "environment": environment_info(),
        "rounds": args.rounds,
        "window": args.window,
        "errors": {},
    }
    started = time.monotonic()
    steps = [
        ("targets+zb", lambda tmp: targets_and_zb(args, tmp, out), {"targets", "zb"}),
        ("memory", lambda tmp: run_memory(out), {"memory"}),
        ("redirect", lambda tmp: run_redirect(tmp, out), {"redirect"}),
        ("scaleout", lambda tmp: run_scaleout(args, tmp, out), {"scaleout"}),
    ]
    for name, step, keys in steps:
        if keys <= set(args.skip):
            continue
        with tempfile.TemporaryDirectory(prefix=f"hub-bench-{name}-") as tmp:
            try:
                step(Path(tmp))
            except Exception as exc:  # noqa: BLE001 - reported; the run fails
                out["errors"][name] = repr(exc)[:2000]
                print(f"{name} failed: {exc!r}", file=sys.stderr, flush=True)
    out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    out["elapsed_s"] = round(time.monotonic() - started, 1)
    text = report(out)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{today()}-bench.md").write_text(text)
    (RESULTS / f"{today()}-bench.json").write_text(json.dumps(out, indent=1, default=str) + "\n")
    print()
    print(text)
    print(f"wrote {RESULTS / (today() + '-bench.md')} in {out['elapsed_s']} s")
    if args.update_readme:
        update_readme(readme_block(out, f"{today()}-bench.md"))
    failed_requests = any(
        row[side]["errors"]
        for section in ("targets", "zb")
        for row in out.get(section, {}).get("rows", [])
        for side in ("hub", "reference")
    )
    ok = all(v[1] for v in verdicts(out)) and not out["errors"] and not failed_requests
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
