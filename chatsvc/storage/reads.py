"""Queries for read receipts: users' read marks (one row each) and the presence changes
that tell who was online when a message was posted.

Every function takes an open Session (on a database thread); callers own transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from chatsvc.storage.tables import Message, PresenceChange, ReadMark, table_of

PRESENCE_TABLE = table_of(PresenceChange)


def raise_marks(db: Session, marks: dict[tuple[str, str], int], now: datetime) -> None:
    """Store each (session, user) mark, keeping the higher of the stored and the new one."""
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    rows = [dict(session_id=s, user_id=u, last_read_sequence=q, updated_at=now) for (s, u), q in marks.items()]
    statement = insert(ReadMark).values(rows)
    db.exec(
        statement.on_conflict_do_update(
            index_elements=["session_id", "user_id"],
            set_={
                "last_read_sequence": func.max(col(ReadMark.last_read_sequence), statement.excluded.last_read_sequence)
                if db.get_bind().dialect.name == "sqlite"
                else func.greatest(col(ReadMark.last_read_sequence), statement.excluded.last_read_sequence),
                "updated_at": statement.excluded.updated_at,
            },
        )
    )


def marks(db: Session, session_id: str, user_ids: Sequence[str] | None = None) -> dict[str, int]:
    """user id -> highest sequence marked read (all the session's users, or those given)."""
    statement = select(ReadMark.user_id, ReadMark.last_read_sequence).where(col(ReadMark.session_id) == session_id)
    if user_ids is not None:
        statement = statement.where(col(ReadMark.user_id).in_(list(set(user_ids))))
    return {user_id: int(sequence) for user_id, sequence in db.exec(statement).all()}


def add_presence_changes(db: Session, rows: list[dict]) -> None:
    db.connection().execute(PRESENCE_TABLE.insert(), rows)


def presence_changes(db: Session, session_id: str, through: int) -> list[tuple[int, str, str, bool]]:
    """(sequence, user id, name, joined) of the session's presence changes up to `through`, in order."""
    statement = (
        select(PresenceChange.sequence, PresenceChange.user_id, PresenceChange.display_name, PresenceChange.joined)
        .where(col(PresenceChange.session_id) == session_id, col(PresenceChange.sequence) <= through)
        .order_by(col(PresenceChange.sequence))
    )
    return [(int(q), u, n, bool(j)) for q, u, n, j in db.exec(statement).all()]


def receipt_messages(db: Session, session_id: str, viewer_id: str, *, offset: int, limit: int, since: int = 0) -> Sequence[Message]:
    """Messages the viewer may see (public and their own private ones, not deleted), newest first."""
    statement = (
        select(Message)
        .where(
            col(Message.session_id) == session_id,
            col(Message.deleted_at).is_(None),
            col(Message.sequence) > since,
            (col(Message.recipient_id).is_(None)) | (col(Message.sender_id) == viewer_id) | (col(Message.recipient_id) == viewer_id),
        )
        .order_by(col(Message.sequence).desc())
        .offset(offset)
        .limit(limit)
    )
    return db.exec(statement).all()
