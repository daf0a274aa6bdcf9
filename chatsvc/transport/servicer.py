"""The SessionChat servicer: protobuf in, domain call, protobuf out. No rules here."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

import grpc
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.domain import validation
from chatsvc.domain.service import ChatService
from chatsvc.domain.streams import StreamOpening
from chatsvc.errors import ChatError, invalid, unimplemented
from chatsvc.metrics import JOIN_DURATION
from chatsvc.transport.actions import (
    MAX_PIPELINED_SENDS,
    create_poll,
    perform,
    queue_send,
    stored_message,
)
from chatsvc.transport.call_records import action_answered, current_record
from chatsvc.transport.errors import as_chat_error
from chatsvc.transport.interceptors import current_principal, current_token_expiry
from chatsvc.transport.questions_rpc import QuestionRpcs
from chatsvc.transport.reads_rpc import ReadRpcs

log = logging.getLogger(__name__)


class SessionChatServicer(QuestionRpcs, ReadRpcs):
    def __init__(self, service: ChatService, prepare_token: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.service = service
        # Fetches, off the event loop, the identity provider's key a fresh token names (TokenVerifier.prepare).
        self.prepare_token = prepare_token

    # ------------------------------------------------------------ live streams

    async def StreamEvents(self, request_iterator, context: grpc.aio.ServicerContext) -> None:
        await context.send_initial_metadata(())
        requests = aiter(request_iterator)
        opening = await self._join_from_stream(requests, context)
        if opening is None:
            return  # the client closed before joining
        reader = asyncio.create_task(self._run_actions(requests, opening))
        try:
            await self._write_events(opening, context)
        finally:
            reader.cancel()
            await asyncio.shield(self.service.live.close(opening))

    async def Subscribe(self, request: pb.SubscribeRequest, context: grpc.aio.ServicerContext) -> None:
        opening = await self._open(current_principal(), request.session_id, request.last_sequence, current_token_expiry())
        try:
            await context.send_initial_metadata(())
            await self._write_events(opening, context)
        finally:
            await asyncio.shield(self.service.live.close(opening))

    async def _join_from_stream(self, requests, context) -> StreamOpening | None:
        """Wait for a valid `join`; anything else before it gets an error event."""
        principal, token_expires = current_principal(), current_token_expiry()
        async for request in requests:
            try:
                if request.WhichOneof("action") != "join":
                    raise invalid("the first request on a stream must be 'join'")
                validation.request_fields(request)
                join = request.join
                opening = await self._open(principal, join.session_id, join.last_sequence, token_expires)
                action_answered("join")
                return opening
            except ChatError as error:
                action_answered(request.WhichOneof("action"), error)
                request_id = request.request_id[: validation.MAX_ID_LENGTH]
                await context.write(self.service.live.rejected(request.join.session_id[: validation.MAX_ID_LENGTH], request_id, error))
        return None

    async def _open(self, principal: Principal, session_id: str, last_sequence: int, token_expires: float) -> StreamOpening:
        """Join the session (timed: chatsvc_join_duration_seconds); the call's record learns its session and subscriber."""
        started = time.perf_counter()
        opening = await self.service.live.open(principal, session_id, last_sequence, token_expires)
        JOIN_DURATION.observe(time.perf_counter() - started)
        record = current_record()
        if record is not None:
            record.session_id, record.subscriber = session_id, opening.subscriber
        return opening

    async def _write_events(self, opening: StreamOpening, context) -> None:
        await self._write_initial(opening, context)
        subscriber = opening.subscriber
        while True:
            await context.write(await subscriber.next_batch())

    async def _write_initial(self, opening: StreamOpening, context) -> None:
        """Write what the stream starts with, then let go of it: the join snapshot lists
        everyone online (about 9 KB at 1,000), and keeping it for the stream's life made
        memory per subscriber grow with the size of the class (chatsvc bench)."""
        initial, opening.initial = opening.initial, []
        for response in opening.subscriber.initial_responses(initial):
            await context.write(response)

    async def _run_actions(self, requests, opening: StreamOpening) -> None:
        """Perform a stream's actions in order, each answered by an accept or an error event.

        Messages are pipelined: the next action is read once a message is
        queued, not once it is stored, so one stream can send faster than one
        message per commit (the service stores a session's messages in the
        order they were queued). Any other action first waits for the stream's
        queued messages.
        """
        session_id = opening.subscriber.session_id
        sending: deque[asyncio.Task] = deque()
        try:
            async for request in requests:
                kind = request.WhichOneof("action")
                try:
                    validation.request_fields(request)
                except ChatError as error:
                    self._refuse(opening, request, error)
                    continue
                if kind == "refresh_token":  # answered at once, even while messages are being stored
                    await self._answer(opening, request, self._refresh_token(opening, request.refresh_token.token))
                    continue
                try:
                    self._check_token(opening)
                except ChatError as error:
                    self._refuse(opening, request, error)
                    continue
                if kind != "send_message":
                    await _settle(sending, keep=0)
                    await self._answer(opening, request, perform(self.service, opening.principal, session_id, request))
                    continue
                await _settle(sending, keep=MAX_PIPELINED_SENDS - 1)
                try:
                    queued = await queue_send(self.service, opening.principal, session_id, request)
                except Exception as error:
                    self._refuse(opening, request, error)
                    continue
                sending.append(asyncio.ensure_future(self._answer(opening, request, stored_message(queued))))
            await _settle(sending, keep=0)
        finally:
            for task in sending:
                task.cancel()  # the stream is gone; its queued messages are stored all the same

    def _check_token(self, opening: StreamOpening) -> None:
        if self.service.stream_tokens is not None:
            self.service.stream_tokens.check(opening.subscriber)

    async def _refresh_token(self, opening: StreamOpening, token: str) -> pb.ActionAccepted:
        if self.service.stream_tokens is None:
            raise unimplemented("refresh_token")
        if self.prepare_token is not None:
            await self.prepare_token(token)
        self.service.stream_tokens.refresh(opening.subscriber, opening.principal, token)
        return pb.ActionAccepted()

    async def _answer(self, opening: StreamOpening, request: pb.StreamEventsRequest, outcome) -> None:
        """Await an action's acknowledgement and send it; a refusal is an error event."""
        try:
            accepted: pb.ActionAccepted = await outcome
        except Exception as error:
            self._refuse(opening, request, error)
            return
        action_answered(request.WhichOneof("action"))
        accepted.request_id = request.request_id
        opening.subscriber.deliver(0, self.service.live.accepted(opening.subscriber.session_id, accepted))

    def _refuse(self, opening: StreamOpening, request: pb.StreamEventsRequest, error: Exception) -> None:
        """Answer an action with an error event (anything but a ChatError as the transport maps it)."""
        error = as_chat_error(error, f"stream action {request.WhichOneof('action')}")
        action_answered(request.WhichOneof("action"), error)
        request_id = request.request_id[: validation.MAX_ID_LENGTH]  # echoed even when itself refused
        opening.subscriber.deliver(0, self.service.live.rejected(opening.subscriber.session_id, request_id, error))

    # ------------------------------------------------------------ messages and presence

    async def SendMessage(self, request: pb.SendMessageRequest, context) -> pb.SendMessageResponse:
        message, _ = await self.service.sending.send_message(
            current_principal(),
            request.session_id,
            request.text,
            recipient_id=request.recipient_id,
            client_message_id=request.client_message_id,
            reply_to_message_id=request.reply_to_message_id,
        )
        return pb.SendMessageResponse(message=message)

    async def ListMessages(self, request: pb.ListMessagesRequest, context) -> pb.ListMessagesResponse:
        messages, token = await self.service.history.list_messages(
            current_principal(),
            request.session_id,
            page_size=request.page_size,
            page_token=request.page_token,
            after_sequence=request.after_sequence,
        )
        return pb.ListMessagesResponse(messages=messages, next_page_token=token)

    async def SearchMessages(self, request: pb.SearchMessagesRequest, context) -> pb.SearchMessagesResponse:
        hits, token = await self.service.search.search_messages(
            current_principal(), request.session_id, request.query,
            order=request.order, page_size=request.page_size, page_token=request.page_token,
        )
        return pb.SearchMessagesResponse(hits=hits, next_page_token=token)

    async def ListParticipants(self, request: pb.ListParticipantsRequest, context) -> pb.ListParticipantsResponse:
        people, token = await self.service.history.list_participants(
            current_principal(),
            request.session_id,
            page_size=request.page_size,
            page_token=request.page_token,
            include_offline=request.include_offline,
        )
        return pb.ListParticipantsResponse(participants=people, next_page_token=token)

    # ------------------------------------------------------------ moderation

    async def DeleteMessage(self, request: pb.DeleteMessageRequest, context) -> pb.DeleteMessageResponse:
        message, _ = await self.service.moderation.delete_message(current_principal(), request.session_id, request.message_id)
        return pb.DeleteMessageResponse(message=message)

    async def MuteUser(self, request: pb.MuteUserRequest, context) -> pb.MuteUserResponse:
        mute, _ = await self.service.moderation.mute_user(
            current_principal(), request.session_id, request.user_id, request.duration_minutes, request.reason
        )
        return pb.MuteUserResponse(mute=mute)

    async def UnmuteUser(self, request: pb.UnmuteUserRequest, context) -> pb.UnmuteUserResponse:
        await self.service.moderation.unmute_user(current_principal(), request.session_id, request.user_id)
        return pb.UnmuteUserResponse()

    async def ListMutes(self, request: pb.ListMutesRequest, context) -> pb.ListMutesResponse:
        mutes, token = await self.service.moderation.list_mutes(
            current_principal(), request.session_id, page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListMutesResponse(mutes=mutes, next_page_token=token)

    async def GetChatPolicy(self, request: pb.GetChatPolicyRequest, context) -> pb.GetChatPolicyResponse:
        return pb.GetChatPolicyResponse(policy=await self.service.moderation.get_policy(current_principal(), request.session_id))

    async def UpdateChatPolicy(self, request: pb.UpdateChatPolicyRequest, context) -> pb.UpdateChatPolicyResponse:
        policy, _ = await self.service.moderation.update_policy(current_principal(), request.session_id, request.policy)
        return pb.UpdateChatPolicyResponse(policy=policy)

    async def ClearStrikes(self, request: pb.ClearStrikesRequest, context) -> pb.ClearStrikesResponse:
        await self.service.moderation.clear_strikes(current_principal(), request.session_id, request.user_id)
        return pb.ClearStrikesResponse()

    async def ListAuditEvents(self, request: pb.ListAuditEventsRequest, context) -> pb.ListAuditEventsResponse:
        events, token = await self.service.moderation.list_audit(
            current_principal(), request.session_id, page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListAuditEventsResponse(events=events, next_page_token=token)

    # ------------------------------------------------------------ interaction

    async def AddReaction(self, request: pb.AddReactionRequest, context) -> pb.AddReactionResponse:
        count, _ = await self.service.reactions.add_reaction(
            current_principal(), request.session_id, request.message_id, request.emoji
        )
        return pb.AddReactionResponse(count=count)

    async def RemoveReaction(self, request: pb.RemoveReactionRequest, context) -> pb.RemoveReactionResponse:
        count, _ = await self.service.reactions.remove_reaction(
            current_principal(), request.session_id, request.message_id, request.emoji
        )
        return pb.RemoveReactionResponse(count=count)

    async def ListReactions(self, request: pb.ListReactionsRequest, context) -> pb.ListReactionsResponse:
        reactions, token = await self.service.reactions.list_reactions(
            current_principal(), request.session_id, request.message_id, page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListReactionsResponse(reactions=reactions, next_page_token=token)

    async def RaiseHand(self, request: pb.RaiseHandRequest, context) -> pb.RaiseHandResponse:
        hand, _ = await self.service.hands.raise_hand(current_principal(), request.session_id)
        return pb.RaiseHandResponse(hand=hand)

    async def LowerHand(self, request: pb.LowerHandRequest, context) -> pb.LowerHandResponse:
        await self.service.hands.lower_hand(current_principal(), request.session_id, request.user_id)
        return pb.LowerHandResponse()

    async def AcknowledgeHand(self, request: pb.AcknowledgeHandRequest, context) -> pb.AcknowledgeHandResponse:
        hand, _ = await self.service.hands.acknowledge_hand(current_principal(), request.session_id, request.user_id)
        return pb.AcknowledgeHandResponse(hand=hand)

    async def ListRaisedHands(self, request: pb.ListRaisedHandsRequest, context) -> pb.ListRaisedHandsResponse:
        hands, token = await self.service.hands.list_raised_hands(
            current_principal(), request.session_id, page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListRaisedHandsResponse(hands=hands, next_page_token=token)

    async def SetTyping(self, request: pb.SetTypingRequest, context) -> pb.SetTypingResponse:
        await self.service.typing.set_typing(current_principal(), request.session_id, request.typing, request.recipient_id)
        return pb.SetTypingResponse()

    async def PinMessage(self, request: pb.PinMessageRequest, context) -> pb.PinMessageResponse:
        message, _ = await self.service.pins.pin_message(current_principal(), request.session_id, request.message_id)
        return pb.PinMessageResponse(message=message)

    async def UnpinMessage(self, request: pb.UnpinMessageRequest, context) -> pb.UnpinMessageResponse:
        await self.service.pins.unpin_message(current_principal(), request.session_id, request.message_id)
        return pb.UnpinMessageResponse()

    async def ListPinnedMessages(self, request: pb.ListPinnedMessagesRequest, context) -> pb.ListPinnedMessagesResponse:
        messages, token = await self.service.pins.list_pinned_messages(
            current_principal(), request.session_id, page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListPinnedMessagesResponse(messages=messages, next_page_token=token)

    # ------------------------------------------------------------ polls

    async def CreatePoll(self, request: pb.CreatePollRequest, context) -> pb.CreatePollResponse:
        poll, _ = await create_poll(self.service, current_principal(), request.session_id, request)
        return pb.CreatePollResponse(poll=poll)

    async def ClosePoll(self, request: pb.ClosePollRequest, context) -> pb.ClosePollResponse:
        poll, _ = await self.service.polls.close_poll(current_principal(), request.session_id, request.poll_id)
        return pb.ClosePollResponse(poll=poll)

    async def ReopenPoll(self, request: pb.ReopenPollRequest, context) -> pb.ReopenPollResponse:
        poll, _ = await self.service.polls.reopen_poll(current_principal(), request.session_id, request.poll_id)
        return pb.ReopenPollResponse(poll=poll)

    async def DeletePoll(self, request: pb.DeletePollRequest, context) -> pb.DeletePollResponse:
        await self.service.polls.delete_poll(current_principal(), request.session_id, request.poll_id)
        return pb.DeletePollResponse()

    async def CastVote(self, request: pb.CastVoteRequest, context) -> pb.CastVoteResponse:
        chosen, _ = await self.service.polls.cast_vote(current_principal(), request.session_id, request.poll_id, list(request.option_ids))
        return pb.CastVoteResponse(poll_id=request.poll_id, option_ids=chosen)

    async def ListPolls(self, request: pb.ListPollsRequest, context) -> pb.ListPollsResponse:
        polls, token = await self.service.polls.list_polls(
            current_principal(), request.session_id, page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListPollsResponse(polls=polls, next_page_token=token)

    async def ExportChat(self, request: pb.ExportChatRequest, context):
        content_type, chunks = await self.service.exports.export(
            current_principal(),
            request.session_id,
            request.format,
            include_private=request.include_private,
            include_deleted_text=request.include_deleted_text,
        )
        async for data in chunks:
            yield pb.ExportChatResponse(data=data, content_type=content_type)


async def _settle(sending: deque, *, keep: int) -> None:
    """Wait until at most `keep` of a stream's messages are still being stored."""
    while sending and (sending[0].done() or len(sending) > keep):
        await sending.popleft()
