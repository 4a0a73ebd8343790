"""Content digests (OCI image-spec descriptor.md#digests): ``algorithm:encoded``."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# image-spec registers sha256 and sha512; both are lower-case hex of a fixed length.
ALGORITHMS = {"sha256": 64, "sha512": 128}
_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


class InvalidDigest(ValueError):
    """The string is not a digest this registry can verify."""


@dataclass(frozen=True, order=True)
class Digest:
    algorithm: str
    hex: str

    @classmethod
    def parse(cls, raw: str) -> Digest:
        if not _GRAMMAR.match(raw):
            raise InvalidDigest(f"{raw!r} is not of the form algorithm:hex")
        algorithm, _, encoded = raw.partition(":")
        if algorithm not in ALGORITHMS:
            raise InvalidDigest(
                f"digest algorithm {algorithm!r} is not supported; use one of {sorted(ALGORITHMS)}"
            )
        if len(encoded) != ALGORITHMS[algorithm] or not re.fullmatch(r"[0-9a-f]+", encoded):
            raise InvalidDigest(
                f"{raw!r}: a {algorithm} digest is "
                f"{ALGORITHMS[algorithm]} lower-case hex characters"
            )
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def is_digest(reference: str) -> bool:
    """A manifest reference is a digest when it holds a colon; tags cannot (spec: tag grammar)."""
    return ":" in reference
