"""@mentions: who a message names, and the event that tells each of them."""

from __future__ import annotations

import re

from sessionchat.v1 import chat_pb2 as pb
from sqlmodel import Session

from chatsvc.auth import Principal
from chatsvc.domain.events import Change
from chatsvc.domain.visibility import only
from chatsvc.storage import interactions as store

# A mention starts with @ that does not follow a letter or digit (so e-mail addresses are not mentions).
MENTION_START = re.compile(r"(?<![\w@])@")


def find_mentions(db: Session, session_id: str, sender: Principal, text: str, recipient_id: str) -> list[str]:
    """The user ids `@mentioned` in a message, in order of appearance.

    A mention is `@` followed by a member's user id or display name (any
    case, the longest that fits, ending at a non-word character). Members
    are everyone who joined or acted in the session; in a private message
    only its other party can be mentioned; nobody mentions themselves.
    """
    if "@" not in text:
        return []
    members = store.member_names(db, session_id)
    names: list[tuple[str, str]] = []
    for user_id, display_name in members:
        if user_id == sender.user_id or (recipient_id and user_id != recipient_id):
            continue
        for name in {user_id.casefold(), display_name.strip().casefold()}:
            if name:
                names.append((name, user_id))
    names.sort(key=lambda item: -len(item[0]))
    found: list[str] = []
    for start in MENTION_START.finditer(text):
        rest = text[start.end() : start.end() + 130].casefold()  # user ids: up to 128 characters
        for name, user_id in names:
            if rest.startswith(name) and (len(rest) == len(name) or not _is_word(rest[len(name)])):
                if user_id not in found:
                    found.append(user_id)
                break
    return found


def announce_mentions(change: Change, view: pb.ChatMessage) -> None:
    """A `mentioned` event to each mentioned user only (persisted: it is replayed on resume)."""
    for user_id in view.mentioned_user_ids:
        change.emit(only(user_id), mentioned=pb.Mentioned(message=view))


def _is_word(character: str) -> bool:
    return character.isalnum() or character == "_"
