"""Counting failures at the two backends: a Storage wrapper and a SQLAlchemy engine hook. The
wrapper changes nothing about what the backend does or raises; it only counts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, event

from hub.observability.metrics import metrics
from hub.storage import Storage, StorageError
from hub.storage.base import BlobNotFound


def _count(operation: str, exc: BaseException) -> None:
    # A missing object is an answer, not a failure of the backend.
    if isinstance(exc, StorageError) and not isinstance(exc, BlobNotFound):
        metrics().storage_errors.labels(operation).inc()


class CountingStorage:
    """A Storage that counts the backend's errors by operation (hub_storage_errors_total)."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:  # backend-specific extras (e.g. S3's client)
        return getattr(self.inner, name)

    def _call(self, operation: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except StorageError as exc:
            _count(operation, exc)
            raise

    def write(
        self,
        key: str,
        chunks: Iterable[bytes],
        before_commit: Callable[[int], None] | None = None,
        *,
        durable: bool = True,
    ) -> int:
        try:
            return self.inner.write(key, chunks, before_commit, durable=durable)
        except StorageError as exc:
            _count("write", exc)
            raise

    def compose(
        self,
        key: str,
        sources: Sequence[str],
        before_commit: Callable[[int], None] | None = None,
    ) -> int:
        result: int = self._call("compose", self.inner.compose, key, sources, before_commit)
        return result

    def read(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        inner: Iterator[bytes] = self._call("read", self.inner.read, key, offset, length)

        def counted() -> Iterator[bytes]:
            try:
                yield from inner
            except StorageError as exc:
                _count("read", exc)
                raise
            finally:
                close = getattr(inner, "close", None)
                if close is not None:
                    close()

        return counted()

    def size(self, key: str) -> int:
        result: int = self._call("size", self.inner.size, key)
        return result

    def exists(self, key: str) -> bool:
        result: bool = self._call("exists", self.inner.exists, key)
        return result

    def delete(self, key: str) -> None:
        self._call("delete", self.inner.delete, key)

    def delete_prefix(self, prefix: str) -> None:
        self._call("delete_prefix", self.inner.delete_prefix, prefix)

    def list_prefix(self, prefix: str) -> Iterator[str]:
        result: Iterator[str] = self._call("list_prefix", self.inner.list_prefix, prefix)
        return result

    def redirect_url(self, key: str, expires_in: int = 300) -> str | None:
        result: str | None = self._call("redirect_url", self.inner.redirect_url, key, expires_in)
        return result

    def check(self) -> None:
        self._call("check", self.inner.check)


def count_database_errors(engine: Engine) -> None:
    """hub_database_errors_total{error=<SQLAlchemy class>} for every error the engine raises
    (connection refused, lock timeouts, constraint violations the code did not expect...)."""

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        error = context.sqlalchemy_exception or context.original_exception
        metrics().database_errors.labels(type(error).__name__).inc()
