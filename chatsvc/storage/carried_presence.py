"""Queries for presence carried across a restart (`PresenceCarried`): a stopping server leaves
the users still in their grace, the next one to start takes them (and the rows are gone).

Every function takes an open Session (on a database thread); callers own transactions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from chatsvc.storage.tables import PresenceCarried


def leave(db: Session, people: list[tuple[str, str, str, str]], now: datetime) -> None:
    """Keep each (session id, user id, name, role); one row per user and session."""
    if not people:
        return
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    rows = [dict(session_id=s, user_id=u, display_name=n, role=r, stopped_at=now) for s, u, n, r in people]
    db.exec(insert(PresenceCarried).values(rows).on_conflict_do_nothing(index_elements=["session_id", "user_id"]))


def take(db: Session) -> list[tuple[str, str, str, str]]:
    """Every (session id, user id, name, role) left, removed as it is read."""
    rows = [(row.session_id, row.user_id, row.display_name, row.role) for row in db.exec(select(PresenceCarried)).all()]
    db.exec(delete(PresenceCarried))
    return rows
