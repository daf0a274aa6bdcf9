"""Deleted text kept out of stored events that are sent again (a resumed stream's replay).

Events are stored as they were sent, so a `message_posted` replayed after the
message was deleted would carry its text again; so would a pin, a mention, or a
reply's excerpt. Replayed events pass through `without_deleted_text`, which
rewrites only those that mention a deleted message: a replay in a session where
nothing was deleted costs one query and no decoding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.domain import views

# Past this many deleted messages, decoding each event (~0.7 µs for a 200-byte
# message_posted) is cheaper than searching its bytes for every deleted id
# (~0.15 µs per id).
MAX_IDS_SEARCHED = 4


def without_deleted_text(payloads: Sequence[bytes], deleted: Mapping[str, datetime]) -> list[bytes]:
    """The serialized events, with the text of the `deleted` messages (id -> deletion time) removed."""
    if not deleted:
        return list(payloads)
    keys = [message_id.encode() for message_id in deleted] if len(deleted) <= MAX_IDS_SEARCHED else None
    cleaned = []
    for payload in payloads:
        if keys is not None and not any(key in payload for key in keys):
            cleaned.append(payload)  # mentions no deleted message: sent as stored
        else:
            cleaned.append(_redacted(payload, deleted))
    return cleaned


def _redacted(payload: bytes, deleted: Mapping[str, datetime]) -> bytes:
    event = pb.Event.FromString(payload)
    changed = False
    for message in _messages_in(event):
        deleted_at = deleted.get(message.message_id)
        if deleted_at is not None:
            message.text = ""
            message.deleted = True
            message.delete_time.CopyFrom(views.timestamp(deleted_at))
            changed = True
        if message.HasField("reply_to") and message.reply_to.message_id in deleted and message.reply_to.excerpt:
            message.reply_to.excerpt = ""
            changed = True
    return event.SerializeToString() if changed else payload


def _messages_in(event: pb.Event) -> list[pb.ChatMessage]:
    """The chat messages an event carries (with their text and reply excerpts)."""
    kind = event.WhichOneof("kind")
    if kind == "message_posted":
        return [event.message_posted]
    if kind == "private_message_posted":
        return [event.private_message_posted]
    if kind == "message_pinned":
        return [event.message_pinned.message]
    if kind == "mentioned":
        return [event.mentioned.message]
    return []
