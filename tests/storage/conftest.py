"""Every Storage implementation behind one fixture, so one contract suite covers them all.

``s3-moto`` runs S3Storage against moto's in-process fake (the only place moto is used);
``s3-seaweedfs`` against a real SeaweedFS S3 gateway, each test under its own key prefix.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from hub.storage import Storage
from hub.storage.filesystem import FilesystemStorage
from hub.storage.memory import MemoryStorage
from hub.storage.s3 import PART_SIZE, S3Storage
from tests.storage.backends import BACKENDS, Backend
from tests.support import seaweed
from tests.support.seaweed import SeaweedS3

# The session fixture, re-exported (one process however many modules re-export it).
seaweedfs = seaweed.seaweedfs


def _s3_leftovers(client: Any, bucket: str, prefix: str) -> Callable[[], list[str]]:
    def leftovers() -> list[str]:
        found = [
            item["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix
            )
            for item in page.get("Contents", [])
        ]
        uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
        found += [f"unfinished multipart upload: {u['Key']}" for u in uploads.get("Uploads", [])]
        return sorted(found)

    return leftovers


@pytest.fixture
def memory_backend() -> Backend:
    store = MemoryStorage()
    return Backend("memory", lambda **_: store, lambda: list(store.list_prefix("")))


@pytest.fixture
def filesystem_backend(tmp_path: Path) -> Backend:
    root = tmp_path / "blobs"

    def leftovers() -> list[str]:
        if not root.exists():
            return []
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    return Backend("filesystem", lambda **_: FilesystemStorage(root), leftovers)


@pytest.fixture
def s3_moto_backend() -> Iterator[Backend]:
    from moto import mock_aws

    with mock_aws():
        bucket, prefix = "contract", "hub/"
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=bucket)

        def make(redirect: bool = False, part_size: int | None = None) -> Storage:
            return S3Storage(bucket, prefix, redirect=redirect, part_size=part_size or PART_SIZE)

        def fetch(url: str) -> bytes:
            # moto serves presigned URLs to `requests` (it patches it), not to httpx.
            import requests

            response = requests.get(url, timeout=30)
            response.raise_for_status()
            return response.content

        yield Backend("s3-moto", make, _s3_leftovers(client, bucket, prefix), fetch)


@pytest.fixture
def s3_seaweedfs_backend(
    seaweedfs: SeaweedS3,
    monkeypatch: pytest.MonkeyPatch,
) -> Backend:
    # S3Storage builds its own client from boto3's default credential chain, as the hub does.
    seaweedfs.use_in_process(monkeypatch)
    prefix = f"contract/{secrets.token_hex(6)}/"

    def make(redirect: bool = False, part_size: int | None = None) -> Storage:
        return S3Storage(
            seaweedfs.bucket,
            prefix,
            endpoint_url=seaweedfs.endpoint,
            region=seaweedfs.region,
            redirect=redirect,
            part_size=part_size or PART_SIZE,  # the hub's default unless a test asks
        )

    def fetch(url: str) -> bytes:
        response = httpx.get(url, timeout=30)
        response.raise_for_status()
        return response.content

    return Backend(
        "s3-seaweedfs", make, _s3_leftovers(seaweedfs.client(), seaweedfs.bucket, prefix), fetch
    )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    # getfixturevalue: SeaweedFS starts only when an s3-seaweedfs test is selected.
    fixture: Backend = request.getfixturevalue(request.param.replace("-", "_") + "_backend")
    return fixture


@pytest.fixture
def storage(backend: Backend) -> Storage:
    return backend.make()
