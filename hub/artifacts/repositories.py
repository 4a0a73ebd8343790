"""Repository rows: look-up and race-safe creation on first push."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from hub.db.models import Namespace, Repository
from hub.oci.errors import NameUnknown


def find(session: Session, name: str) -> Repository | None:
    return session.exec(select(Repository).where(Repository.name == name)).first()


def get(session: Session, name: str) -> Repository:
    repo = find(session, name)
    if repo is None:
        raise NameUnknown({"name": name}, f"repository {name!r} is not known to this registry")
    return repo


def namespace_of(name: str) -> str:
    return name.split("/", 1)[0]


def ensure_namespace(session: Session, name: str) -> Namespace:
    found = session.exec(select(Namespace).where(Namespace.name == name)).first()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            found = Namespace(name=name)
            session.add(found)
            session.flush()
    except IntegrityError:
        found = session.exec(select(Namespace).where(Namespace.name == name)).one()
    return found


def ensure(session: Session, name: str) -> Repository:
    """The repository (and its namespace), created if new. Two replicas may race to create
    it; the loser reads the winner's row."""
    repo = find(session, name)
    if repo is not None:
        return repo
    namespace = ensure_namespace(session, namespace_of(name))
    try:
        with session.begin_nested():
            repo = Repository(name=name, namespace_id=namespace.id)
            session.add(repo)
            session.flush()
    except IntegrityError:
        repo = find(session, name)
        assert repo is not None
    return repo
