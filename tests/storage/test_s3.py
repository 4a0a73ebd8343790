"""What only the S3 backend promises, against the real SeaweedFS server: prefixes that keep
tenants of one bucket apart, vendor errors translated at the boundary with no secret in them,
and a startup check that names the bucket."""

from __future__ import annotations

import secrets
from pathlib import Path

import boto3
import pytest

from hub.config import ConfigError, Settings
from hub.storage import StorageError, open_storage
from hub.storage.filesystem import FilesystemStorage
from hub.storage.s3 import MIN_PART_SIZE, S3Storage
from tests.support.seaweed import SeaweedS3


@pytest.fixture
def aws_env(seaweedfs: SeaweedS3, monkeypatch: pytest.MonkeyPatch) -> SeaweedS3:
    seaweedfs.use_in_process(monkeypatch)
    return seaweedfs


def storage_at(s3: SeaweedS3, prefix: str) -> S3Storage:
    return S3Storage(s3.bucket, prefix, endpoint_url=s3.endpoint)


def test_prefixes_keep_tenants_of_one_bucket_apart(aws_env: SeaweedS3) -> None:
    base = f"tenants-{secrets.token_hex(4)}"
    one, two = storage_at(aws_env, f"{base}/one"), storage_at(aws_env, f"/{base}/two/")
    one.write("blobs/k", [b"one"])
    two.write("blobs/k", [b"two"])
    assert b"".join(one.read("blobs/k")) == b"one"
    assert list(one.list_prefix("")) == ["blobs/k"]
    one.delete_prefix("blobs/")
    assert not one.exists("blobs/k")
    assert b"".join(two.read("blobs/k")) == b"two"
    # the prefix is a folder of the bucket, whatever slashes the URL had
    assert aws_env.keys(aws_env.bucket, base) == [f"{base}/two/blobs/k"]


def test_check_names_a_missing_bucket(aws_env: SeaweedS3) -> None:
    storage = S3Storage("no-such-bucket-here", endpoint_url=aws_env.endpoint)
    with pytest.raises(StorageError, match="no-such-bucket-here"):
        storage.check()


def test_errors_are_storage_errors_without_secrets(
    aws_env: SeaweedS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong" + secrets.token_hex(8)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # forget the right ones
    storage = storage_at(aws_env, "denied")
    for attempt in (
        lambda: storage.write("k", [b"x"]),
        lambda: storage.read("k"),
        lambda: storage.size("k"),
        lambda: list(storage.list_prefix("")),
        storage.check,
    ):
        with pytest.raises(StorageError) as caught:
            attempt()
        assert wrong not in str(caught.value) and aws_env.secret_key not in str(caught.value)


def test_part_size_below_the_s3_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="part_size"):
        S3Storage("bucket", part_size=MIN_PART_SIZE - 1)


# --- backend choice (factory.py) ----------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://x/y", "blobs", "S3://bucket", ""])
def test_unknown_storage_url_fails_naming_the_choices(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_storage(Settings(storage_url=url))
    message = str(caught.value)
    assert "HUB_STORAGE_URL" in message
    assert all(choice in message for choice in ("file://", "s3://", "memory://"))


@pytest.mark.parametrize("url", ["file://", "s3://", "s3:///prefix"])
def test_incomplete_storage_url_fails(url: str) -> None:
    with pytest.raises(ConfigError, match="HUB_STORAGE_URL"):
        open_storage(Settings(storage_url=url))


def test_file_url_opens_a_filesystem_store(tmp_path: Path) -> None:
    storage = open_storage(Settings(storage_url=f"file://{tmp_path}/blobs"))
    assert isinstance(storage, FilesystemStorage)
    storage.write("k", [b"v"])
    assert b"".join(storage.read("k")) == b"v"


def test_s3_url_opens_the_bucket_under_its_prefix(aws_env: SeaweedS3) -> None:
    prefix = f"factory-{secrets.token_hex(4)}"
    settings = Settings(
        storage_url=f"s3://{aws_env.bucket}/{prefix}/blobs",
        s3_endpoint_url=aws_env.endpoint,
        s3_redirect=True,
    )
    storage = open_storage(settings)
    storage.check()
    storage.write("k", [b"v"])
    assert aws_env.keys(aws_env.bucket, prefix) == [f"{prefix}/blobs/k"]
    assert storage.redirect_url("k") is not None


def test_presigned_urls_are_reused_briefly_then_renewed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A popular blob is not re-signed on every GET; a reused URL always has at least four
    fifths of its lifetime left."""
    storage = S3Storage("bucket", redirect=True, client=_Signer())
    now = [1000.0]
    monkeypatch.setattr("hub.storage.s3.time.monotonic", lambda: now[0])
    first = storage.redirect_url("blobs/a", expires_in=300)
    now[0] += 59
    assert storage.redirect_url("blobs/a", expires_in=300) == first
    assert storage.redirect_url("blobs/b", expires_in=300) != first
    now[0] += 2  # past a fifth of the lifetime
    assert storage.redirect_url("blobs/a", expires_in=300) != first


class _Signer:
    def __init__(self) -> None:
        self.signed = 0

    def generate_presigned_url(self, op: str, Params: dict[str, str], ExpiresIn: int) -> str:  # noqa: N803
        self.signed += 1
        return f"https://s3.example/{Params['Key']}?n={self.signed}&exp={ExpiresIn}"
