"""Live streams: joining a session (register, then read what the stream starts with: the missed
events or a fresh snapshot), leaving it, and the framed replies a stream gets for its actions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.clock import Clock
from chatsvc.config import Settings
from chatsvc.domain import validation, views
from chatsvc.domain.deleted_text import without_deleted_text
from chatsvc.domain.events import EventWriter, notice
from chatsvc.domain.history import MessageViews
from chatsvc.domain.stream_caps import StreamCaps
from chatsvc.domain.stream_tokens import StreamTokens
from chatsvc.domain.typing_indicators import TypingIndicators
from chatsvc.errors import ChatError, invalid
from chatsvc.fanout.channel import Fanout
from chatsvc.fanout.codec import frame
from chatsvc.fanout.hub import Subscriber
from chatsvc.fanout.presence import Presence
from chatsvc.storage import repository as repo
from chatsvc.storage.database import Database


@dataclass
class StreamOpening:
    """A joined stream: its subscriber, and the framed events to write before the live ones."""

    subscriber: Subscriber
    principal: Principal
    initial: list[bytes]


class LiveStreams:
    def __init__(
        self,
        *,
        database: Database,
        fanout: Fanout,
        clock: Clock,
        settings: Settings,
        events: EventWriter,
        presence: Presence,
        caps: StreamCaps,
        stream_tokens: StreamTokens | None,
        typing: TypingIndicators,
        message_views: MessageViews,
    ) -> None:
        self.database = database
        self.fanout = fanout
        self.clock = clock
        self.settings = settings
        self.events = events
        self.presence = presence
        self.caps = caps  # live streams per user, counted from open to close
        # None: streams are not held to their token's expiry (only for callers without tokens).
        self.stream_tokens = stream_tokens
        self.typing = typing
        self.message_views = message_views

    async def open(
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
        self.caps.open(principal.user_id, session_id)  # counted until close
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
            self.caps.close(principal.user_id, session_id)
            raise
        try:
            if await self.presence.connect(session_id, principal):
                await self._record_presence(principal, session_id, joined=True)
            initial = await self._start(principal, session_id, last_sequence, subscriber, token_expires)
            if token_expires is not None and self.stream_tokens is not None:
                self.stream_tokens.watch(subscriber, token_expires)
        except BaseException:
            await asyncio.shield(self.close(StreamOpening(subscriber, principal, [])))
            raise
        return StreamOpening(subscriber, principal, initial)

    async def close(self, opening: StreamOpening) -> None:
        subscriber = opening.subscriber
        self.caps.close(opening.principal.user_id, subscriber.session_id)
        self.fanout.remove(subscriber)
        if self.stream_tokens is not None:
            self.stream_tokens.forget(subscriber)
        if await self.presence.disconnect(subscriber.session_id, opening.principal):
            await self._record_presence(opening.principal, subscriber.session_id, joined=False)
            await self.typing.left(opening.principal, subscriber.session_id)

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

    async def _start(
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
        if snapshot is None:
            raise RuntimeError("the join read returned neither the missed events nor a snapshot")
        snapshot.online.extend(online)
        started = pb.StreamStarted(
            you=you, recovered=False, snapshot=snapshot, resume_from_sequence=newest, token_expire_time=expire_time
        )
        return [frame(self._notice(session_id, stream_started=started))]

    def _snapshot(self, db, principal: Principal, session_id: str, as_of: int, now) -> pb.SessionSnapshot:
        """What a fresh stream starts with (on the database thread; `online` is added by the caller)."""
        newest_first = repo.list_messages(db, session_id, viewer_id=principal.user_id, limit=self.settings.snapshot_messages)
        recent = self.message_views(db, session_id, list(reversed(newest_first)), principal.user_id)
        pinned = repo.pinned_messages(db, session_id, viewer_id=principal.user_id)
        mutes = repo.active_mutes(db, session_id, now)
        hands = repo.raised_hands(db, session_id)
        session = repo.get_session(db, session_id)
        snapshot = pb.SessionSnapshot(
            as_of_sequence=as_of,
            recent_messages=recent,
            raised_hands=[views.raised_hand(row, position) for position, row in enumerate(hands, start=1)],
            pinned_messages=self.message_views(db, session_id, pinned, principal.user_id),
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
