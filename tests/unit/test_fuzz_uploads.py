"""Random upload sequences (spec "Pushing blobs": POST, PATCH chunks with or without
Content-Range, PUT with or without a last chunk, status GETs, DELETE, in any order and with
wrong offsets or digests) against the app. A model of each session says what the registry
must answer: every blob is stored exactly right, or the request is refused with the spec's
code (416 for an out-of-order chunk, DIGEST_INVALID, BLOB_UPLOAD_UNKNOWN); never a 5xx, never
a wrong blob."""

from __future__ import annotations

import hashlib
import itertools
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    multiple,
    rule,
)

from tests.support.inprocess import TestClient, app_client

_runs = itertools.count()
_client: list[TestClient] = []
_contexts: list[AbstractContextManager[TestClient]] = []


def _shared_client() -> TestClient:
    if not _client:
        context = app_client(Path(tempfile.mkdtemp(prefix="fuzz-uploads-")))
        _client.append(context.__enter__())
        _contexts.append(context)
    return _client[0]


@pytest.fixture(scope="module", autouse=True)
def _close_app() -> Iterator[None]:
    yield
    for context in _contexts:
        context.__exit__(None, None, None)
    _client.clear()
    _contexts.clear()


chunks = st.binary(min_size=0, max_size=64)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Session:
    def __init__(self, location: str) -> None:
        self.location = location
        self.received = b""
        self.open = True


class UploadSequences(RuleBasedStateMachine):
    sessions = Bundle("sessions")

    def __init__(self) -> None:
        super().__init__()
        # One app for every example (building one costs a migration); each example gets a
        # repository of its own, so examples cannot see each other's blobs.
        self.client: TestClient = _shared_client()
        self.repo = f"fuzz/u{next(_runs)}"
        self.stored: dict[str, bytes] = {}  # digest -> bytes the registry must serve
        self.refused: set[str] = set()  # digests whose upload failed (must stay absent)

    def _no_server_error(self, status: int, text: str) -> None:
        assert status < 500, text

    @rule(target=sessions)
    def start(self) -> Session:
        r = self.client.post(f"/v2/{self.repo}/blobs/uploads/")
        assert r.status_code == 202, r.text
        assert r.headers["Range"] == "0-0"
        return Session(r.headers["Location"])

    @rule(session=sessions, data=chunks, honest=st.booleans(), offset=st.integers(0, 200))
    def patch(self, session: Session, data: bytes, honest: bool, offset: int) -> None:
        headers = {}
        start = len(session.received) if honest else offset
        if data:
            headers["Content-Range"] = f"{start}-{start + len(data) - 1}"
        r = self.client.patch(session.location, content=data, headers=headers)
        self._no_server_error(r.status_code, r.text)
        if not session.open:
            assert r.status_code == 404 and r.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
            return
        if data and start != len(session.received):
            assert r.status_code == 416, r.text  # out of order: refused, session unchanged
            return
        assert r.status_code == 202, r.text
        session.received += data
        assert r.headers["Range"] == f"0-{max(len(session.received) - 1, 0)}"

    @rule(session=sessions)
    def status(self, session: Session) -> None:
        r = self.client.get(session.location)
        self._no_server_error(r.status_code, r.text)
        if session.open:
            assert r.status_code == 204
            assert r.headers["Range"] == f"0-{max(len(session.received) - 1, 0)}"
        else:
            assert r.status_code == 404

    @rule(session=consumes(sessions), last=chunks, right_digest=st.booleans())
    def finish(self, session: Session, last: bytes, right_digest: bool) -> None:
        whole = session.received + last
        digest = digest_of(whole) if right_digest else digest_of(whole + b"!")
        r = self.client.put(session.location, params={"digest": digest}, content=last)
        self._no_server_error(r.status_code, r.text)
        if not session.open:
            assert r.status_code == 404
            return
        session.open = False
        if right_digest:
            assert r.status_code == 201, r.text
            assert r.headers["Docker-Content-Digest"] == digest
            self.stored[digest] = whole
            self.refused.discard(digest)
            self._served_exactly(digest, whole)
        else:
            assert r.status_code == 400 and r.json()["errors"][0]["code"] == "DIGEST_INVALID"
            if digest not in self.stored:
                self.refused.add(digest)

    @rule(session=consumes(sessions))
    def cancel(self, session: Session) -> None:
        r = self.client.delete(session.location)
        self._no_server_error(r.status_code, r.text)
        assert r.status_code == (204 if session.open else 404)
        session.open = False

    @rule(data=chunks)
    def monolithic(self, data: bytes) -> None:
        digest = digest_of(data)
        r = self.client.post(
            f"/v2/{self.repo}/blobs/uploads/", params={"digest": digest}, content=data
        )
        assert r.status_code == 201, r.text
        self.stored[digest] = data
        self.refused.discard(digest)
        self._served_exactly(digest, data)

    @rule(
        target=sessions,
        bogus=st.sampled_from(["00000000-0000-0000-0000-000000000000", "x", "..%2F..", "%00"]),
    )
    def unknown_session(self, bogus: str) -> object:
        r = self.client.patch(f"/v2/{self.repo}/blobs/uploads/{bogus}", content=b"abc")
        self._no_server_error(r.status_code, r.text)
        assert r.status_code in (400, 404)
        return multiple()

    def _served_exactly(self, digest: str, data: bytes) -> None:
        r = self.client.get(f"/v2/{self.repo}/blobs/{digest}")
        assert r.status_code == 200 and r.content == data

    def teardown(self) -> None:
        # At the end of every sequence, every blob is still exact and no refused one appeared.
        for digest, data in self.stored.items():
            r = self.client.get(f"/v2/{self.repo}/blobs/{digest}")
            assert r.status_code == 200 and r.content == data
        for digest in self.refused:
            assert self.client.head(f"/v2/{self.repo}/blobs/{digest}").status_code == 404


UploadSequences.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
test_upload_sequences = UploadSequences.TestCase
