"""Stream actions translated into the same domain calls as their unary twins."""

from __future__ import annotations

import asyncio

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.domain.service import ChatService
from chatsvc.errors import ChatError, ErrorCode, invalid, unimplemented
from chatsvc.transport.questions_rpc import QUESTION_ACTIONS, perform_question
from chatsvc.transport.reads_rpc import perform_mark_read

# Messages one stream may have queued and not yet stored; past this the stream
# reads no further actions until one is stored (HTTP/2 flow control then holds the client).
MAX_PIPELINED_SENDS = 64


async def queue_send(service: ChatService, principal: Principal, session_id: str, request: pb.StreamEventsRequest) -> asyncio.Future:
    """Check and queue a stream's `send_message`; the future gives (message, sequence) once stored."""
    action = request.send_message
    return await service.sending.queue_message(
        principal,
        session_id,
        action.text,
        recipient_id=action.recipient_id,
        client_message_id=action.client_message_id,
        reply_to_message_id=action.reply_to_message_id,
    )


async def stored_message(queued: asyncio.Future) -> pb.ActionAccepted:
    """The acknowledgement of a queued message, once stored."""
    message, sequence = await queued
    return pb.ActionAccepted(sequence=sequence, message_id=message.message_id)


def accepted(sequence: int, message_id: str = "") -> pb.ActionAccepted:
    return pb.ActionAccepted(sequence=sequence, message_id=message_id)


async def perform(service: ChatService, principal: Principal, session_id: str, request: pb.StreamEventsRequest) -> pb.ActionAccepted:
    """Run one action of a joined stream; returns its acknowledgement (without the request id)."""
    kind = request.WhichOneof("action")
    if kind is None:
        raise invalid("the request carries no action")
    if kind == "join":
        raise ChatError(ErrorCode.FAILED_PRECONDITION, f"this stream has already joined session {session_id!r}")
    if kind == "send_message":
        return await stored_message(await queue_send(service, principal, session_id, request))
    if kind in POLL_ACTIONS:
        return await perform_poll(service, principal, session_id, request)
    if kind in QUESTION_ACTIONS:
        return await perform_question(service, principal, session_id, request)
    if kind == "mark_read":
        return await perform_mark_read(service, principal, session_id, request)
    moderation = service.moderation
    if kind == "delete_message":
        _, sequence = await moderation.delete_message(principal, session_id, request.delete_message.message_id)
        return accepted(sequence, request.delete_message.message_id)
    if kind == "mute_user":
        action = request.mute_user
        _, sequence = await moderation.mute_user(principal, session_id, action.user_id, action.duration_minutes, action.reason)
        return accepted(sequence)
    if kind == "unmute_user":
        return accepted(await moderation.unmute_user(principal, session_id, request.unmute_user.user_id))
    if kind in ("add_reaction", "remove_reaction"):
        action = getattr(request, kind)
        react = service.reactions.add_reaction if kind == "add_reaction" else service.reactions.remove_reaction
        _, sequence = await react(principal, session_id, action.message_id, action.emoji)
        return accepted(sequence, action.message_id)
    if kind == "raise_hand":
        _, sequence = await service.hands.raise_hand(principal, session_id, request.raise_hand.user_id)
        return accepted(sequence)
    if kind == "lower_hand":
        return accepted(await service.hands.lower_hand(principal, session_id, request.lower_hand.user_id))
    if kind == "acknowledge_hand":
        _, sequence = await service.hands.acknowledge_hand(principal, session_id, request.acknowledge_hand.user_id)
        return accepted(sequence)
    if kind == "set_typing":
        await service.typing.set_typing(principal, session_id, request.set_typing.typing, request.set_typing.recipient_id)
        return accepted(0)
    if kind == "pin_message":
        _, sequence = await service.pins.pin_message(principal, session_id, request.pin_message.message_id)
        return accepted(sequence, request.pin_message.message_id)
    if kind == "unpin_message":
        return accepted(await service.pins.unpin_message(principal, session_id, request.unpin_message.message_id), request.unpin_message.message_id)
    raise unimplemented(kind.replace("_", " "))


POLL_ACTIONS = frozenset({"create_poll", "close_poll", "reopen_poll", "delete_poll", "cast_vote"})


async def perform_poll(service: ChatService, principal: Principal, session_id: str, request: pb.StreamEventsRequest) -> pb.ActionAccepted:
    """The poll actions: the acknowledgement names the poll, and a vote's carries the vote as recorded."""
    polls = service.polls
    kind = request.WhichOneof("action")
    if kind == "create_poll":
        poll, sequence = await create_poll(service, principal, session_id, request.create_poll)
        return pb.ActionAccepted(sequence=sequence, poll_id=poll.poll_id)
    if kind == "cast_vote":
        vote = request.cast_vote
        chosen, sequence = await polls.cast_vote(principal, session_id, vote.poll_id, list(vote.option_ids))
        return pb.ActionAccepted(sequence=sequence, poll_id=vote.poll_id, option_ids=chosen)
    poll_id = getattr(request, kind).poll_id
    if kind == "close_poll":
        _, sequence = await polls.close_poll(principal, session_id, poll_id)
    elif kind == "reopen_poll":
        _, sequence = await polls.reopen_poll(principal, session_id, poll_id)
    else:
        sequence = await polls.delete_poll(principal, session_id, poll_id)
    return pb.ActionAccepted(sequence=sequence, poll_id=poll_id)


async def create_poll(
    service: ChatService, principal: Principal, session_id: str, spec: pb.CreatePollAction | pb.CreatePollRequest
) -> tuple[pb.Poll, int]:
    """A poll as the stream action and the unary RPC describe it (the same fields in both)."""
    return await service.polls.create_poll(
        principal,
        session_id,
        spec.question,
        list(spec.options),
        multiple_choice=spec.multiple_choice,
        anonymous=spec.anonymous,
        results_hidden=spec.results_hidden_until_closed,
        instructors_vote=spec.instructors_vote,
        duration=spec.duration if spec.HasField("duration") else None,
    )
