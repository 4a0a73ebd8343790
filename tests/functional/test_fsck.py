"""`wasm-hub fsck` (issue 8): finds a deleted blob file, a corrupted one, an orphaned object and
a temp file left by a killed write; exits non-zero; `--repair` fixes them so the artifact can
be pushed again and pulls byte-exact."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import httpx

from tests.support.pushing import push, random_artifact, sha256, verify
from tests.support.server import HubServer


def blob_file(server: HubServer, digest: str) -> Path:
    hex_ = digest.split(":", 1)[1]
    return server.workdir / "blobs" / "blobs" / "sha256" / hex_[:2] / hex_


def test_fsck_finds_and_repairs(tmp_path: Path) -> None:
    with HubServer(tmp_path, {"HUB_GC_GRACE_SECONDS": "60"}) as server:
        artifact = random_artifact(f"fsck/r{secrets.token_hex(3)}", layers=3)
        with httpx.Client(base_url=server.url, timeout=30) as client:
            push(client, artifact, chunked=False)
            clean = server.run("fsck")
            assert clean.returncode == 0, clean.stdout + clean.stderr
            assert "0 problems" in clean.stdout

            lost, damaged = sha256(artifact.layers[0]), sha256(artifact.layers[1])
            blob_file(server, lost).unlink()
            path = blob_file(server, damaged)
            path.write_bytes(bytes(b ^ 0xFF for b in path.read_bytes()))  # same size
            stray = secrets.token_bytes(100)
            blob_file(server, sha256(stray)).parent.mkdir(parents=True, exist_ok=True)
            blob_file(server, sha256(stray)).write_bytes(stray)
            temp = server.workdir / "blobs" / "blobs" / ".tmp-killed"
            temp.write_bytes(b"partial")
            os.utime(temp, (time.time() - 3600, time.time() - 3600))

            found = server.run("fsck")
            assert found.returncode == 1, found.stdout
            assert f"missing: {lost}" in found.stdout
            assert f"corrupt: {damaged}" in found.stdout and "hashes to" in found.stdout
            assert f"orphan: blobs/sha256/{sha256(stray)[7:9]}/" in found.stdout
            assert "temporary: blobs/.tmp-killed" in found.stdout
            assert "4 problems" in found.stdout and "--repair" in found.stdout
            # --quick compares sizes only: the same-size corruption needs the hash.
            quick = server.run("fsck", "--quick")
            assert quick.returncode == 1 and f"corrupt: {damaged}" not in quick.stdout

            repaired = server.run("fsck", "--repair")
            assert repaired.returncode == 0, repaired.stdout + repaired.stderr
            assert repaired.stdout.count("(repaired)") == 4
            again = server.run("fsck")
            assert again.returncode == 0 and "0 problems" in again.stdout, again.stdout
            assert not blob_file(server, sha256(stray)).exists() and not temp.exists()

            # The dropped blobs are absent now, so clients push them again, and all is whole.
            for digest in (lost, damaged):
                head = client.head(f"/v2/{artifact.repository}/blobs/{digest}")
                assert head.status_code == 404
            intact = sha256(artifact.layers[2])
            assert client.head(f"/v2/{artifact.repository}/blobs/{intact}").status_code == 200
            artifact.acknowledged.clear()
            push(client, artifact, chunked=True)
            verify(client, artifact)
            assert server.run("fsck").returncode == 0
