"""Backend choice from ``HUB_STORAGE_URL``: an explicit map that fails loudly on anything else."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from hub.config import ConfigError, Settings
from hub.storage.base import Storage


def _file(url: str, settings: Settings) -> Storage:
    from hub.storage.filesystem import FilesystemStorage

    # file://./data/blobs (relative) and file:///srv/blobs (absolute) both work.
    path = url[len("file://") :]
    if not path:
        raise ConfigError("HUB_STORAGE_URL=file:// needs a path, e.g. file://./data/blobs")
    return FilesystemStorage(path)


def _s3(url: str, settings: Settings) -> Storage:
    from hub.storage.s3 import S3Storage

    parts = urlsplit(url)
    if not parts.netloc:
        raise ConfigError("HUB_STORAGE_URL=s3:// needs a bucket, e.g. s3://wasm-hub/blobs")
    return S3Storage(
        parts.netloc,
        parts.path,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        redirect=settings.s3_redirect,
    )


def _memory(url: str, settings: Settings) -> Storage:
    from hub.storage.memory import MemoryStorage

    return MemoryStorage()


BACKENDS: dict[str, Callable[[str, Settings], Storage]] = {
    "file": _file,
    "s3": _s3,
    "memory": _memory,
}


def open_storage(settings: Settings) -> Storage:
    scheme = settings.storage_url.split("://", 1)[0] if "://" in settings.storage_url else ""
    try:
        backend = BACKENDS[scheme]
    except KeyError:
        raise ConfigError(
            f"HUB_STORAGE_URL={settings.storage_url!r}: unknown storage scheme {scheme!r}; "
            f"choose one of {', '.join(s + '://' for s in BACKENDS)}"
        ) from None
    return backend(settings.storage_url, settings)
