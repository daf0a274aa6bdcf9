"""Writing events: one sequence per session, stored before anyone receives them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from sessionchat.v1 import chat_pb2 as pb
from sqlmodel.ext.asyncio.session import AsyncSession

from chatsvc.auth import Principal
from chatsvc.clock import Clock
from chatsvc.domain import views
from chatsvc.fanout.hub import EVERYONE, Audience, StoredEvent
from chatsvc.storage import repository as repo
from chatsvc.storage.database import Database
from chatsvc.storage.tables import EventRecord


KNOWN_ROWS_LIMIT = 200_000


class Change:
    """One transaction in one session; `emit` adds events to it."""

    def __init__(self, db: AsyncSession, session_id: str, now: datetime, known_members: dict) -> None:
        self.db = db
        self.session_id = session_id
        self.now = now
        self.events: list[StoredEvent] = []
        self._known_members = known_members
        self.new_members: dict[tuple[str, str], tuple[str, str]] = {}

    async def ensure_member(self, principal: Principal) -> None:
        """Record that the user takes part in the session, with their current name and role."""
        key, value = (self.session_id, principal.user_id), (principal.display_name, principal.role.value)
        if self._known_members.get(key) == value:
            return  # written before by this process: skip a query on the hot path
        await repo.upsert_member(self.db, self.session_id, principal.user_id, value[0], value[1], self.now)
        self.new_members[key] = value

    async def emit(self, audience: Audience = EVERYONE, **kind) -> StoredEvent:
        """Store an event (e.g. `message_posted=...`) with the session's next sequence."""
        return self.record(await self.allocate(), audience, **kind)

    async def allocate(self) -> int:
        """The session's next sequence, for an event whose content must carry it."""
        return await repo.allocate_sequence(self.db, self.session_id)

    def record(self, sequence: int, audience: Audience = EVERYONE, **kind) -> StoredEvent:
        event = pb.Event(session_id=self.session_id, sequence=sequence, time=views.timestamp(self.now), **kind)
        payload = event.SerializeToString()
        parties = audience.parties + (None, None)
        self.db.add(
            EventRecord(
                session_id=self.session_id,
                sequence=sequence,
                everyone=audience.everyone,
                instructors=audience.instructors,
                party_a=parties[0],
                party_b=parties[1],
                payload=payload,
                created_at=self.now,
            )
        )
        stored = StoredEvent(self.session_id, sequence, audience, payload)
        self.events.append(stored)
        return stored


class EventWriter:
    """Runs changes: lock the session, write in one transaction, commit, then publish.

    Publishing inside the session lock, after the commit, is what makes every
    subscriber receive a session's events in sequence order and only once they
    are durable.
    """

    def __init__(self, database: Database, fanout, clock: Clock) -> None:
        self.database = database
        self.fanout = fanout
        self.clock = clock
        # Rows this process has committed and that are never deleted: sessions and
        # members. Knowing them saves two queries per message.
        self._known_sessions: set[str] = set()
        self._known_members: dict[tuple[str, str], tuple[str, str]] = {}

    @asynccontextmanager
    async def change(self, session_id: str) -> AsyncIterator[Change]:
        async with self.database.lock(session_id):
            async with self.database.transaction() as db:
                if session_id not in self._known_sessions:
                    await repo.ensure_session(db, session_id, self.clock.now())
                await repo.lock_session(db, session_id)
                change = Change(db, session_id, self.clock.now(), self._known_members)
                yield change
            self._remember(session_id, change)
            for event in change.events:
                await self.fanout.publish(event)

    def _remember(self, session_id: str, change: Change) -> None:
        if len(self._known_members) > KNOWN_ROWS_LIMIT or len(self._known_sessions) > KNOWN_ROWS_LIMIT:
            self._known_members.clear()
            self._known_sessions.clear()
        self._known_sessions.add(session_id)
        self._known_members.update(change.new_members)


def notice(session_id: str, now: datetime, **kind) -> bytes:
    """A serialized event that is not persisted (sequence 0): typing, acks, errors."""
    return pb.Event(session_id=session_id, sequence=0, time=views.timestamp(now), **kind).SerializeToString()
