"""How stored rows look to clients: the protobuf messages of the API."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from google.protobuf.timestamp_pb2 import Timestamp
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal, Role
from chatsvc.clock import as_utc
from chatsvc.storage.tables import (
    AuditEntry,
    ChatSession,
    Member,
    Message,
    MuteRecord,
    PollRecord,
    RaisedHandRecord,
)

ROLE_TO_PROTO = {Role.INSTRUCTOR.value: pb.ROLE_INSTRUCTOR, Role.PARTICIPANT.value: pb.ROLE_PARTICIPANT}
EXCERPT_LENGTH = 80


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(as_utc(value))
    return stamp


def epoch_timestamp(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1_000_000_000))
    return stamp


def role(value: str | Role) -> pb.Role:
    return ROLE_TO_PROTO.get(value.value if isinstance(value, Role) else value, pb.ROLE_UNSPECIFIED)


def participant(principal: Principal, *, online: bool) -> pb.Participant:
    return pb.Participant(
        user_id=principal.user_id, display_name=principal.display_name, role=role(principal.role), online=online
    )


def member(row: Member, *, online: bool) -> pb.Participant:
    return pb.Participant(user_id=row.user_id, display_name=row.display_name, role=role(row.role), online=online)


def message(
    row: Message, *, reply_to: Message | None = None, show_deleted_text: bool = False, reactions=()
) -> pb.ChatMessage:
    """`reactions`: the message's ReactionCounts as the receiving user sees them."""
    view = pb.ChatMessage(
        message_id=row.id,
        session_id=row.session_id,
        sequence=row.sequence,
        sender_id=row.sender_id,
        sender_name=row.sender_name,
        sender_role=role(row.sender_role),
        recipient_id=row.recipient_id or "",
        text=row.text if row.deleted_at is None or show_deleted_text else "",
        create_time=timestamp(row.created_at),
        client_message_id=row.client_message_id or "",
        deleted=row.deleted_at is not None,
        mentioned_user_ids=list(row.mentions or ()),
        pinned=row.pinned_at is not None,
        reactions=reactions,
    )
    if row.deleted_at is not None:
        view.delete_time.CopyFrom(timestamp(row.deleted_at))
    if reply_to is not None:
        view.reply_to.CopyFrom(reply_ref(reply_to))
    elif row.reply_to_id:
        view.reply_to.message_id = row.reply_to_id
    return view


def reply_ref(original: Message) -> pb.ReplyRef:
    excerpt = "" if original.deleted_at is not None else original.text[:EXCERPT_LENGTH]
    return pb.ReplyRef(message_id=original.id, sender_id=original.sender_id, excerpt=excerpt)


def mute(row: MuteRecord) -> pb.Mute:
    view = pb.Mute(
        user_id=row.user_id,
        muted_by=row.muted_by or "",
        reason=row.reason,
        start_time=timestamp(row.started_at),
        automatic=row.automatic,
    )
    if row.ends_at is not None:
        view.end_time.CopyFrom(timestamp(row.ends_at))
    return view


def raised_hand(row: RaisedHandRecord, position: int) -> pb.RaisedHand:
    return pb.RaisedHand(
        user_id=row.user_id,
        display_name=row.display_name,
        raise_time=timestamp(row.raised_at),
        position=position,
        acknowledged=row.acknowledged_by is not None,
        acknowledged_by=row.acknowledged_by or "",
    )


def policy(session: ChatSession | None) -> pb.ChatPolicy:
    """The chat policy of a session (the defaults for one that has no row yet)."""
    if session is None:
        return pb.ChatPolicy(public_chat=pb.PUBLIC_CHAT_EVERYONE, private_chat_enabled=True, slow_mode_seconds=0)
    return pb.ChatPolicy(
        # The column keeps the enum's number; protobuf's type hints want the enum type.
        public_chat=cast(pb.PublicChat, session.public_chat),
        private_chat_enabled=session.private_chat_enabled,
        slow_mode_seconds=session.slow_mode_seconds,
    )


def audit(row: AuditEntry) -> pb.AuditEvent:
    return pb.AuditEvent(
        id=row.id,
        session_id=row.session_id,
        actor_id=row.actor_id or "",
        target_user_id=row.target_user_id or "",
        action=row.action,
        reason=row.reason,
        message_id=row.message_id or "",
        time=timestamp(row.created_at),
    )


def poll_results(
    poll: PollRecord, voter_count: int, counts: dict[str, int], voters: dict[str, list[str]] | None = None
) -> pb.PollResults:
    """A poll's tally; `voters` (who chose each option) only for instructors' views of named polls."""
    results = pb.PollResults(poll_id=poll.id, voter_count=voter_count)
    for index in range(1, len(poll.options) + 1):
        option_id = str(index)
        count = counts.get(option_id, 0)
        percent = round(100.0 * count / voter_count, 1) if voter_count else 0.0
        chosen = (voters or {}).get(option_id, []) if not poll.anonymous else []
        results.options.add(option_id=option_id, vote_count=count, percent=percent, voter_ids=chosen)
    return results


def poll(row: PollRecord, *, closed: bool, results: pb.PollResults | None, my_option_ids: list[str]) -> pb.Poll:
    view = pb.Poll(
        poll_id=row.id,
        question=row.question,
        options=[pb.PollOption(option_id=str(index), text=text) for index, text in enumerate(row.options, start=1)],
        multiple_choice=row.multiple_choice,
        anonymous=row.anonymous,
        results_hidden_until_closed=row.results_hidden,
        instructors_vote=row.instructors_vote,
        state=pb.POLL_STATE_CLOSED if closed else pb.POLL_STATE_OPEN,
        created_by=row.created_by,
        create_time=timestamp(row.created_at),
        closed_by=row.closed_by or "",
        my_option_ids=my_option_ids,
    )
    if row.closes_at is not None:
        view.scheduled_close_time.CopyFrom(timestamp(row.closes_at))
    if closed:
        view.close_time.CopyFrom(timestamp(row.closed_at or row.closes_at or row.created_at))
    if results is not None:
        view.results.CopyFrom(results)
    return view
