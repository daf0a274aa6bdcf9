"""Live streams: joining a session (register, then, in a batch with the joins that arrive
together, `joins.py`, read what the stream starts with: the missed events or a fresh snapshot),
leaving it, and the framed replies a stream gets for its actions."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal, Role
from chatsvc.clock import Clock
from chatsvc.config import Settings
from chatsvc.domain import validation, views
from chatsvc.domain.events import EventWriter, notice
from chatsvc.domain.joins import Join, Joins
from chatsvc.domain.stream_caps import StreamCaps
from chatsvc.domain.stream_tokens import StreamTokens
from chatsvc.domain.typing_indicators import TypingIndicators
from chatsvc.errors import ChatError, invalid
from chatsvc.fanout.channel import Fanout
from chatsvc.fanout.codec import frame
from chatsvc.fanout.hub import Subscriber
from chatsvc.fanout.presence import Presence
from chatsvc.memory import release_free_memory
from chatsvc.storage import carried_presence
from chatsvc.storage.database import Database

log = logging.getLogger(__name__)

# Departures recorded together from this many on, the server gives freed memory back shortly after.
MANY_DEPARTURES = 64
TRIM_AFTER_DEPARTURES_SECONDS = 1.0


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
        joins: Joins,
        carry_presence: bool = False,
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
        self.joins = joins
        # Streams ended whose users still count as present until their grace period ends.
        self._departures: dict[int, tuple[asyncio.TimerHandle, str, Principal]] = {}
        self._next_departure = 0
        # Departures whose grace has passed, per session, waiting for the session's one recording task:
        # those that come due together (a class ending, a network cut) are recorded in one transaction.
        self._due: dict[str, list[Principal]] = {}
        self._recording: set[str] = set()
        self._departing: set[asyncio.Future] = set()
        self._flushed = False
        # On stopping, leave the users in their grace to the next server (no Redis: one process).
        self.carry_presence = carry_presence

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
            announce = await self.presence.connect(session_id, principal)
            expire_time = views.epoch_timestamp(token_expires) if token_expires is not None else None
            initial = await self.joins.join(session_id, Join(principal, last_sequence, subscriber, expire_time, announce))
            if token_expires is not None and self.stream_tokens is not None:
                self.stream_tokens.watch(subscriber, token_expires)
        except BaseException:
            await asyncio.shield(self.close(StreamOpening(subscriber, principal, [])))
            raise
        return StreamOpening(subscriber, principal, initial)

    async def close(self, opening: StreamOpening) -> None:
        """End a stream. Its user stays present for `presence_grace_seconds`: a stream that drops
        and comes back within that time (a network blip, a slow consumer told to resume) costs
        no `user_left` and `user_joined` to everyone."""
        subscriber = opening.subscriber
        self.caps.close(opening.principal.user_id, subscriber.session_id)
        self.fanout.remove(subscriber)
        if self.stream_tokens is not None:
            self.stream_tokens.forget(subscriber)
        grace = self.settings.presence_grace_seconds
        if grace > 0 and not self._flushed:
            self._leave_after(grace, subscriber.session_id, opening.principal)
        else:
            await self._depart(subscriber.session_id, opening.principal)

    async def flush_departures(self) -> None:
        """The server is stopping: the departures still in their grace are not recorded, so that
        a restart or deploy under a class announces no leave and join of everyone. With
        `carry_presence` (no Redis: this is the only process) they are left in the database for
        the next server to start, which keeps those users online for the grace
        (`take_carried_presence`); with Redis they stay present there for the grace (the
        presence's `close(linger_seconds=...)`) and the other processes reap who did not come back."""
        self._flushed = True
        pending = [(session_id, principal) for _, session_id, principal in self._departures.values()]
        for handle, _, _ in self._departures.values():
            handle.cancel()
        self._departures.clear()
        if self.carry_presence:
            people = {(session_id, principal.user_id): principal for session_id, principal in pending}
            rows = [(s, u, p.display_name, p.role.value) for (s, u), p in people.items()]
            now = self.clock.now()
            try:
                await self.database.transaction(lambda db: carried_presence.leave(db, rows, now))
            except Exception:  # the database is gone too: these users' leaves are never announced
                log.exception("could not leave %d users in their presence grace to the next server", len(rows))
        await asyncio.gather(*self._departing, return_exceptions=True)

    async def take_carried_presence(self) -> int:
        """At start, before taking calls: the users a stopped server left in their grace are online
        here, and leave when the grace has passed unless a stream of theirs came back. How many."""
        rows = await self.database.transaction(carried_presence.take)
        for session_id, user_id, name, role in rows:
            principal = Principal(user_id, name, Role(role))
            await self.presence.connect(session_id, principal)
            self._leave_after(self.settings.presence_grace_seconds, session_id, principal)
        return len(rows)

    async def _record_departures(self, session_id: str, people: list[Principal]) -> None:
        def record(change) -> None:
            for principal in people:
                change.ensure_member(principal)
                change.emit(user_left=pb.UserLeft(participant=views.participant(principal, online=False)))

        await self.events.run(session_id, record)
        for principal in people:
            await self.typing.left(principal, session_id)

    def _leave_after(self, grace: float, session_id: str, principal: Principal) -> None:
        key = self._next_departure = self._next_departure + 1
        handle = asyncio.get_running_loop().call_later(grace, self._depart_later, key)
        self._departures[key] = (handle, session_id, principal)

    def _depart_later(self, key: int) -> None:
        _, session_id, principal = self._departures.pop(key)
        self._due.setdefault(session_id, []).append(principal)
        if session_id not in self._recording:
            self._recording.add(session_id)
            task = asyncio.ensure_future(self._record_due(session_id))
            self._departing.add(task)
            task.add_done_callback(self._departing.discard)

    async def _record_due(self, session_id: str) -> None:
        """Record the session's due departures, taking those that came due meanwhile next, together."""
        try:
            while people := self._due.pop(session_id, None):
                try:
                    gone = [principal for principal in people if await self.presence.disconnect(session_id, principal)]
                    if gone:
                        await self._record_departures(session_id, gone)
                    if len(people) >= MANY_DEPARTURES:  # a class emptied: its streams' memory goes back to the OS
                        asyncio.get_running_loop().call_later(TRIM_AFTER_DEPARTURES_SECONDS, release_free_memory)
                except Exception:  # storage or Redis down: these leaves are lost, the next ones are tried
                    log.exception("could not record %d departures from session %s", len(people), session_id)
        finally:
            self._recording.discard(session_id)

    async def _depart(self, session_id: str, principal: Principal) -> None:
        if await self.presence.disconnect(session_id, principal):
            await self._record_presence(principal, session_id, joined=False)
            await self.typing.left(principal, session_id)

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

    def _notice(self, session_id: str, **kind) -> bytes:
        return notice(session_id, self.clock.now(), **kind)

    def accepted(self, session_id: str, accepted: pb.ActionAccepted) -> bytes:
        """The framed ActionAccepted for the stream that sent an action."""
        return frame(self._notice(session_id, action_accepted=accepted))

    def rejected(self, session_id: str, request_id: str, error: ChatError) -> bytes:
        """The framed ErrorEvent for the stream whose action was refused."""
        event = pb.ErrorEvent(request_id=request_id, code=int(error.code), message=error.message)
        if error.retry_after is not None:
            event.retry_delay.FromTimedelta(error.retry_after)
        return frame(self._notice(session_id, error=event))
