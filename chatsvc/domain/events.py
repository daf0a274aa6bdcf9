"""Writing events: one sequence per session, stored before anyone receives them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from sessionchat.v1 import chat_pb2 as pb
from sqlmodel.ext.asyncio.session import AsyncSession

from chatsvc.clock import Clock
from chatsvc.domain import views
from chatsvc.fanout.hub import EVERYONE, Audience, StoredEvent
from chatsvc.storage import repository as repo
from chatsvc.storage.database import Database
from chatsvc.storage.tables import EventRecord


class Change:
    """One transaction in one session; `emit` adds events to it."""

    def __init__(self, db: AsyncSession, session_id: str, now: datetime) -> None:
        self.db = db
        self.session_id = session_id
        self.now = now
        self.events: list[StoredEvent] = []

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

    @asynccontextmanager
    async def change(self, session_id: str) -> AsyncIterator[Change]:
        async with self.database.lock(session_id):
            async with self.database.transaction() as db:
                await repo.ensure_session(db, session_id, self.clock.now())
                await repo.lock_session(db, session_id)
                change = Change(db, session_id, self.clock.now())
                yield change
            for event in change.events:
                await self.fanout.publish(event)


def notice(session_id: str, now: datetime, **kind) -> bytes:
    """A serialized event that is not persisted (sequence 0): typing, acks, errors."""
    return pb.Event(session_id=session_id, sequence=0, time=views.timestamp(now), **kind).SerializeToString()
