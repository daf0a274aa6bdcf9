"""Reads about messages every feature shares: may this user see a message, may they write privately
to that user, the originals a page of replies quotes, and messages as a viewer sees them (with
quotes and reaction counts). Plain functions of an open `Session`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from sessionchat.v1 import chat_pb2 as pb
from sqlmodel import Session

from chatsvc.auth import Principal, Role
from chatsvc.domain import views
from chatsvc.domain.visibility import may_see
from chatsvc.errors import denied, not_found
from chatsvc.storage import interactions as store
from chatsvc.storage import repository as repo
from chatsvc.storage.tables import Message

# (db, session id, rows, viewer id) -> the rows as that viewer sees them; `message_views` with the reaction order bound.
MessageViews = Callable[[Session, str, Sequence[Message], str], list[pb.ChatMessage]]


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


def live_message(db: Session, session_id: str, message_id_: str, principal: Principal) -> Message:
    """A message the user may see and that is not deleted."""
    message = visible_message(db, session_id, message_id_, principal)
    if message.deleted_at is not None:
        raise not_found(f"message {message_id_!r} was deleted")
    return message


def reaction_counts(db: Session, rows: Sequence[Message], viewer_id: str, order: Sequence[str]) -> dict[str, list[pb.ReactionCount]]:
    """message id -> its reaction counts as `viewer_id` sees them (in the configured `order` first)."""
    tallies = store.reaction_tallies(db, [row.id for row in rows], viewer_id)
    position = {emoji: index for index, emoji in enumerate(order)}
    counts: dict[str, list[pb.ReactionCount]] = {}
    for message_id_, items in tallies.items():
        items = sorted(items, key=lambda item: position.get(item[0], len(position)))
        counts[message_id_] = [pb.ReactionCount(emoji=e, count=n, reacted_by_me=mine) for e, n, mine in items]
    return counts


def message_views(db: Session, session_id: str, rows: Sequence[Message], viewer_id: str, *, reaction_order: Sequence[str]) -> list[pb.ChatMessage]:
    """Messages as `viewer_id` sees them: with the replied-to excerpts and reaction counts."""
    replies = reply_originals(db, session_id, rows)
    reactions = reaction_counts(db, rows, viewer_id, reaction_order)
    return [
        views.message(
            row, reply_to=replies.get(row.reply_to_id) if row.reply_to_id is not None else None, reactions=reactions.get(row.id, ())
        )
        for row in rows
    ]
