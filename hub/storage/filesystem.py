"""Local filesystem storage (``file://path``): write to a temporary name, fsync, rename, so a
reader never sees a partial object and a crash leaves only a temp file behind."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

from hub.storage.base import CHUNK, BlobNotFound, StorageError


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _concatenate(inputs: Sequence[IO[bytes]], out: int) -> int:
    total = 0
    for fh in inputs:
        remaining = os.fstat(fh.fileno()).st_size
        while remaining > 0:
            try:
                copied = os.copy_file_range(fh.fileno(), out, min(remaining, 1 << 30))
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                copied = _copy_in_python(fh, out, remaining)
            if copied == 0:  # the source shrank under us: segments are immutable, so a bug
                raise OSError(errno.EIO, f"{fh.name} ended early")
            remaining -= copied
            total += copied
    return total


def _copy_in_python(fh: IO[bytes], out: int, limit: int) -> int:
    """For kernels or filesystems without copy_file_range between these files (``fh`` is
    unbuffered, so its position is the descriptor's, wherever copy_file_range left it)."""
    copied = 0
    while copied < limit:
        data = fh.read(min(CHUNK, limit - copied))
        if not data:
            break
        os.write(out, data)  # a regular file: a short write only on error, which raises
        copied += len(data)
    return copied


def _remove_tree(path: Path) -> None:
    """shutil.rmtree without its per-entry safety walk (an upload's folder is one level of
    plain files, and rmtree's fd dance cost more than the files): recurse only into folders."""
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    except OSError:
        shutil.rmtree(path, ignore_errors=True)
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                _remove_tree(Path(entry.path))
            else:
                os.unlink(entry.path)
        except FileNotFoundError:
            pass  # removed concurrently (another replica finishing the same cleanup)
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


class FilesystemStorage:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        # Keys come from storage/paths.py only, but refuse escapes all the same. A string
        # check, not Path.resolve(): resolving stat()s every component, and that was a tenth of
        # a chunked push's CPU. The root's own tree holds no symlinks (the hub makes none).
        parts = key.split("/")
        if key.startswith("/") or "\0" in key or any(p in ("..", ".") for p in parts):
            raise StorageError(f"key {key!r} leaves the storage root")
        path = self.root.joinpath(*[p for p in parts if p])
        if path == self.root:
            raise StorageError(f"key {key!r} names the storage root, not an object")
        return path

    def write(
        self,
        key: str,
        chunks: Iterable[bytes],
        before_commit: Callable[[int], None] | None = None,
        *,
        durable: bool = True,
        _fill: Callable[[int], int] | None = None,
    ) -> int:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        except OSError as exc:
            # A full disk, a read-only mount, a file where a folder should be: the backend's
            # failure (503 UNAVAILABLE), not a bug in the hub (500).
            raise StorageError(f"cannot write {key!r}: {exc}") from None
        size = 0
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                    size += len(chunk)
                fh.flush()
                if _fill is not None:  # compose(): the kernel writes to the descriptor
                    size += _fill(fh.fileno())
                if durable:
                    os.fsync(fh.fileno())
            if before_commit is not None:
                before_commit(size)
            os.replace(tmp, path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StorageError(f"cannot write {key!r}: {exc}") from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if durable:
            _fsync_dir(path.parent)  # the rename itself survives a power cut, not only the bytes
        return size

    def compose(
        self,
        key: str,
        sources: Sequence[str],
        before_commit: Callable[[int], None] | None = None,
    ) -> int:
        """The sources are copied inside the kernel (copy_file_range: no bytes pass through
        Python, and a filesystem with reflinks shares the blocks); same temp-file, fsync,
        rename sequence as write()."""
        with contextlib.ExitStack() as stack:
            inputs: list[IO[bytes]] = []
            for source in sources:
                try:
                    inputs.append(stack.enter_context(open(self._path(source), "rb", buffering=0)))
                except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                    raise BlobNotFound(source) from None
                except OSError as exc:
                    raise StorageError(f"cannot read {source!r}: {exc}") from None
            return self.write(key, (), before_commit, _fill=lambda out: _concatenate(inputs, out))

    def read(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        try:
            fh = open(self._path(key), "rb")  # noqa: SIM115 - closed by the generator
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            # A folder of keys ("a" when "a/b" exists) or a path through an object ("a/b/c")
            # is no object either: exists() says False, so read() must say BlobNotFound.
            raise BlobNotFound(key) from None
        except OSError as exc:
            raise StorageError(f"cannot read {key!r}: {exc}") from None

        def chunks() -> Iterator[bytes]:
            with fh:
                fh.seek(offset)
                remaining = length
                while remaining is None or remaining > 0:
                    want = CHUNK if remaining is None else min(CHUNK, remaining)
                    data = fh.read(want)
                    if not data:
                        return
                    if remaining is not None:
                        remaining -= len(data)
                    yield data

        return chunks()

    def size(self, key: str) -> int:
        try:
            st = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFound(key) from None
        if not stat.S_ISREG(st.st_mode):  # a folder's st_size is not an object's size
            raise BlobNotFound(key)
        return st.st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except (IsADirectoryError, NotADirectoryError):
            pass  # no object at that key (a folder, or a path through an object): not an error

    def delete_prefix(self, prefix: str) -> None:
        path = self._path(prefix.rstrip("/"))
        if path.is_dir():
            _remove_tree(path)
        elif not prefix.endswith("/"):
            # An object named like a folder prefix ("a/2" for "a/2/") does not start with it
            # and must stay, as in the other backends; only a bare prefix matches it.
            path.unlink(missing_ok=True)

    def list_prefix(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if not base.is_dir():
            return iter(())
        keys = sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )
        return iter(k for k in keys if k.startswith(prefix))

    def redirect_url(self, key: str, expires_in: int = 300) -> str | None:
        return None

    def stale_temporaries(self, older_than: float, remove: bool) -> list[str]:
        """Temp files of writes that were killed mid-way (``wasm-hub fsck``), older than
        ``older_than`` seconds so a write in progress is never touched."""
        cutoff = time.time() - older_than
        found: list[str] = []
        for path in sorted(self.root.rglob(".tmp-*")):
            try:
                if not path.is_file() or path.stat().st_mtime >= cutoff:
                    continue
                if remove:
                    path.unlink(missing_ok=True)
            except OSError:
                continue
            found.append(path.relative_to(self.root).as_posix())
        return found

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.root, prefix=".tmp-check-")
            probe.close()
        except OSError as exc:
            raise StorageError(f"HUB_STORAGE_URL: cannot write to {self.root}: {exc}") from None
