"""The storage contract every backend implements (compare distribution's StorageDriver).

Keys are ``/``-separated relative paths made only by ``hub.storage.paths``. All methods are
blocking; the web layer runs them in worker threads. Bytes always move as iterators of chunks
so no blob is ever held whole in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
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
    ) -> int:
        """Store the chunks at ``key`` atomically and return the byte count.

        ``before_commit(size)`` runs after every byte is received but before the object
        becomes visible; if it raises, nothing is stored and the exception propagates. This is
        how a digest mismatch never leaves a blob behind."""
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
