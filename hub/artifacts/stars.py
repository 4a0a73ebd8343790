"""Stars: a signed-in user's mark on a repository they may see. Repository.stars is the count,
changed by +1/-1 in the transaction that adds or removes the Star row, so concurrent stars of
one repository serialise on its row instead of racing a recount; search reads it live
(hub/search/tables.py), so starring needs no re-index."""

from __future__ import annotations

from sqlalchemy import Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.artifacts import repositories
from hub.db.models import Repository, Star
from hub.oci.errors import NameUnknown


class StarService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _repository(self, session: Session, name: str, visible: set[int] | None) -> Repository:
        repo = repositories.get(session, name)
        if repo.private and visible is not None and repo.namespace_id not in visible:
            raise NameUnknown({"name": name}, f"repository {name!r} is not known")
        return repo

    def mark(self, user_id: int, name: str, starred: bool, visible: set[int] | None) -> int:
        """Star (or unstar) ``name`` for the user; idempotent. Returns the repository's star
        count. NameUnknown when it is missing or private to the caller (``visible`` as
        AccessService.visible_namespaces answers it)."""
        with Session(self.engine) as session:
            repo = self._repository(session, name, visible)
            assert repo.id is not None
            if starred:
                try:
                    with session.begin_nested():
                        session.add(Star(user_id=user_id, repository_id=repo.id))
                        session.flush()
                    changed = 1
                except IntegrityError:  # already starred (perhaps by a concurrent request)
                    changed = 0
            else:
                result = session.execute(
                    delete(Star).where(
                        col(Star.user_id) == user_id, col(Star.repository_id) == repo.id
                    )
                )
                changed = -1 if getattr(result, "rowcount", 0) else 0
            if changed:
                session.execute(
                    update(Repository)
                    .where(col(Repository.id) == repo.id)
                    .values(stars=col(Repository.stars) + changed)
                )
            session.commit()
            count = session.exec(select(Repository.stars).where(Repository.id == repo.id)).one()
            return int(count)

    def starred(self, user_id: int, repository_ids: list[int]) -> set[int]:
        """Which of ``repository_ids`` the user has starred."""
        if not repository_ids:
            return set()
        with Session(self.engine) as session:
            rows = session.exec(
                select(Star.repository_id).where(
                    col(Star.user_id) == user_id, col(Star.repository_id).in_(repository_ids)
                )
            ).all()
            return set(rows)
