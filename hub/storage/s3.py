"""S3-compatible storage through boto3 (``s3://bucket/prefix``).

Uploads spool to local temporary files, never memory, and go up as one PUT when they fit in a
part, else as a multipart upload. The part size (128 MiB) makes S3's 10,000-part ceiling cover
1.25 TiB, so a blob never meets the 5 GiB single-PUT limit. With ``redirect=True`` readers are
sent to presigned URLs and the bytes bypass the hub.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from hub.storage.base import CHUNK, BlobNotFound, StorageError, concatenated

PART_SIZE = 128 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024  # S3: every part but the last is at least 5 MiB
MAX_COPY_SIZE = 5 * 1024 * 1024 * 1024  # S3: CopyObject and UploadPartCopy copy at most 5 GiB
PRESIGNED_CACHE = 4096  # presigned GET URLs kept for reuse (redirect_url)
_MISSING = {"404", "NoSuchKey", "NotFound"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code"))


def _missing(exc: ClientError) -> bool:
    return _code(exc) in _MISSING


class S3Storage:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        redirect: bool = False,
        part_size: int = PART_SIZE,
        client: Any = None,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} (S3 minimum)")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.redirect = redirect
        self.part_size = part_size
        self._presigned: dict[tuple[str, int], tuple[str, float]] = {}
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(
                # S3-compatible servers differ in what they accept; path style and checksums
                # only where the API requires them work with all of them.
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": 5, "mode": "standard"},
            ),
        )

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _fail(self, op: str, key: str, exc: Exception) -> StorageError:
        return StorageError(f"s3 {op} {self.bucket}/{self._key(key)} failed: {exc}")

    def _spool(self, chunks: Iterator[bytes], pending: bytearray) -> tuple[IO[bytes], int, bool]:
        """Fill one part-sized spool file; return it, its size and whether input is exhausted."""
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
        size = 0
        if pending:
            # A chunk bigger than the room left in a part can leave more than a whole part
            # pending; take one part of it at most, else the part outgrows part_size, ``room``
            # below goes negative and the byte count sent (and returned) stops matching the
            # bytes spooled.
            size = min(len(pending), self.part_size)
            spool.write(pending[:size])
            del pending[:size]
            if pending or size == self.part_size:
                spool.seek(0)
                return spool, size, False
        for chunk in chunks:
            room = self.part_size - size
            if len(chunk) > room:
                spool.write(chunk[:room])
                pending.extend(chunk[room:])
                size += room
                spool.seek(0)
                return spool, size, False
            spool.write(chunk)
            size += len(chunk)
            if size == self.part_size:
                spool.seek(0)
                return spool, size, False
        spool.seek(0)
        return spool, size, True

    def write(
        self,
        key: str,
        chunks: Iterable[bytes],
        before_commit: Callable[[int], None] | None = None,
        *,
        durable: bool = True,  # an acknowledged S3 PUT is durable either way
    ) -> int:
        source = iter(chunks)
        pending = bytearray()
        spool, size, done = self._spool(source, pending)
        if done and not pending:
            with spool:
                if before_commit is not None:
                    before_commit(size)
                try:
                    self.client.put_object(
                        Bucket=self.bucket, Key=self._key(key), Body=spool, ContentLength=size
                    )
                except (ClientError, BotoCoreError) as exc:
                    raise self._fail("put", key, exc) from None
            return size
        return self._multipart(key, source, pending, spool, size, before_commit)

    def _multipart(
        self,
        key: str,
        source: Iterator[bytes],
        pending: bytearray,
        spool: IO[bytes],
        size: int,
        before_commit: Callable[[int], None] | None,
    ) -> int:
        try:
            upload_id = self._create_multipart(key)
        except StorageError:
            spool.close()
            raise
        parts: list[dict[str, Any]] = []
        total = 0
        try:
            while True:
                with spool:
                    if size:
                        response = self.client.upload_part(
                            Bucket=self.bucket,
                            Key=self._key(key),
                            UploadId=upload_id,
                            PartNumber=len(parts) + 1,
                            Body=spool,
                            ContentLength=size,
                        )
                        parts.append({"PartNumber": len(parts) + 1, "ETag": response["ETag"]})
                        total += size
                if not pending and size < self.part_size:
                    break
                spool, size, done = self._spool(source, pending)
                if done and not pending and size == 0:
                    spool.close()
                    break
            self._complete(key, upload_id, parts, total, before_commit)
        except BaseException as exc:
            self._abort(key, upload_id)
            if isinstance(exc, (ClientError, BotoCoreError)):
                raise self._fail("multipart upload", key, exc) from None
            raise
        return total

    def compose(
        self,
        key: str,
        sources: Sequence[str],
        before_commit: Callable[[int], None] | None = None,
    ) -> int:
        """Server-side when S3's rules allow it: one source is a CopyObject, several are a
        multipart upload of UploadPartCopy parts (every part but the last at least 5 MiB,
        none over 5 GiB). Otherwise (small PATCHes) the bytes stream through, as write()."""
        sizes = [self.size(source) for source in sources]  # BlobNotFound before any write
        parts = [(source, size) for source, size in zip(sources, sizes, strict=True) if size]
        copyable = all(size <= MAX_COPY_SIZE for _, size in parts) and all(
            size >= MIN_PART_SIZE for _, size in parts[:-1]
        )
        if not parts or not copyable:
            return self.write(key, concatenated(self, sources), before_commit)
        total = sum(size for _, size in parts)
        if len(parts) == 1:
            if before_commit is not None:
                before_commit(total)  # the bytes are durable already: in the source object
            try:
                self.client.copy_object(
                    Bucket=self.bucket,
                    Key=self._key(key),
                    CopySource={"Bucket": self.bucket, "Key": self._key(parts[0][0])},
                )
            except ClientError as exc:
                if _missing(exc):  # deleted since size() saw it
                    raise BlobNotFound(parts[0][0]) from None
                raise self._fail("copy", key, exc) from None
            except BotoCoreError as exc:
                raise self._fail("copy", key, exc) from None
            return total
        return self._multipart_copy(key, [source for source, _ in parts], total, before_commit)

    def _multipart_copy(
        self,
        key: str,
        sources: list[str],
        total: int,
        before_commit: Callable[[int], None] | None,
    ) -> int:
        upload_id = self._create_multipart(key)
        try:
            parts: list[dict[str, Any]] = []
            for number, source in enumerate(sources, start=1):
                response = self.client.upload_part_copy(
                    Bucket=self.bucket,
                    Key=self._key(key),
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": self._key(source)},
                )
                parts.append({"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]})
            self._complete(key, upload_id, parts, total, before_commit)
        except BaseException as exc:
            self._abort(key, upload_id)
            if isinstance(exc, ClientError) and _missing(exc):
                raise BlobNotFound(key) from None
            if isinstance(exc, (ClientError, BotoCoreError)):
                raise self._fail("multipart copy", key, exc) from None
            raise
        return total

    def _create_multipart(self, key: str) -> str:
        try:
            response = self.client.create_multipart_upload(Bucket=self.bucket, Key=self._key(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("create multipart", key, exc) from None
        upload_id: str = response["UploadId"]
        return upload_id

    def _complete(
        self,
        key: str,
        upload_id: str,
        parts: list[dict[str, Any]],
        total: int,
        before_commit: Callable[[int], None] | None,
    ) -> None:
        """The object appears only here: before_commit goes first (contract: base.py)."""
        if before_commit is not None:
            before_commit(total)
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self._key(key),
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
        )

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self._key(key), UploadId=upload_id
            )
        except (ClientError, BotoCoreError):
            pass  # the bucket's lifecycle rule for incomplete uploads cleans up

    def read(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if offset or length is not None:
            if length == 0:
                # No GET to make, but a missing key must still raise BlobNotFound (contract).
                self.size(key)
                return iter(())
            end = "" if length is None else str(offset + length - 1)
            kwargs["Range"] = f"bytes={offset}-{end}"
        try:
            body = self.client.get_object(**kwargs)["Body"]
        except ClientError as exc:
            if _missing(exc):
                raise BlobNotFound(key) from None
            if "Range" in kwargs and _code(exc) == "InvalidRange":
                # S3 answers 416 for a range starting at or past the end (and for any range of
                # an empty object); the other backends yield nothing there, so do the same.
                return iter(())
            raise self._fail("get", key, exc) from None
        except BotoCoreError as exc:
            raise self._fail("get", key, exc) from None

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(CHUNK)
            finally:
                body.close()

        return chunks()

    def size(self, key: str) -> int:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return int(head["ContentLength"])
        except ClientError as exc:
            if _missing(exc):
                raise BlobNotFound(key) from None
            raise self._fail("head", key, exc) from None
        except BotoCoreError as exc:
            raise self._fail("head", key, exc) from None

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except BlobNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("delete", key, exc) from None

    def _list(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix) :]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("list", prefix, exc) from None

    def delete_prefix(self, prefix: str) -> None:
        batch: list[dict[str, str]] = []
        for key in self._list(prefix):
            batch.append({"Key": self._key(key)})
            if len(batch) == 1000:  # DeleteObjects takes at most 1,000 keys
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, batch: list[dict[str, str]]) -> None:
        try:
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("delete batch", batch[0]["Key"], exc) from None

    def list_prefix(self, prefix: str) -> Iterator[str]:
        return iter(sorted(self._list(prefix)))

    def redirect_url(self, key: str, expires_in: int = 300) -> str | None:
        if not self.redirect:
            return None
        # Signing costs ~0.3 ms of CPU (botocore); a popular blob is pulled over and over, so a
        # URL is handed out again for the first fifth of its life: every client still gets at
        # least four fifths of ``expires_in`` to use it, and the cache is bounded.
        now = time.monotonic()
        cached = self._presigned.get((key, expires_in))
        if cached is not None and cached[1] > now:
            return cached[0]
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key)},
            ExpiresIn=expires_in,
        )
        if len(self._presigned) >= PRESIGNED_CACHE:
            self._presigned.clear()
        self._presigned[(key, expires_in)] = (url, now + expires_in / 5)
        return url

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(
                f"HUB_STORAGE_URL: bucket {self.bucket!r} is not reachable "
                f"(check HUB_S3_ENDPOINT_URL and the AWS_* credentials): {exc}"
            ) from None
