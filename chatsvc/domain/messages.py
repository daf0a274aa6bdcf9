"""Reads about messages every feature shares: may this user see a message, may they write privately
to that user, and the originals a page of replies quotes. Plain functions of an open `Session`."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from chatsvc.auth import Principal, Role
from chatsvc.domain.visibility import may_see
from chatsvc.errors import denied, not_found
from chatsvc.storage import repository as repo
from chatsvc.storage.tables import Message


def check_private_recipient(db: Session, session_id: str, sender: Principal, recipient_id: str) -> None:
    """NOT_FOUND unless the recipient joined; participants may write privately only to instructors."""
    recipient = repo.get_member(db, session_id, recipient_id)
    if recipient is None:
        raise not_found(f"user {recipient_id!r} has not joined session {session_id!r}")
    if not sender.is_instructor and recipient.role != Role.INSTRUCTOR.value:
        raise denied("participants may write privately only to instructors")


def visible_message(db: Session, session_id: str, message_id: str, principal: Principal) -> Message:
    """The message, or NOT_FOUND when it does not exist or is another pair's private message."""
    message = repo.get_message(db, session_id, message_id)
    if message is None or not may_see(message, principal):
        raise not_found(f"message {message_id!r} does not exist in session {session_id!r}")
    return message


def reply_originals(db: Session, session_id: str, rows: Iterable[Message]) -> dict[str, Message]:
    """The messages that `rows` reply to, by id (each read once)."""
    originals: dict[str, Message] = {}
    for row in rows:
        if row.reply_to_id and row.reply_to_id not in originals:
            original = repo.get_message(db, session_id, row.reply_to_id)
            if original is not None:
                originals[original.id] = original
    return originals
