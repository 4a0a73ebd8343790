"""Crash safety (issue 8): SIGKILL the hub again and again while pushes run, restart it, and
check that every push it acknowledged (201) pulls byte-exact, that an upload session
interrupted by a kill resumes, and that fsck finds nothing wrong afterwards."""

from __future__ import annotations

import os
import random
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.databases import BACKENDS, hub_on
from tests.support.pushing import Artifact, push, random_artifact, sha256, verify
from tests.support.server import HubServer

KILLS = 3
PUSHERS = 3


@pytest.fixture(params=BACKENDS)
def crash_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubServer]:
    with hub_on(request.param, tmp_path, {}, "crash") as server:
        yield server


def kill9(server: HubServer) -> None:
    assert server.proc is not None
    os.kill(server.proc.pid, signal.SIGKILL)  # workers=1: uvicorn serves in this process
    server.proc.wait(10)


@pytest.mark.parametrize("crash_server", ["sqlite"], indirect=True)
def test_interrupted_upload_resumes_after_kill(crash_server: HubServer) -> None:
    data = secrets.token_bytes(300_000)
    repository = f"crash/resume{secrets.token_hex(3)}"
    with httpx.Client(base_url=crash_server.url, timeout=30) as client:
        started = client.post(f"/v2/{repository}/blobs/uploads/")
        assert started.status_code == 202
        first = client.patch(
            started.headers["location"],
            content=data[:100_000],
            headers={"Content-Range": "0-99999", "Content-Type": "application/octet-stream"},
        )
        assert first.status_code == 202
        location = first.headers["location"]
    kill9(crash_server)
    crash_server.start()
    with httpx.Client(base_url=crash_server.url, timeout=30) as client:
        # spec: GET on the session says how far it got; the client resumes from there.
        status = client.get(location)
        assert status.status_code == 204
        assert status.headers["range"] == "0-99999"
        rest = client.patch(
            location,
            content=data[100_000:],
            headers={"Content-Range": f"100000-{len(data) - 1}"},
        )
        assert rest.status_code == 202
        done = client.put(rest.headers["location"], params={"digest": sha256(data)})
        assert done.status_code == 201
        assert client.get(f"/v2/{repository}/blobs/{sha256(data)}").content == data


def test_no_acknowledged_push_is_lost_across_sigkills(crash_server: HubServer) -> None:
    stop = threading.Event()
    lock = threading.Lock()
    acknowledged: list[Artifact] = []
    blobs: list[tuple[str, bytes]] = []  # (repository, bytes) of every blob answered 201
    attempts = {"pushes": 0, "interrupted": 0}

    def pusher(n: int) -> None:
        repository = f"crash/p{n}-{secrets.token_hex(3)}"
        step = 0
        while not stop.is_set():
            step += 1
            artifact = random_artifact(repository, layers=2, max_size=256 * 1024)
            try:
                with httpx.Client(base_url=crash_server.url, timeout=10) as client:
                    with lock:
                        attempts["pushes"] += 1
                    push(client, artifact, chunked=step % 2 == 0)
            except (httpx.HTTPError, AssertionError):
                # The server died mid-push (connection refused or reset, or a 5xx from a
                # half-started process): not acknowledged, nothing to check.
                with lock:
                    attempts["interrupted"] += 1
                time.sleep(0.3)
                continue
            with lock:
                acknowledged.append(artifact)
                blobs.extend((repository, data) for data in artifact.layers)

    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(PUSHERS)]
    for thread in threads:
        thread.start()
    rng = random.Random()
    try:
        for _ in range(KILLS):
            # Kill while pushes are in flight: once one more push has been acknowledged since
            # the (slow, on a loaded machine) restart, after a random fraction of a push.
            seen = len(acknowledged)
            deadline = time.monotonic() + 20
            while len(acknowledged) == seen and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.6))
            kill9(crash_server)
            time.sleep(rng.uniform(0.0, 0.3))
            crash_server.start()
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)

    assert len(acknowledged) >= KILLS, f"only {len(acknowledged)} pushes acknowledged"
    assert attempts["interrupted"] > 0, "no push was interrupted: the kills proved nothing"
    with httpx.Client(base_url=crash_server.url, timeout=30) as client:
        for artifact in acknowledged:
            verify(client, artifact)
        for repository, data in blobs:
            got = client.get(f"/v2/{repository}/blobs/{sha256(data)}")
            assert got.status_code == 200 and got.content == data
    # Nothing is missing or corrupt. A kill between a completed upload's commit and the
    # removal of its segments leaves those segments behind: fsck reports them (exit 1) and
    # --repair removes them, after which fsck is clean.
    fsck = crash_server.run("fsck")
    problems = [line for line in fsck.stdout.splitlines() if ": " in line]
    lost = [line for line in problems if line.startswith(("missing", "corrupt", "broken"))]
    assert not lost, fsck.stdout
    leftovers = len([line for line in problems if line.startswith(("orphan", "temporary"))])
    if fsck.returncode != 0:
        assert crash_server.run("fsck", "--repair").returncode == 0
    final = crash_server.run("fsck")
    assert final.returncode == 0, final.stdout + final.stderr
    print(
        f"0 acknowledged pushes lost across {KILLS} SIGKILLs: {len(acknowledged)} acknowledged "
        f"artifacts pulled byte-exact; {attempts['interrupted']} of {attempts['pushes']} "
        f"push attempts failed while the hub was dying or down; "
        f"fsck: nothing missing or corrupt, {leftovers} crash leftovers repaired"
    )
