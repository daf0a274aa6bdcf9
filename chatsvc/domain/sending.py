"""Posting messages: check, queue per session, store in batches (group commit), and announce.

A session's messages are stored in the order they were queued, as many as
have gathered in one transaction: one commit and one hand-over to the fan-out
for several messages, so each stream writes them as one response.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.config import Settings
from chatsvc.domain import mentions, messages, validation, views
from chatsvc.domain.events import Change, EventWriter
from chatsvc.domain.moderation import Moderation
from chatsvc.domain.typing_indicators import TypingIndicators
from chatsvc.errors import ChatError, ErrorCode, invalid
from chatsvc.fanout.hub import Audience
from chatsvc.storage import repository as repo
from chatsvc.storage.database import storage_unavailable
from chatsvc.storage.tables import Message

# At most this many messages share one transaction (and one write per stream).
SEND_BATCH_LIMIT = 64
# What a sender refused for overload is told to wait.
BUSY_RETRY_AFTER = timedelta(seconds=1)


@dataclass
class _Send:
    """A message waiting for its session's next batch."""

    principal: Principal
    text: str
    recipient_id: str
    client_id: str | None
    reply_to_message_id: str
    result: asyncio.Future


def _fail(batch: list[_Send], error: Exception) -> None:
    for request in batch:
        if not request.result.done():
            request.result.set_exception(error)


class Sending:
    def __init__(self, *, events: EventWriter, moderation: Moderation, typing: TypingIndicators, settings: Settings) -> None:
        self.events = events
        self.moderation = moderation
        self.typing = typing
        self.settings = settings
        # Messages waiting to be posted, the number being posted, and the task posting them, per session.
        self._pending_sends: dict[str, list[_Send]] = {}
        self._posting: dict[str, int] = {}
        self._send_workers: dict[str, asyncio.Task] = {}

    async def send_message(self, principal: Principal, session_id: str, text: str, **fields: str) -> tuple[pb.ChatMessage, int]:
        """Post a message and wait until it is stored; returns it and its event's sequence (0 for
        a repeated client id). `fields`: those of `queue_message`."""
        return await (await self.queue_message(principal, session_id, text, **fields))

    async def queue_message(
        self,
        principal: Principal,
        session_id: str,
        text: str,
        *,
        recipient_id: str = "",
        client_message_id: str = "",
        reply_to_message_id: str = "",
    ) -> asyncio.Future:
        """Check a message and queue it for posting, without waiting for it to be stored.

        Refusals that need no database (invalid text, rate limit, overload)
        are raised here; the returned future gives (message, sequence) once the
        message is stored, or the refusal found then. A session's messages are
        stored in the order they were queued, so a stream can pipeline its sends.
        """
        validation.enter_session(principal, session_id)
        text = validation.message_text(text, self.settings.max_message_length)
        client_id = validation.client_message_id(client_message_id)
        if recipient_id and recipient_id == principal.user_id:
            raise invalid("you cannot send a private message to yourself")
        await self.moderation.limit_messages(principal, session_id)
        self._refuse_when_busy(session_id)
        request = _Send(principal, text, recipient_id, client_id, reply_to_message_id, asyncio.get_running_loop().create_future())
        self._pending_sends.setdefault(session_id, []).append(request)
        if session_id not in self._send_workers:
            self._send_workers[session_id] = asyncio.create_task(self._post_pending(session_id))
        return request.result

    async def _post_pending(self, session_id: str) -> None:
        """Post a session's queued messages, as many as have gathered, in one transaction.

        One commit and one hand-over to the fan-out for several messages: each
        stream then writes them as one response, instead of one write per
        message per subscriber. Under light load a batch is one message.
        """
        while pending := self._pending_sends.get(session_id):
            batch = pending[:SEND_BATCH_LIMIT]
            del pending[:SEND_BATCH_LIMIT]
            self._posting[session_id] = len(batch)
            try:
                await self._post_batch(session_id, batch)
            except Exception as error:
                if len(batch) == 1 or storage_unavailable(error):
                    _fail(batch, error)  # one by one would fail each the same way
                    continue
                # One message the database refused (another process stored the same client
                # message id meanwhile, or a value validation let through) fails its whole
                # transaction: one by one, only the culprit fails.
                for request in batch:
                    await self._post_batch_safely(session_id, [request])
        self._pending_sends.pop(session_id, None)
        self._posting.pop(session_id, None)
        self._send_workers.pop(session_id, None)

    def sends_in_flight(self, session_id: str) -> int:
        """Messages of the session accepted for posting and not yet stored (or refused)."""
        return len(self._pending_sends.get(session_id, ())) + self._posting.get(session_id, 0)

    def _refuse_when_busy(self, session_id: str) -> None:
        """Bound the queue: under overload a sender hears "retry shortly" instead of waiting
        without limit (and the server's memory growing with the queue)."""
        waiting = self.sends_in_flight(session_id)
        if waiting >= self.settings.max_sends_in_flight:
            raise ChatError(
                ErrorCode.RESOURCE_EXHAUSTED,
                f"the server is busy: {waiting} messages of this session are waiting to be stored; try again shortly",
                retry_after=BUSY_RETRY_AFTER,
                reason="overload",
            )

    async def _post_batch_safely(self, session_id: str, batch: list[_Send]) -> None:
        try:
            await self._post_batch(session_id, batch)
        except Exception as error:
            _fail(batch, error)

    async def _post_batch(self, session_id: str, batch: list[_Send]) -> None:
        def post_all(change: Change) -> list[tuple[_Send, tuple[pb.ChatMessage, int] | ChatError]]:
            # Messages already stored under a client id (a retried send), read once for the batch.
            keys = [(request.principal.user_id, request.client_id) for request in batch if request.client_id is not None]
            posted = repo.find_by_client_ids(change.db, session_id, keys)
            outcomes: list[tuple[_Send, tuple[pb.ChatMessage, int] | ChatError]] = []
            for request in batch:
                try:
                    outcomes.append((request, self._post(change, request, posted)))
                except ChatError as error:  # refused before it wrote anything
                    outcomes.append((request, error))
            return outcomes

        outcomes = await self.events.run(session_id, post_all)
        for request, outcome in outcomes:
            if request.result.done():
                continue  # the caller gave up; the message stands, like any sent one
            if isinstance(outcome, ChatError):
                request.result.set_exception(outcome)
            else:
                request.result.set_result(outcome)
                await self.typing.message_sent(request.principal, session_id, outcome[0].recipient_id)

    def _post(self, change: Change, request: _Send, posted: dict[tuple[str, str], Message]) -> tuple[pb.ChatMessage, int]:
        """One message inside a batch's transaction (on the database thread). Every refusal
        comes before its first write. `posted`: the batch's messages by (sender, client id)."""
        db, session_id, principal = change.db, change.session_id, request.principal
        recipient_id = request.recipient_id
        client_key = (principal.user_id, request.client_id) if request.client_id is not None else None
        if client_key is not None and client_key in posted:
            return views.message(posted[client_key]), 0
        reply_to = None
        if request.reply_to_message_id:
            reply_to = messages.live_message(db, session_id, request.reply_to_message_id, principal)
            recipient_id = _reply_recipient(reply_to, principal, recipient_id)
        if recipient_id:
            messages.check_private_recipient(db, session_id, principal, recipient_id)
        self.moderation.check_sender(change, principal, recipient_id)
        change.ensure_member(principal)
        text, censored = self.moderation.censor(request.text)
        mentioned = mentions.find_mentions(db, session_id, principal, text, recipient_id)
        message = Message(
            id=uuid.uuid4().hex,
            session_id=session_id,
            sequence=0,
            sender_id=principal.user_id,
            sender_name=principal.display_name,
            sender_role=principal.role.value,
            recipient_id=recipient_id or None,
            text=text,
            client_message_id=request.client_id,
            created_at=change.now,
            reply_to_id=reply_to.id if reply_to else None,
            mentions=mentioned,
            deleted_at=None,
            deleted_by=None,
            pinned_at=None,
            pinned_by=None,
        )
        message.sequence = change.allocate()
        view = views.message(message, reply_to=reply_to)
        if recipient_id:
            audience = Audience(everyone=False, instructors=False, parties=(principal.user_id, recipient_id))
            event = change.record(message.sequence, audience, private_message_posted=view)
        else:
            event = change.record(message.sequence, message_posted=view)
        mentions.announce_mentions(change, view)
        db.add(message)
        if client_key is not None:
            posted[client_key] = message
        if censored:
            self.moderation.strike(change, principal, message.id)
        return view, event.sequence


def _reply_recipient(original: Message, sender: Principal, recipient_id: str) -> str:
    """A reply to a private message stays between the same two people."""
    if original.recipient_id is None:
        return recipient_id
    other = original.recipient_id if original.sender_id == sender.user_id else original.sender_id
    if recipient_id and recipient_id != other:
        raise invalid("a reply to a private message must go to the other party of that conversation")
    return other
