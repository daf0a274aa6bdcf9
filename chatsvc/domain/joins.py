"""Joining in batches: the joins of one session that arrive together share one transaction for
their `user_joined` events and one database read for what their streams start with.

A class starts with everyone joining in the same minute, and after a restart
everyone resumes at once. One at a time, each join was a transaction, a
`user_joined` written to every stream, and a snapshot read of its own under the
session lock. Here, while one batch is being stored and read, the next joins
gather; they then go together: their events are one transaction (and each
stream gets them in one write), their snapshots share what every viewer sees
alike (`snapshots.py`), and resuming streams share one read of the missed events.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from sessionchat.v1 import chat_pb2 as pb
from sqlmodel import Session

from chatsvc.auth import Principal
from chatsvc.clock import Clock
from chatsvc.config import Settings
from chatsvc.domain import views
from chatsvc.domain.deleted_text import without_deleted_text
from chatsvc.domain.events import EventWriter, notice
from chatsvc.domain.messages import MessageViews
from chatsvc.domain.snapshots import Snapshots
from chatsvc.fanout.codec import EVENTS_FIELD_TAG, frame
from chatsvc.fanout.hub import Subscriber
from chatsvc.fanout.presence import Presence
from chatsvc.memory import release_free_memory
from chatsvc.storage import repository as repo
from chatsvc.storage.database import Database

# Field numbers of the parts a stream start is assembled from (chat.proto).
STREAM_STARTED_FIELD = pb.Event.DESCRIPTOR.fields_by_name["stream_started"].number
SNAPSHOT_FIELD = pb.StreamStarted.DESCRIPTOR.fields_by_name["snapshot"].number
ONLINE_FIELD = pb.SessionSnapshot.DESCRIPTOR.fields_by_name["online"].number

# How long after a storm's last batch its memory is given back (its stream starts written by then).
TRIM_AFTER_STORM_SECONDS = 1.0

# At most this many joins share one batch (a larger storm is several batches, one after another).
JOIN_BATCH_LIMIT = 256


@dataclass
class Join:
    """A stream waiting for its session's next batch of joins."""

    principal: Principal
    last_sequence: int
    subscriber: Subscriber
    expire_time: Timestamp | None
    announce: bool  # the user's first stream here: tell everyone they joined
    result: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class _Start:
    """What one joiner's stream starts with: the missed events (resuming), or a snapshot."""

    missed: list[bytes] | None = None
    snapshot: pb.SessionSnapshot | None = None


class Joins:
    def __init__(
        self,
        *,
        database: Database,
        events: EventWriter,
        presence: Presence,
        clock: Clock,
        settings: Settings,
        message_views: MessageViews,
    ) -> None:
        self.database = database
        self.events = events
        self.presence = presence
        self.clock = clock
        self.settings = settings
        self.message_views = message_views
        self._pending: dict[str, list[Join]] = {}
        self._workers: dict[str, asyncio.Task] = {}
        self._last_batch: dict[str, tuple[float, int]] = {}  # the session's last batch: loop time it started, joins

    async def join(self, session_id: str, join: Join) -> list[bytes]:
        """Announce the joiner (if `join.announce`) and return the framed events its stream starts
        with; the subscriber is told where its live events begin."""
        self._pending.setdefault(session_id, []).append(join)
        if session_id not in self._workers:
            self._workers[session_id] = asyncio.create_task(self._run(session_id))
        return await join.result

    async def _run(self, session_id: str) -> None:
        loop = asyncio.get_running_loop()
        window = self.settings.join_batch_window_ms / 1000
        batches = 0
        while pending := self._pending.get(session_id):
            batches += 1
            # In a storm, batches start at most once per window: each batch's `user_joined`
            # events reach every stream in one write, so the writes per second stay bounded
            # whatever the rate of joins. A storm is joins gathering while a batch is handled;
            # a join into a quiet session (or one of two or three arriving together) goes at once.
            last_at, last_size = self._last_batch.get(session_id, (-window, 0))
            wait = last_at + window - loop.time()
            if wait > 0 and (len(pending) > 1 or last_size > 1):
                await asyncio.sleep(wait)
            batch = pending[:JOIN_BATCH_LIMIT]
            del pending[:JOIN_BATCH_LIMIT]
            self._last_batch[session_id] = (loop.time(), len(batch))
            try:
                await self._start_batch(session_id, batch)
            except Exception as error:
                for join in batch:
                    if not join.result.done():
                        join.result.set_exception(error)
        self._pending.pop(session_id, None)
        self._workers.pop(session_id, None)
        if batches > 1:
            # A storm is over: once its stream starts are written (they are held until then),
            # the memory they took goes back to the OS.
            loop.call_later(TRIM_AFTER_STORM_SECONDS, release_free_memory)
        if len(self._last_batch) > 10_000:
            self._last_batch.clear()

    async def _start_batch(self, session_id: str, batch: list[Join]) -> None:
        announced = [join for join in batch if join.announce and not join.result.done()]
        if announced:

            def record(change) -> None:
                change.ensure_members([join.principal for join in announced])
                for join in announced:
                    change.emit(user_joined=pb.UserJoined(participant=views.participant(join.principal, online=True)))

            await self.events.run(session_id, record)
        live = [join for join in batch if not join.result.done()]
        if not live:
            return
        now = self.clock.now()
        async with self.database.lock(session_id):
            # Under the lock, like the database read: no join or leave is recorded meanwhile.
            online = b"".join(
                _field(ONLINE_FIELD, views.participant(person, online=True).SerializeToString())
                for person in await self.presence.online(session_id)
            )
            newest, starts = await self.database.snapshot_read(lambda db: self._read(db, session_id, live, now))
            for join, start in zip(live, starts, strict=True):
                join.subscriber.start_after(newest, position=join.last_sequence if start.missed is not None else newest)
        for join, start in zip(live, starts, strict=True):
            if not join.result.done():
                join.result.set_result(self._initial(session_id, join, start, newest, online))

    def _read(self, db: Session, session_id: str, joins: list[Join], now: datetime) -> tuple[int, list[_Start]]:
        """On a database thread: the newest sequence, and each joiner's start."""
        newest = repo.last_sequence(db, session_id)
        resuming = {id(join) for join in joins if join.last_sequence and 0 <= newest - join.last_sequence <= self.settings.replay_limit}
        replay: list[tuple] = []
        if resuming:
            after = min(join.last_sequence for join in joins if id(join) in resuming)
            rows = repo.event_rows_between(db, session_id, after, newest)
            # Stored events carry text as it was when sent: none of a since-deleted message goes out again.
            deleted = repo.deleted_messages(db, session_id) if rows else {}
            cleaned = without_deleted_text([row[5] for row in rows], deleted)
            replay = [(*row[:5], frame(payload)) for row, payload in zip(rows, cleaned, strict=True)]
        fresh = [join.principal for join in joins if id(join) not in resuming]
        snapshots = None
        if fresh:
            snapshots = Snapshots(
                db, session_id, newest, now, fresh, recent_limit=self.settings.snapshot_messages, message_views=self.message_views
            )
        starts = []
        for join in joins:
            if id(join) in resuming:
                starts.append(_Start(missed=_visible(replay, join.last_sequence, join.principal)))
            else:
                assert snapshots is not None
                starts.append(_Start(snapshot=snapshots.for_viewer(join.principal)))
        return newest, starts

    def _initial(self, session_id: str, join: Join, start: _Start, newest: int, online: bytes) -> list[bytes]:
        you = views.participant(join.principal, online=True)
        now = self.clock.now()
        if start.missed is not None:
            started = pb.StreamStarted(
                you=you, recovered=True, resume_from_sequence=join.last_sequence, token_expire_time=join.expire_time, reactions=self.settings.reactions
            )
            return [frame(notice(session_id, now, stream_started=started)), *start.missed]
        assert start.snapshot is not None
        # The online list (about 40 bytes a person: 40 KB at 1,000) is encoded once per batch and
        # appended as bytes (a repeated field's elements may follow the rest of the message); the
        # stream start is assembled in one allocation, not copied once per enclosing message.
        snapshot = start.snapshot.SerializeToString()
        started = pb.StreamStarted(
            you=you, recovered=False, resume_from_sequence=newest, token_expire_time=join.expire_time, reactions=self.settings.reactions
        )
        started_head = started.SerializeToString() + _key(SNAPSHOT_FIELD, len(snapshot) + len(online))
        event_head = notice(session_id, now)
        started_length = len(started_head) + len(snapshot) + len(online)
        event_head += _key(STREAM_STARTED_FIELD, started_length)
        event_length = len(event_head) + started_length
        return [b"".join((EVENTS_FIELD_TAG, _varint(event_length), event_head, started_head, snapshot, online))]


def _visible(replay: list[tuple], after: int, viewer: Principal) -> list[bytes]:
    """The framed events after `after` that `viewer` may see (as `repo.events_after` selects them)."""
    return [
        framed
        for sequence, everyone, instructors, party_a, party_b, framed in replay
        if sequence > after and (everyone or (instructors and viewer.is_instructor) or viewer.user_id in (party_a, party_b))
    ]


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field: its key, the payload's length (varint), the payload."""
    return _key(number, len(payload)) + payload


def _key(number: int, length: int) -> bytes:
    """The key and length of a length-delimited field whose payload follows."""
    return _varint(number << 3 | 2) + _varint(length)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
