"""Who may see what: messages and the audiences of events."""

from __future__ import annotations

from chatsvc.auth import Principal
from chatsvc.fanout.hub import Audience
from chatsvc.storage.tables import Message


def may_see(message: Message, principal: Principal) -> bool:
    """Public messages are seen by everyone; private ones by their two parties only."""
    return message.recipient_id is None or principal.user_id in (message.sender_id, message.recipient_id)


def message_audience(message: Message) -> Audience:
    if message.recipient_id is None:
        return Audience()
    return Audience(everyone=False, instructors=False, parties=(message.sender_id, message.recipient_id))


def concerning(user_id: str) -> Audience:
    """The user concerned and the instructors (mutes and strikes are not public)."""
    return Audience(everyone=False, instructors=True, parties=(user_id,))


def only(user_id: str) -> Audience:
    """An event for one user alone."""
    return Audience(everyone=False, instructors=False, parties=(user_id,))


def instructors_only() -> Audience:
    """An event for the session's instructors (a poll's results while hidden from participants)."""
    return Audience(everyone=False, instructors=True, parties=())
