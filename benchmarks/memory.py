"""Peak server memory across a large chunked push, its full pull, and a monolithic push.

    .venv/bin/python benchmarks/memory.py [--size-mib 1024] [--chunk-mib 16]

Starts plain `wasm-hub serve` (SQLite + filesystem storage, HUB_AUTH=none) on 127.0.0.1,
then pushes one blob as POST, PATCH chunks with Content-Range, PUT ?digest=, and pulls it back
as a stream, verifying the digest, then pushes another blob of that size as one PUT. A thread
samples the memory of the server process and its children every 100 ms throughout: PSS (each
page shared by the forked workers counted once, the figure held against the ceiling) and VmRSS
summed over the processes (which counts shared pages once per process). The payload is
deterministic pseudo-random data generated chunk by chunk and hashed as it goes, so the client
never holds more than one chunk either.

Passes when the peak stays under CEILING_MB. Results: benchmarks/results/<date>-memory.{md,json}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import RESULTS, Hub, environment_info, today, tree_pss, tree_rss  # noqa: E402

MIB = 1024 * 1024
MB = 1_000_000
CEILING_MB = 200
SAMPLE_EVERY = 0.1
REPO = "bench/big"
SEED = 20240229


class Sampler(threading.Thread):
    """Samples the server tree's PSS (and summed RSS) every SAMPLE_EVERY seconds, tagging the
    current phase."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.phase = "start"
        self.samples: list[tuple[float, str, int]] = []  # (seconds, phase, PSS bytes)
        self.rss: list[int] = []  # RSS summed over the tree, per sample
        self._halt = threading.Event()
        self._t0 = time.monotonic()

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append((time.monotonic() - self._t0, self.phase, tree_pss(self.pid)))
            self.rss.append(tree_rss(self.pid))
            self._halt.wait(SAMPLE_EVERY)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def peak(self, phase: str | None = None) -> int:
        return max((rss for _, p, rss in self.samples if phase in (None, p)), default=0)


def chunks(size: int, chunk: int, seed: int = SEED) -> Iterator[bytes]:
    """Deterministic pseudo-random bytes, ``chunk`` at a time, at memcpy speed: one seeded
    random MiB, each copy of it stamped with its own offset, so no two MiB are alike and the
    client's generation cost stays out of the timings."""
    block = random.Random(seed).randbytes(MIB)
    sent = 0
    while sent < size:
        n = min(chunk, size - sent)
        data = b"".join(struct.pack(">Q", sent + at) + block[8:] for at in range(0, n, MIB))[:n]
        yield data
        sent += n


def expect(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: expected {status}, got "
            f"{response.status_code} {response.text[:300]!r}"
        )
    return response


def with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def push(client: httpx.Client, size: int, chunk: int, sampler: Sampler) -> tuple[str, dict]:
    timings: dict[str, float] = {}
    sampler.phase = "push (PATCH chunks)"
    began = time.monotonic()
    location = expect(client.post(f"/v2/{REPO}/blobs/uploads/"), 202).headers["location"]
    hasher = hashlib.sha256()
    offset = 0
    for data in chunks(size, chunk):
        hasher.update(data)
        end = offset + len(data) - 1
        answer = expect(
            client.patch(
                location,
                content=data,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{end}",
                },
            ),
            202,
        )
        if answer.headers.get("range") != f"0-{end}":
            raise RuntimeError(f"after a PATCH to {end}: Range {answer.headers.get('range')!r}")
        location = answer.headers["location"]
        offset = end + 1
    timings["patch_s"] = time.monotonic() - began
    digest = f"sha256:{hasher.hexdigest()}"
    sampler.phase = "push (PUT ?digest=)"
    began = time.monotonic()
    done = expect(client.put(with_digest(location, digest)), 201)
    timings["put_s"] = time.monotonic() - began
    if done.headers.get("docker-content-digest") != digest:
        raise RuntimeError(f"PUT answered digest {done.headers.get('docker-content-digest')}")
    return digest, timings


def push_monolithic(client: httpx.Client, size: int, chunk: int, sampler: Sampler) -> float:
    """The whole blob as one PUT body (POST, then PUT ?digest= streaming ``size`` bytes)."""
    sampler.phase = "push (one monolithic PUT)"
    hasher = hashlib.sha256()
    for data in chunks(size, chunk, SEED + 1):
        hasher.update(data)
    digest = f"sha256:{hasher.hexdigest()}"
    began = time.monotonic()
    location = expect(client.post(f"/v2/{REPO}/blobs/uploads/"), 202).headers["location"]
    expect(
        client.put(
            with_digest(location, digest),
            content=chunks(size, chunk, SEED + 1),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        ),
        201,
    )
    return time.monotonic() - began


def pull(client: httpx.Client, digest: str, size: int, sampler: Sampler) -> float:
    sampler.phase = "pull (GET stream)"
    began = time.monotonic()
    hasher = hashlib.sha256()
    received = 0
    with client.stream("GET", f"/v2/{REPO}/blobs/{digest}") as response:
        expect(response, 200)
        for part in response.iter_raw(MIB):
            hasher.update(part)
            received += len(part)
    elapsed = time.monotonic() - began
    if received != size or f"sha256:{hasher.hexdigest()}" != digest:
        raise RuntimeError(
            f"pulled {received} bytes with digest sha256:{hasher.hexdigest()}, "
            f"pushed {size} bytes with {digest}"
        )
    return elapsed


def render(result: dict[str, Any]) -> str:
    env = result["environment"]
    rows = "\n".join(
        f"| {phase} | {peak / MB:.1f} |" for phase, peak in result["peak_by_phase"].items()
    )
    steps = "\n".join(
        f"| {label} | {result[key]:.1f} | {result['size_mib'] / result[key]:.0f} |"
        for label, key in (
            ("PATCH chunks", "patch_s"),
            ("PUT ?digest= (assemble + verify)", "put_s"),
            ("GET (stream + verify)", "pull_s"),
            ("monolithic PUT (one request)", "mono_s"),
        )
    )
    verdict = "PASS" if result["passed"] else "FAIL"
    error = f"\n**Error:** `{result['error']}`\n" if result.get("error") else ""
    return f"""# Hub memory under a {result["size_mib"]} MiB chunked push + pull — {env["date"]}

`wasm-hub serve` ({result["workers"]} workers) (commit {env["hub_commit"]}\
{", hub/ modified" if env["hub_tree_dirty"] else ""}), SQLite + filesystem storage. One blob of
{result["size_mib"]} MiB pushed as POST + {result["patches"]} PATCHes of {result["chunk_mib"]} MiB
(Content-Range) + PUT ?digest=, then pulled as a stream and verified; then another blob of the
same size pushed as one monolithic PUT. Memory = PSS of the server process and its children
(shared pages counted once; RSS summed over them is shown too), sampled every
{int(SAMPLE_EVERY * 1000)} ms ({result["samples"]} samples). MB = 10^6 bytes.

**Peak PSS: {result["peak_mb"]:.1f} MB — {verdict}** (ceiling {CEILING_MB} MB; RSS summed
{result["peak_rss_mb"]:.1f} MB; idle after
start {result["idle_mb"]:.1f} MB, growth {result["peak_mb"] - result["idle_mb"]:.1f} MB).
{error}
| phase | peak PSS MB |
|---|--:|
{rows}

| step | seconds | MiB/s |
|---|--:|--:|
{steps}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--chunk-mib", type=int, default=16)
    parser.add_argument("--workers", type=int, help="default: serve's own (one per CPU)")
    args = parser.parse_args(argv)
    result = measure(args.size_mib, args.chunk_mib, args.workers)
    RESULTS.mkdir(parents=True, exist_ok=True)
    md = RESULTS / f"{today()}-memory.md"
    md.write_text(render(result))
    (RESULTS / f"{today()}-memory.json").write_text(json.dumps(result, indent=1) + "\n")
    print(render(result))
    print(f"wrote {md}")
    return 0 if result["passed"] else 1


def measure(size_mib: int, chunk_mib: int, workers: int | None) -> dict[str, Any]:
    """Start a hub, push and pull, and return the result (peak PSS/RSS, timings, phases)."""
    size, chunk = size_mib * MIB, chunk_mib * MIB
    env = environment_info()
    result: dict[str, Any] = {
        "size_mib": size_mib,
        "chunk_mib": chunk_mib,
        "workers": workers or os.cpu_count() or 1,
        "patches": -(-size // chunk),
        "ceiling_mb": CEILING_MB,
        "error": None,
        "patch_s": float("nan"),
        "put_s": float("nan"),
        "pull_s": float("nan"),
        "mono_s": float("nan"),
    }
    with tempfile.TemporaryDirectory(prefix="hub-memory-") as tmp:
        hub = Hub(Path(tmp) / "hub", workers=workers)
        sampler: Sampler | None = None
        try:
            hub.start()
            sampler = Sampler(hub.pid)
            sampler.phase = "idle"
            sampler.start()
            with httpx.Client(base_url=hub.url, timeout=300) as client:
                expect(client.get("/v2/"), 200)
                time.sleep(1)
                digest, timings = push(client, size, chunk, sampler)
                result.update(timings)
                result["pull_s"] = pull(client, digest, size, sampler)
                result["mono_s"] = push_monolithic(client, size, chunk, sampler)
                sampler.phase = "after"
                time.sleep(1)
        except Exception as exc:  # noqa: BLE001 - reported, and the run fails
            result["error"] = repr(exc)
            print(hub.tail(), file=sys.stderr)
        finally:
            try:
                if sampler is not None:
                    sampler.stop()
            finally:
                hub.stop()
    samples = sampler.samples if sampler else []
    phases = list(dict.fromkeys(p for _, p, _ in samples))
    result.update(
        environment=env,
        samples=len(samples),
        peak_mb=(sampler.peak() if sampler else 0) / MB,
        idle_mb=(sampler.peak("idle") if sampler else 0) / MB,
        peak_by_phase={p: sampler.peak(p) for p in phases} if sampler else {},
        peak_by_phase_pss={p: sampler.peak(p) for p in phases} if sampler else {},
        peak_rss_mb=max(sampler.rss, default=0) / MB if sampler else 0,
        timeline=[(round(t, 2), p, rss) for t, p, rss in samples],
    )
    result["passed"] = result["error"] is None and result["peak_mb"] < CEILING_MB
    return result


if __name__ == "__main__":
    raise SystemExit(main())
