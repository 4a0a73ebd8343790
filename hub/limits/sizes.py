"""The largest blob a registry accepts (HUB_MAX_BLOB_BYTES), enforced while bytes stream in,
so an oversized body is cut off before it fills the disk."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hub.oci.errors import RegistryError


class BlobTooLarge(RegistryError):
    # 413 Payload Too Large; SIZE_INVALID is the spec's code for a length the registry refuses.
    code, status, message = "SIZE_INVALID", 413, "blob too large"


def too_large(size: int, limit: int) -> BlobTooLarge:
    return BlobTooLarge(
        {"size": size, "limit": limit},
        f"this blob is at least {size} bytes; this registry accepts blobs of at most {limit} "
        "bytes (HUB_MAX_BLOB_BYTES): push a smaller artifact or ask the operator to raise it",
    )


def check(size: int, limit: int) -> None:
    """Refuse a declared size up front (Content-Length, or an upload's running total)."""
    if limit > 0 and size > limit:
        raise too_large(size, limit)


def limited(chunks: Iterable[bytes], already: int, limit: int) -> Iterator[bytes]:
    """Pass ``chunks`` through, raising BlobTooLarge as soon as ``already`` plus the bytes
    seen exceed ``limit`` (0: no limit). Raised inside Storage.write, nothing is stored."""
    total = already
    for chunk in chunks:
        total += len(chunk)
        if limit > 0 and total > limit:
            raise too_large(total, limit)
        yield chunk
