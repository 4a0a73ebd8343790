"""sha256 states of chunked uploads in progress, kept by the worker that received their
PATCHes, so completing an upload need not read its segments back (hub.artifacts.uploads)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict


class UploadHashes:
    """sha256 states of uploads in progress, by upload id: (segments hashed, state). Bounded
    (least recently used go first); a missing entry only costs reading segments back."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._states: OrderedDict[str, tuple[int, hashlib._Hash]] = OrderedDict()
        self._lock = threading.Lock()

    def resume(self, upload_id: str, segments: int) -> hashlib._Hash | None:
        """A copy of the state after exactly ``segments`` segments, if this process has it."""
        with self._lock:
            found = self._states.get(upload_id)
            if found is None or found[0] != segments:
                return None
            self._states.move_to_end(upload_id)
            return found[1].copy()

    def latest(self, upload_id: str) -> tuple[int, hashlib._Hash]:
        """The furthest state known (a fresh one at 0 segments), as a copy."""
        with self._lock:
            found = self._states.get(upload_id)
        if found is None:
            return 0, hashlib.sha256()
        return found[0], found[1].copy()

    def keep(self, upload_id: str, segments: int, state: hashlib._Hash) -> None:
        with self._lock:
            self._states[upload_id] = (segments, state)
            self._states.move_to_end(upload_id)
            while len(self._states) > self.LIMIT:
                self._states.popitem(last=False)

    def forget(self, upload_id: str) -> None:
        with self._lock:
            self._states.pop(upload_id, None)
