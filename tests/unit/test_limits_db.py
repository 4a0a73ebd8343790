"""Quota enforcement and the database rate counter on both databases (the PostgreSQL paths
lock the namespace row and upsert with RETURNING)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from hub.db.models import Blob, Namespace, Repository, RepositoryBlob
from hub.limits import quotas
from hub.limits.ratelimit import DatabaseCounter
from tests.support.databases import engine_fixture

engine = engine_fixture("limits")


def test_quota_counts_unique_linked_bytes(engine: Engine) -> None:
    with Session(engine) as session:
        ns = Namespace(name="acme", quota_bytes=100)
        session.add(ns)
        session.flush()
        one = Repository(name="acme/one", namespace_id=ns.id)
        two = Repository(name="acme/two", namespace_id=ns.id)
        session.add_all([one, two])
        session.add_all([Blob(digest="sha256:aa", size=60), Blob(digest="sha256:bb", size=50)])
        session.flush()
        assert one.id is not None and two.id is not None and ns.id is not None
        quotas.enforce(session, one.id, "sha256:aa", 60)
        session.add(RepositoryBlob(repository_id=one.id, digest="sha256:aa"))
        session.flush()
        # The same bytes in another repository of the namespace cost nothing more...
        quotas.enforce(session, two.id, "sha256:aa", 60)
        session.add(RepositoryBlob(repository_id=two.id, digest="sha256:aa"))
        session.flush()
        assert quotas.used_bytes(session, ns.id) == 60
        # ...new bytes that do not fit are refused, with the numbers.
        with pytest.raises(quotas.QuotaExceeded) as refused:
            quotas.enforce(session, two.id, "sha256:bb", 50)
        assert refused.value.status == 413 and refused.value.code == "DENIED"
        assert refused.value.detail == {"namespace": "acme", "quota": 100, "used": 60, "adding": 50}
        session.commit()
    service = quotas.QuotaService(engine)
    with pytest.raises(quotas.QuotaExceeded):
        service.precheck("acme/three", 41)
    service.precheck("acme/three", 40)
    service.precheck("acme/three", 500, "sha256:aa")  # already held: fits
    assert service.set("acme", None) == quotas.Usage("acme", 60, None)
    service.precheck("acme/three", 10**12)


def test_parse_size() -> None:
    assert quotas.parse_size("500MiB") == 500 * 1024**2
    assert quotas.parse_size("2GB") == 2 * 1000**3
    assert quotas.parse_size("1048576") == 1048576
    assert quotas.parse_size("none") is None
    with pytest.raises(ValueError, match="not a size"):
        quotas.parse_size("lots")


def test_database_counter_counts_per_key_and_window(engine: Engine) -> None:
    counter = DatabaseCounter(engine)
    assert [counter._hit("addr:10.0.0.1", 3600) for _ in range(3)] == [1, 2, 3]
    assert counter._hit("addr:10.0.0.2", 3600) == 1
