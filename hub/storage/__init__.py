"""Blob storage behind one Protocol; ``open_storage`` picks the backend from a URL."""

from hub.storage.base import BlobNotFound, Storage, StorageError
from hub.storage.factory import open_storage

__all__ = ["BlobNotFound", "Storage", "StorageError", "open_storage"]
