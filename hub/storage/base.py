"""The storage contract every backend implements (compare distribution's StorageDriver).

Keys are ``/``-separated relative paths made only by ``hub.storage.paths``. All methods are
blocking; the web layer runs them in worker threads. Bytes always move as iterators of chunks
so no blob is ever held whole in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

CHUNK = 1024 * 1024


class StorageError(Exception):
    """The backend failed; the message names the operation and key, never credentials."""


class BlobNotFound(StorageError):
    """No object at that key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no object at {key!r}")
        self.key = key


class Storage(Protocol):
    def write(
        self,
        key: str,
        chunks: Iterable[bytes],
        before_commit: Callable[[int], None] | None = None,
        *,
        durable: bool = True,
    ) -> int:
        """Store the chunks at ``key`` atomically and return the byte count.

        ``before_commit(size)`` runs after every byte is received but before the object
        becomes visible; if it raises, nothing is stored and the exception propagates. This is
        how a digest mismatch never leaves a blob behind.

        ``durable=False`` allows a backend to skip forcing the object to disk (fsync): it
        survives a crash of the process, not necessarily a power cut. Upload segments are
        written so; their blob is checked against its digest when it is assembled."""
        ...

    def compose(
        self,
        key: str,
        sources: Sequence[str],
        before_commit: Callable[[int], None] | None = None,
    ) -> int:
        """Store at ``key`` the objects at ``sources`` concatenated in order, atomically and
        with ``before_commit`` exactly as write(), and return the byte count; the sources stay.
        BlobNotFound (nothing stored) when a source is missing.

        This is how a chunked upload's segments become its blob without the hub reading them
        back: the backend copies on its side (copy_file_range, S3 UploadPartCopy) where it can."""
        ...

    def read(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream ``length`` bytes (to the end when None) from ``offset``.

        Raises BlobNotFound before yielding anything when the key is missing."""
        ...

    def size(self, key: str) -> int:
        """Byte size of the object; BlobNotFound when missing."""
        ...

    def exists(self, key: str) -> bool:
        """True when an object is stored at ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Remove one object; a missing key is not an error."""
        ...

    def delete_prefix(self, prefix: str) -> None:
        """Remove every object whose key starts with ``prefix`` (a folder)."""
        ...

    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix``, in lexical order."""
        ...

    def redirect_url(self, key: str, expires_in: int = 300) -> str | None:
        """A short-lived URL a client may fetch the object from directly; None: stream it."""
        ...

    def check(self) -> None:
        """Raise StorageError with a clear message when the backend is unusable (startup)."""
        ...


def concatenated(storage: Storage, sources: Sequence[str]) -> Iterator[bytes]:
    """The chunks of ``sources`` in order: compose() for a backend that cannot copy on its side.
    Every source is checked first, so a missing one fails before anything is written."""
    for source in sources:
        if not storage.exists(source):
            raise BlobNotFound(source)
    for source in sources:
        yield from storage.read(source)
