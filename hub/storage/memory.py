"""In-process storage for unit tests and throwaway trials (``memory://``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence

from hub.storage.base import CHUNK, BlobNotFound


class MemoryStorage:
    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def write(
        self,
        key: str,
        chunks: Iterable[bytes],
        before_commit: Callable[[int], None] | None = None,
        *,
        durable: bool = True,
    ) -> int:
        data = b"".join(chunks)
        if before_commit is not None:
            before_commit(len(data))
        with self._lock:
            self._objects[key] = data
        return len(data)

    def compose(
        self,
        key: str,
        sources: Sequence[str],
        before_commit: Callable[[int], None] | None = None,
    ) -> int:
        return self.write(key, [self._get(source) for source in sources], before_commit)

    def _get(self, key: str) -> bytes:
        with self._lock:
            try:
                return self._objects[key]
            except KeyError:
                raise BlobNotFound(key) from None

    def read(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        data = self._get(key)
        end = len(data) if length is None else min(len(data), offset + length)

        def chunks() -> Iterator[bytes]:
            for start in range(offset, end, CHUNK):
                yield data[start : min(end, start + CHUNK)]

        return chunks()

    def size(self, key: str) -> int:
        return len(self._get(key))

    def exists(self, key: str) -> bool:
        with self._lock:
            return key in self._objects

    def delete(self, key: str) -> None:
        with self._lock:
            self._objects.pop(key, None)

    def delete_prefix(self, prefix: str) -> None:
        with self._lock:
            for key in [k for k in self._objects if k.startswith(prefix)]:
                del self._objects[key]

    def list_prefix(self, prefix: str) -> Iterator[str]:
        with self._lock:
            keys = sorted(k for k in self._objects if k.startswith(prefix))
        return iter(keys)

    def redirect_url(self, key: str, expires_in: int = 300) -> str | None:
        return None

    def check(self) -> None:
        return None
