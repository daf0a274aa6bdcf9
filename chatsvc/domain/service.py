"""The chat rules for messages, history, presence and live streams.

Every caller (the bidi stream, Subscribe, the unary RPCs) goes through these
methods; they take and return protobuf messages but know nothing of gRPC.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.clock import Clock
from chatsvc.config import Settings
from chatsvc.domain import messages, validation, views
from chatsvc.domain.deleted_text import without_deleted_text
from chatsvc.domain.events import EventWriter, notice
from chatsvc.domain.export import ChatExport
from chatsvc.domain.interaction import Interaction
from chatsvc.domain.moderation import Moderation
from chatsvc.domain.stream_caps import StreamCaps
from chatsvc.domain.stream_tokens import StreamTokens
from chatsvc.errors import ChatError, ErrorCode, invalid
from chatsvc.fanout.channel import Fanout
from chatsvc.fanout.codec import frame
from chatsvc.fanout.hub import Audience, Subscriber
from chatsvc.fanout.presence import LocalPresence, Presence
from chatsvc.fanout.typing_registry import LocalTypingRegistry, TypingRegistry
from chatsvc.ratelimit import RateLimiter
from chatsvc.storage import repository as repo
from chatsvc.storage.database import Database, storage_unavailable
from chatsvc.storage.tables import Message


def unimplemented(feature: str) -> ChatError:
    return ChatError(ErrorCode.UNIMPLEMENTED, f"{feature} is not available yet on this server")


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


@dataclass
class StreamOpening:
    """A joined stream: its subscriber, and the framed events to write before the live ones."""

    subscriber: Subscriber
    principal: Principal
    initial: list[bytes]


class ChatService:
    def __init__(
        self,
        database: Database,
        fanout: Fanout,
        clock: Clock,
        settings: Settings,
        limiter: RateLimiter,
        presence: Presence | None = None,
        typing_registry: TypingRegistry | None = None,
        stream_tokens: StreamTokens | None = None,
    ) -> None:
        self.database = database
        self.fanout = fanout
        self.clock = clock
        self.settings = settings
        validation.sign_page_tokens_with(settings.jwt_secret)
        self.presence = presence or LocalPresence()
        self.typing_registry = typing_registry or LocalTypingRegistry()
        # None: streams are not held to their token's expiry (only for callers without tokens).
        self.stream_tokens = stream_tokens
        self.events = EventWriter(database, fanout, clock)
        self.streams = StreamCaps(per_session=settings.max_streams_per_session, per_user=settings.max_streams_per_user)
        self.moderation = Moderation(database, self.events, clock, settings, limiter)
        # Messages waiting to be posted, the number being posted, and the task posting them, per session.
        self._pending_sends: dict[str, list[_Send]] = {}
        self._posting: dict[str, int] = {}
        self._send_workers: dict[str, asyncio.Task] = {}
        self.interaction = Interaction(  # reactions, hands, typing, pins, mentions
            database=database,
            events=self.events,
            moderation=self.moderation,
            fanout=fanout,
            clock=clock,
            settings=settings,
            typing_registry=self.typing_registry,
        )
        self.exports = ChatExport(database=database, clock=clock, settings=settings)

    # ------------------------------------------------------------ messages

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
            )

    async def _post_batch_safely(self, session_id: str, batch: list[_Send]) -> None:
        try:
            await self._post_batch(session_id, batch)
        except Exception as error:
            _fail(batch, error)

    async def _post_batch(self, session_id: str, batch: list[_Send]) -> None:
        def post_all(change) -> list[tuple[_Send, object]]:
            # Messages already stored under a client id (a retried send), read once for the batch.
            keys = [(request.principal.user_id, request.client_id) for request in batch if request.client_id is not None]
            posted = repo.find_by_client_ids(change.db, session_id, keys)
            outcomes: list[tuple[_Send, object]] = []
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
                await self.interaction.typing.message_sent(request.principal, session_id, outcome[0].recipient_id)

    def _post(self, change, request: _Send, posted: dict[tuple[str, str], Message]) -> tuple[pb.ChatMessage, int]:
        """One message inside a batch's transaction (on the database thread). Every refusal
        comes before its first write. `posted`: the batch's messages by (sender, client id)."""
        db, session_id, principal = change.db, change.session_id, request.principal
        recipient_id = request.recipient_id
        client_key = (principal.user_id, request.client_id)
        if request.client_id is not None and client_key in posted:
            return views.message(posted[client_key]), 0
        reply_to = None
        if request.reply_to_message_id:
            reply_to = self.interaction.live_message(db, session_id, request.reply_to_message_id, principal)
            recipient_id = _reply_recipient(reply_to, principal, recipient_id)
        if recipient_id:
            messages.check_private_recipient(db, session_id, principal, recipient_id)
        self.moderation.check_sender(change, principal, recipient_id)
        change.ensure_member(principal)
        text, censored = self.moderation.censor(request.text)
        mentions = self.interaction.find_mentions(db, session_id, principal, text, recipient_id)
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
            mentions=mentions,
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
        self.interaction.announce_mentions(change, view)
        db.add(message)
        if request.client_id is not None:
            posted[client_key] = message
        if censored:
            self.moderation.strike(change, principal, message.id)
        return view, event.sequence

    async def list_messages(
        self, principal: Principal, session_id: str, *, page_size: int, page_token: str, after_sequence: int
    ) -> tuple[list[pb.ChatMessage], str]:
        validation.enter_session(principal, session_id)
        if after_sequence < 0:
            raise invalid("after_sequence must not be negative")
        limit = validation.page_size(page_size)
        kind = "after" if after_sequence else "before"
        position = validation.decode_page_token(page_token, kind, session_id)

        def read(db) -> tuple[list[Message], list[pb.ChatMessage]]:
            if after_sequence:
                start = int(position) if position is not None else after_sequence
                rows = repo.list_messages(db, session_id, viewer_id=principal.user_id, limit=limit + 1, after_sequence=start)
            else:
                before = int(position) if position is not None else None
                rows = repo.list_messages(db, session_id, viewer_id=principal.user_id, limit=limit + 1, before_sequence=before)
            return rows, self.interaction.message_views(db, session_id, rows[:limit], principal.user_id)

        rows, messages = await self.database.read(read)
        more = len(rows) > limit
        next_token = validation.encode_page_token(kind, session_id, rows[limit - 1].sequence) if more else ""
        return messages, next_token

    # ------------------------------------------------------------ participants

    async def list_participants(
        self, principal: Principal, session_id: str, *, page_size: int, page_token: str, include_offline: bool
    ) -> tuple[list[pb.Participant], str]:
        validation.enter_session(principal, session_id)
        limit = validation.page_size(page_size)
        kind = "all" if include_offline else "online"
        after = str(validation.decode_page_token(page_token, kind, session_id) or "")
        if include_offline:
            rows = await self.database.read(
                lambda db: repo.list_members(db, session_id, after_user_id=after, limit=limit + 1)
            )
            online_ids = {p.user_id for p in await self.presence.online(session_id)}
            people = [views.member(row, online=row.user_id in online_ids) for row in rows]
        else:
            online = [p for p in await self.presence.online(session_id) if p.user_id > after]
            people = [views.participant(p, online=True) for p in online[: limit + 1]]
        page, more = people[:limit], len(people) > limit
        next_token = validation.encode_page_token(kind, session_id, page[-1].user_id) if more else ""
        return page, next_token

    # ------------------------------------------------------------ streams

    async def open_stream(
        self, principal: Principal, session_id: str, last_sequence: int, token_expires: float | None = None
    ) -> StreamOpening:
        """Join a session: register for live events, then build what the stream starts with.

        The subscriber is registered before anything is read, so an event
        committed meanwhile is either in what is read (and skipped from the
        queue) or in the queue: never lost, never twice. With `token_expires`
        (epoch seconds) the stream ends then unless its token is refreshed.
        """
        validation.enter_session(principal, session_id)
        if last_sequence < 0:
            raise invalid("last_sequence must not be negative")
        self.streams.open(principal.user_id, session_id)  # counted until close_stream
        subscriber = Subscriber(
            session_id,
            principal.user_id,
            principal.is_instructor,
            max_pending=self.settings.subscriber_buffer,
            batch_bytes=self.settings.batch_bytes,
        )
        try:
            await self.fanout.add(subscriber)
        except BaseException:
            self.streams.close(principal.user_id, session_id)
            raise
        try:
            if await self.presence.connect(session_id, principal):
                await self._record_presence(principal, session_id, joined=True)
            initial = await self._stream_start(principal, session_id, last_sequence, subscriber, token_expires)
            if token_expires is not None and self.stream_tokens is not None:
                self.stream_tokens.watch(subscriber, token_expires)
        except BaseException:
            await asyncio.shield(self.close_stream(StreamOpening(subscriber, principal, [])))
            raise
        return StreamOpening(subscriber, principal, initial)

    async def close_stream(self, opening: StreamOpening) -> None:
        subscriber = opening.subscriber
        self.streams.close(opening.principal.user_id, subscriber.session_id)
        self.fanout.remove(subscriber)
        if self.stream_tokens is not None:
            self.stream_tokens.forget(subscriber)
        if await self.presence.disconnect(subscriber.session_id, opening.principal):
            await self._record_presence(opening.principal, subscriber.session_id, joined=False)
            await self.interaction.typing.left(opening.principal, subscriber.session_id)

    async def record_departure(self, session_id: str, principal: Principal) -> None:
        """A user whose streams all ended elsewhere (e.g. in a crashed process) left the session."""
        await self._record_presence(principal, session_id, joined=False)

    async def _record_presence(self, principal: Principal, session_id: str, *, joined: bool) -> None:
        person = views.participant(principal, online=joined)

        def record(change) -> None:
            change.ensure_member(principal)
            if joined:
                change.emit(user_joined=pb.UserJoined(participant=person))
            else:
                change.emit(user_left=pb.UserLeft(participant=person))

        await self.events.run(session_id, record)

    async def _stream_start(
        self, principal: Principal, session_id: str, last_sequence: int, subscriber: Subscriber, token_expires: float | None
    ) -> list[bytes]:
        you = views.participant(principal, online=True)
        expire_time = views.epoch_timestamp(token_expires) if token_expires is not None else None
        now = self.clock.now()

        def read(db) -> tuple[int, list[bytes] | None, pb.SessionSnapshot | None]:
            newest = repo.last_sequence(db, session_id)
            gap = newest - last_sequence
            if last_sequence and 0 <= gap <= self.settings.replay_limit:
                missed = repo.events_after(
                    db,
                    session_id,
                    last_sequence,
                    through_sequence=newest,
                    viewer_id=principal.user_id,
                    is_instructor=principal.is_instructor,
                )
                # Stored events carry text as it was when sent: none of a since-deleted message goes out again.
                deleted = repo.deleted_messages(db, session_id) if missed else {}
                payloads = without_deleted_text([payload for _, payload in missed], deleted)
                return newest, [frame(payload) for payload in payloads], None
            return newest, None, self._snapshot(db, principal, session_id, newest, now)

        async with self.database.lock(session_id):
            # Under the lock, like the database read: no join or leave is recorded meanwhile.
            online = [views.participant(p, online=True) for p in await self.presence.online(session_id)]
            newest, missed, snapshot = await self.database.snapshot_read(read)
            subscriber.start_after(newest, position=last_sequence if missed is not None else newest)
        if missed is not None:
            started = pb.StreamStarted(you=you, recovered=True, resume_from_sequence=last_sequence, token_expire_time=expire_time)
            return [frame(self._notice(session_id, stream_started=started))] + missed
        snapshot.online.extend(online)
        started = pb.StreamStarted(
            you=you, recovered=False, snapshot=snapshot, resume_from_sequence=newest, token_expire_time=expire_time
        )
        return [frame(self._notice(session_id, stream_started=started))]

    def _snapshot(self, db, principal: Principal, session_id: str, as_of: int, now) -> pb.SessionSnapshot:
        """What a fresh stream starts with (on the database thread; `online` is added by the caller)."""
        recent = repo.list_messages(db, session_id, viewer_id=principal.user_id, limit=self.settings.snapshot_messages)
        recent = self.interaction.message_views(db, session_id, list(reversed(recent)), principal.user_id)
        pinned = repo.pinned_messages(db, session_id, viewer_id=principal.user_id)
        mutes = repo.active_mutes(db, session_id, now)
        hands = repo.raised_hands(db, session_id)
        session = repo.get_session(db, session_id)
        snapshot = pb.SessionSnapshot(
            as_of_sequence=as_of,
            recent_messages=recent,
            raised_hands=[views.raised_hand(row, position) for position, row in enumerate(hands, start=1)],
            pinned_messages=self.interaction.message_views(db, session_id, pinned, principal.user_id),
            active_mutes=[views.mute(row) for row in mutes if principal.is_instructor or row.user_id == principal.user_id],
            policy=views.policy(session),
        )
        mine = next((row for row in mutes if row.user_id == principal.user_id), None)
        if mine is not None:
            snapshot.my_mute.CopyFrom(views.mute(mine))
        return snapshot

    def _notice(self, session_id: str, **kind) -> bytes:
        return notice(session_id, self.clock.now(), **kind)

    def accepted(self, session_id: str, request_id: str, sequence: int, message_id: str = "") -> bytes:
        """The framed ActionAccepted for the stream that sent an action."""
        accepted = pb.ActionAccepted(request_id=request_id, sequence=sequence, message_id=message_id)
        return frame(self._notice(session_id, action_accepted=accepted))

    def rejected(self, session_id: str, request_id: str, error: ChatError) -> bytes:
        """The framed ErrorEvent for the stream whose action was refused."""
        event = pb.ErrorEvent(request_id=request_id, code=int(error.code), message=error.message)
        if error.retry_after is not None:
            event.retry_delay.FromTimedelta(error.retry_after)
        return frame(self._notice(session_id, error=event))

    # ------------------------------------------------------------ helpers



def _reply_recipient(original: Message, sender: Principal, recipient_id: str) -> str:
    """A reply to a private message stays between the same two people."""
    if original.recipient_id is None:
        return recipient_id
    other = original.recipient_id if original.sender_id == sender.user_id else original.sender_id
    if recipient_id and recipient_id != other:
        raise invalid("a reply to a private message must go to the other party of that conversation")
    return other

