"""The handle the contract suite gets for each backend (built in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hub.storage import Storage


@dataclass
class Backend:
    """A way to build the backend under test, plus what the test may check from outside it."""

    name: str
    #: make(redirect=..., part_size=...) -> a Storage over this test's (shared) backing store;
    #: S3 honours both, the others have neither and ignore them.
    make: Callable[..., Storage]
    #: Everything physically stored: keys, temporary files, unfinished multipart uploads.
    #: After a failed write it must hold exactly what was there before.
    leftovers: Callable[[], list[str]]
    #: GET a redirect URL and return the body (None: the backend never redirects).
    fetch: Callable[[str], bytes] | None = None

    @property
    def is_s3(self) -> bool:
        return self.name.startswith("s3-")


#: Every Storage implementation the contract suite runs on.
BACKENDS = ["memory", "filesystem", "s3-moto", "s3-seaweedfs"]
