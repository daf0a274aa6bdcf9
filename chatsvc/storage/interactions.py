"""Queries for reactions, raised hands, pins, mentions and export (issue 4).

Every function takes an open Session (on a database thread); callers own transactions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, Row, case, delete, func, or_
from sqlmodel import Session, col, select

from chatsvc.storage.tables import Member, Message, RaisedHandRecord, Reaction, table_of

# ------------------------------------------------------------------ reactions


def get_reaction(db: Session, message_id: str, user_id: str, emoji: str) -> Reaction | None:
    return db.get(Reaction, (message_id, user_id, emoji))


def delete_reaction(db: Session, message_id: str, user_id: str, emoji: str) -> None:
    db.exec(
        delete(Reaction).where(
            col(Reaction.message_id) == message_id, col(Reaction.user_id) == user_id, col(Reaction.emoji) == emoji
        )
    )


def count_reactions(db: Session, message_id: str, emoji: str) -> int:
    statement = (
        select(func.count()).select_from(Reaction).where(col(Reaction.message_id) == message_id, col(Reaction.emoji) == emoji)
    )
    return int((db.exec(statement)).one())


def reactions_of(db: Session, message_id: str) -> Sequence[Reaction]:
    statement = (
        select(Reaction)
        .where(col(Reaction.message_id) == message_id)
        .order_by(col(Reaction.created_at).asc(), col(Reaction.user_id).asc(), col(Reaction.emoji).asc())
    )
    return (db.exec(statement)).all()


def reaction_tallies(
    db: Session, message_ids: Sequence[str], viewer_id: str
) -> dict[str, list[tuple[str, int, bool]]]:
    """message id -> [(emoji, count, whether the viewer reacted so)], for the given messages."""
    if not message_ids:
        return {}
    mine = func.sum(case((col(Reaction.user_id) == viewer_id, 1), else_=0))
    statement = (
        select(Reaction.message_id, Reaction.emoji, func.count(), mine)
        .where(col(Reaction.message_id).in_(list(message_ids)))
        .group_by(col(Reaction.message_id), col(Reaction.emoji))
        .order_by(col(Reaction.message_id), func.min(Reaction.created_at))
    )
    tallies: dict[str, list[tuple[str, int, bool]]] = {}
    for message_id, emoji, count, by_viewer in (db.exec(statement)).all():
        tallies.setdefault(message_id, []).append((emoji, int(count), bool(by_viewer)))
    return tallies


def reactions_by_users(db: Session, message_ids: Sequence[str], user_ids: Sequence[str]) -> list[tuple[str, str, str]]:
    """(message_id, user_id, emoji) of the given users' reactions on the given messages."""
    if not message_ids or not user_ids:
        return []
    statement = select(Reaction.message_id, Reaction.user_id, Reaction.emoji).where(
        col(Reaction.message_id).in_(list(message_ids)), col(Reaction.user_id).in_(list(set(user_ids)))
    )
    return [(message_id, user_id, emoji) for message_id, user_id, emoji in db.exec(statement).all()]


def reactions_for_messages(db: Session, message_ids: Sequence[str]) -> Sequence[tuple[str, str, str]]:
    """(message_id, user_id, emoji) of every reaction on the given messages, oldest first (plain rows: fast)."""
    if not message_ids:
        return []
    statement = (
        select(Reaction.message_id, Reaction.user_id, Reaction.emoji)
        .where(col(Reaction.message_id).in_(list(message_ids)))
        .order_by(col(Reaction.created_at).asc(), col(Reaction.user_id).asc())
    )
    return (db.exec(statement)).all()


# ------------------------------------------------------------------ raised hands


def get_hand(db: Session, session_id: str, user_id: str) -> RaisedHandRecord | None:
    return db.get(RaisedHandRecord, (session_id, user_id))


def delete_hand(db: Session, session_id: str, user_id: str) -> None:
    db.exec(
        delete(RaisedHandRecord).where(col(RaisedHandRecord.session_id) == session_id, col(RaisedHandRecord.user_id) == user_id)
    )


# ------------------------------------------------------------------ mentions


def member_names(db: Session, session_id: str) -> Sequence[tuple[str, str]]:
    """(user id, display name) of everyone who joined or acted in the session."""
    statement = select(Member.user_id, Member.display_name).where(col(Member.session_id) == session_id)
    return [(user_id, name) for user_id, name in (db.exec(statement)).all()]


# ------------------------------------------------------------------ export


MESSAGE_TABLE = table_of(Message)
MESSAGE_COLUMNS = MESSAGE_TABLE.c


def messages_page(
    db: Session,
    session_id: str,
    *,
    after_sequence: int,
    through_sequence: int,
    limit: int,
    private_viewer_id: str | None,
) -> Sequence[Row]:
    """Messages as plain rows (the attributes of `Message`, without ORM overhead), oldest first:
    public ones, plus the private ones `private_viewer_id` is a party of (when given)."""
    c = MESSAGE_COLUMNS
    visible: ColumnElement[bool]
    if private_viewer_id is None:
        visible = c.recipient_id.is_(None)
    else:
        visible = or_(c.recipient_id.is_(None), c.sender_id == private_viewer_id, c.recipient_id == private_viewer_id)
    statement = (
        MESSAGE_TABLE.select()
        .where(c.session_id == session_id, c.sequence > after_sequence, c.sequence <= through_sequence, visible)
        .order_by(c.sequence.asc())
        .limit(limit)
    )
    # A Core select of whole rows: Session.exec's type hints know only SQLModel's own selects.
    return db.execute(statement).all()


def messages_by_id(db: Session, session_id: str, message_ids: Iterable[str]) -> dict[str, Row]:
    ids = list(set(message_ids))
    if not ids:
        return {}
    c = MESSAGE_COLUMNS
    statement = MESSAGE_TABLE.select().where(c.session_id == session_id, c.id.in_(ids))
    return {row.id: row for row in db.execute(statement).all()}
