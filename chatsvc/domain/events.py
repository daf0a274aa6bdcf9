"""Writing events: one sequence per session, stored before anyone receives them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sessionchat.v1 import chat_pb2 as pb
from sqlmodel import Session

from chatsvc.auth import Principal
from chatsvc.clock import Clock
from chatsvc.domain import views
from chatsvc.fanout.hub import EVERYONE, Audience, StoredEvent
from chatsvc.storage import chain, reads
from chatsvc.storage import repository as repo
from chatsvc.storage.database import Database
from chatsvc.storage.tables import MuteRecord

KNOWN_ROWS_LIMIT = 200_000

T = TypeVar("T")


class Change:
    """One transaction in one session; `emit` adds events to it.

    A change's methods run on a database thread, inside the transaction. Its
    events are written together by `finish`, and the session's sequence is
    taken from the database once and counted on from there: a batch of many
    messages costs a few statements, not a few per message.
    """

    def __init__(self, db: Session, session_id: str, now: datetime, known_members: dict) -> None:
        self.db = db
        self.session_id = session_id
        self.now = now
        self.events: list[StoredEvent] = []
        self._known_members = known_members
        self.new_members: dict[tuple[str, str], tuple[str, str]] = {}
        self._first_sequence: int | None = None
        self._last_sequence = 0
        self._event_rows: list[dict] = []
        self._presence_rows: list[dict] = []  # who joined and left, for read receipts' audiences
        # The session's mutes by user id, once moderation has read them in this change.
        self.mutes: dict[str, MuteRecord] | None = None

    def ensure_member(self, principal: Principal) -> None:
        """Record that the user takes part in the session, with their current name and role."""
        key, value = (self.session_id, principal.user_id), (principal.display_name, principal.role.value)
        if self._known_members.get(key) == value:
            return  # written before by this process: skip a query on the hot path
        repo.upsert_member(self.db, self.session_id, principal.user_id, value[0], value[1], self.now)
        self.new_members[key] = value

    def ensure_members(self, principals: list[Principal]) -> None:
        """`ensure_member` for many users (a batch of joiners) with one query."""
        unknown = {}
        for principal in principals:
            key, value = (self.session_id, principal.user_id), (principal.display_name, principal.role.value)
            if self._known_members.get(key) != value:
                unknown[principal.user_id] = value
        if unknown:
            repo.upsert_members(self.db, self.session_id, unknown, self.now)
            self.new_members.update({(self.session_id, user_id): value for user_id, value in unknown.items()})

    def emit(self, audience: Audience = EVERYONE, **kind) -> StoredEvent:
        """Store an event (e.g. `message_posted=...`) with the session's next sequence."""
        return self.record(self.allocate(), audience, **kind)

    def allocate(self) -> int:
        """The session's next sequence, for an event whose content must carry it."""
        if self._first_sequence is None:
            # The first one from the database: its update holds the session row (SQLite: the
            # write lock) until commit, so counting on from it is safe across processes.
            self._first_sequence = self._last_sequence = repo.allocate_sequence(self.db, self.session_id)
        else:
            self._last_sequence += 1
        return self._last_sequence

    def record(self, sequence: int, audience: Audience = EVERYONE, **kind) -> StoredEvent:
        event = pb.Event(session_id=self.session_id, sequence=sequence, time=views.timestamp(self.now), **kind)
        payload = event.SerializeToString()
        parties = audience.parties + (None, None)
        self._event_rows.append(
            dict(
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
        for change, joined in (("user_joined", True), ("user_left", False)):
            if change in kind:
                person = kind[change].participant
                self._presence_rows.append(
                    dict(session_id=self.session_id, sequence=sequence, user_id=person.user_id, display_name=person.display_name, joined=joined)
                )
        stored = StoredEvent(self.session_id, sequence, audience, payload)
        self.events.append(stored)
        return stored

    def finish(self) -> None:
        """Write what the change recorded: its events, and the session's newest sequence."""
        if self._first_sequence is not None and self._last_sequence != self._first_sequence:
            repo.set_last_sequence(self.db, self.session_id, self._last_sequence)
        if self._event_rows:
            chain.chain_rows(self.db, self.session_id, self._event_rows)
            repo.insert_events(self.db, self._event_rows)
        if self._presence_rows:
            reads.add_presence_changes(self.db, self._presence_rows)


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

    async def run(self, session_id: str, body: Callable[[Change], T]) -> T:
        """Run `body(change)` in one transaction of the session, then publish what it emitted.

        Returns what `body` returns; if it raises, nothing of it is stored or
        published. Once the transaction has started it is seen through even
        if the caller is cancelled: a committed event is always published.
        """
        return await asyncio.shield(self._run(session_id, body))

    async def _run(self, session_id: str, body: Callable[[Change], T]) -> T:
        async with self.database.lock(session_id):
            now = self.clock.now()
            known_session = session_id in self._known_sessions

            def work(db: Session) -> tuple[T, Change]:
                if not known_session:
                    repo.ensure_session(db, session_id, now)
                repo.lock_session(db, session_id)
                change = Change(db, session_id, now, self._known_members)
                result = body(change)
                change.finish()
                return result, change

            result, change = await self.database.transaction(work)
            self._remember(session_id, change)
            for event in change.events:
                await self.fanout.publish(event)
        return result

    def _remember(self, session_id: str, change: Change) -> None:
        if len(self._known_members) > KNOWN_ROWS_LIMIT or len(self._known_sessions) > KNOWN_ROWS_LIMIT:
            self._known_members.clear()
            self._known_sessions.clear()
        self._known_sessions.add(session_id)
        self._known_members.update(change.new_members)


def notice(session_id: str, now: datetime, **kind) -> bytes:
    """A serialized event that is not persisted (sequence 0): typing, acks, errors."""
    return pb.Event(session_id=session_id, sequence=0, time=views.timestamp(now), **kind).SerializeToString()
