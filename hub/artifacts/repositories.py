"""Repository rows: look-up and race-safe creation on first push."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from hub.db.models import Repository
from hub.oci.errors import NameUnknown


def find(session: Session, name: str) -> Repository | None:
    return session.exec(select(Repository).where(Repository.name == name)).first()


def get(session: Session, name: str) -> Repository:
    repo = find(session, name)
    if repo is None:
        raise NameUnknown({"name": name}, f"repository {name!r} is not known to this registry")
    return repo


def ensure(session: Session, name: str) -> Repository:
    """The repository, created if new. Two replicas may race to create it; the loser reads the
    winner's row."""
    repo = find(session, name)
    if repo is not None:
        return repo
    try:
        with session.begin_nested():
            repo = Repository(name=name)
            session.add(repo)
            session.flush()
    except IntegrityError:
        repo = find(session, name)
        assert repo is not None
    return repo
