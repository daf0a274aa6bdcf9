"""Fan-out across processes through Redis pub/sub, gap-free.

Each process publishes the events it commits to one Redis channel per
session and delivers to its own subscribers the events of every process.
Redis pub/sub delivers at most once, so it is only the fast path: a
`SessionFeed` per session delivers events strictly in sequence order, and a
gap (a lost message, a Redis outage, an event another process published
late) is filled from the database, where every event was stored before it
was published. A periodic check catches gaps at the end of a quiet session.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid

import redis.asyncio as redis
from redis.exceptions import RedisError

from chatsvc.fanout.hub import Audience, Hub, StoredEvent, Subscriber
from chatsvc.fanout.redis.outage import Outage
from chatsvc.fanout.redis.pool import close_within
from chatsvc.metrics import EVENTS_PUBLISHED
from chatsvc.storage import repository as repo
from chatsvc.storage.database import Database

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "chatsvc:events:"


def encode(origin: str, event: StoredEvent) -> bytes:
    audience = event.audience
    header = json.dumps([origin, event.sequence, audience.everyone, audience.instructors, list(audience.parties)])
    return header.encode() + b"\n" + event.payload


def decode(session_id: str, data: bytes) -> tuple[str, StoredEvent]:
    header, _, payload = data.partition(b"\n")
    origin, sequence, everyone, instructors, parties = json.loads(header)
    return origin, StoredEvent(session_id, sequence, Audience(everyone, instructors, tuple(parties)), payload)


class SessionFeed:
    """Delivers one session's events to this process's hub in sequence order, once each."""

    def __init__(self, session_id: str, delivered: int, hub: Hub, database: Database) -> None:
        self.session_id = session_id
        self.delivered = delivered
        self._hub = hub
        self._database = database
        self._early: dict[int, StoredEvent] = {}
        self._filling: asyncio.Task | None = None

    def accept(self, event: StoredEvent) -> None:
        if event.sequence == 0:  # a notice (typing): not sequenced, never stored
            self._hub.deliver(event)
            return
        if event.sequence <= self.delivered:
            return  # already delivered: a duplicate or our own event coming back
        if event.sequence == self.delivered + 1 and not self._early:
            self._deliver(event)
            return
        self._early[event.sequence] = event
        self._drain()
        if self._early:
            self.fill_to(max(self._early) - 1)

    def fill_to(self, through: int) -> None:
        """Fetch the events up to `through` that never arrived (at most one fill at a time)."""
        if through > self.delivered and (self._filling is None or self._filling.done()):
            self._filling = asyncio.create_task(self._fill(through))

    async def _fill(self, through: int) -> None:
        while through > self.delivered:
            before = self.delivered
            try:
                after = self.delivered
                rows = await self._database.read(
                    functools.partial(repo.event_records, session_id=self.session_id, after_sequence=after, through_sequence=through)
                )
            except Exception:
                log.exception("could not fill the gap after %s in session %s", self.delivered, self.session_id)
                return
            for row in rows:
                if row.sequence > self.delivered and row.sequence not in self._early:
                    parties = tuple(p for p in (row.party_a, row.party_b) if p)
                    audience = Audience(row.everyone, row.instructors, parties)
                    self._early[row.sequence] = StoredEvent(self.session_id, row.sequence, audience, bytes(row.payload))
            self._drain()
            if self.delivered == before:
                return  # nothing new in the database yet: the periodic check tries again
            # Events that arrived meanwhile may have opened a further gap.
            through = max(self._early) - 1 if self._early else 0

    def _drain(self) -> None:
        while (event := self._early.pop(self.delivered + 1, None)) is not None:
            self._deliver(event)
        for sequence in [s for s in self._early if s <= self.delivered]:
            del self._early[sequence]

    def _deliver(self, event: StoredEvent) -> None:
        self.delivered = event.sequence
        self._hub.deliver(event)


class RedisFanout:
    def __init__(
        self, client: redis.Redis, listener: redis.Redis, database: Database, *, check_seconds: float = 1.0, hub: Hub | None = None
    ) -> None:
        """`client` is the process's shared pool (publishing gives up fast: the database is the
        fallback); `listener` is this feed's own connection, which waits for messages indefinitely."""
        self.hub = hub or Hub()
        self.origin = uuid.uuid4().hex
        self._client = client
        self._listener = listener
        self._database = database
        self._check_seconds = check_seconds
        self._feeds: dict[str, SessionFeed] = {}
        self._tracking: dict[str, asyncio.Future] = {}
        self._tasks: list[asyncio.Task] = []
        self._publishing = Outage(
            log, "fanout_publish", down="cannot publish to Redis (other processes will catch up from the database)", up="publishing to Redis works again"
        )
        self._receiving = Outage(
            log, "fanout_receive", down="lost the Redis event channel (catching up from the database meanwhile)", up="receiving events from Redis again"
        )

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._check_gaps())]

    async def close(self) -> None:
        await close_within("the Redis event channel", self._tasks)
        await close_within("the Redis listener connection", [], self._listener.aclose())  # the shared client is closed by its owner

    async def publish(self, event: StoredEvent) -> None:
        """Deliver here at once, then tell the other processes."""
        EVENTS_PUBLISHED.inc()
        feed = self._feeds.get(event.session_id)
        if feed is not None:
            feed.accept(event)
        try:
            await self._client.publish(CHANNEL_PREFIX + event.session_id, encode(self.origin, event))
        except (RedisError, OSError) as error:
            # The event is stored: other processes fetch it when they check for gaps.
            self._publishing.failed(error)
            return
        self._publishing.recovered()

    async def add(self, subscriber: Subscriber) -> None:
        await self._track(subscriber.session_id)
        self.hub.add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        self.hub.remove(subscriber)
        if not self.hub.subscribers(subscriber.session_id):
            self._feeds.pop(subscriber.session_id, None)
            self._tracking.pop(subscriber.session_id, None)

    async def _track(self, session_id: str) -> None:
        """Start following a session from its current sequence (once, however many join at once)."""
        future = self._tracking.get(session_id)
        if future is None:
            future = self._tracking[session_id] = asyncio.ensure_future(self._open_feed(session_id))
        try:
            await asyncio.shield(future)
        except Exception:
            self._tracking.pop(session_id, None)
            raise

    async def _open_feed(self, session_id: str) -> None:
        delivered = await self._database.read(lambda db: repo.last_sequence(db, session_id))
        self._feeds.setdefault(session_id, SessionFeed(session_id, delivered, self.hub, self._database))

    async def _listen(self) -> None:
        """Receive every process's events; after a lost connection, resubscribe and fill gaps."""
        delay = 0.1
        while True:
            pubsub = self._listener.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                if self._receiving.failing:
                    self._receiving.recovered()
                    self._fill_all()
                delay = 0.1
                async for message in pubsub.listen():
                    if message["type"] == "pmessage":
                        self._receive(message["channel"], message["data"])
            except asyncio.CancelledError:
                await pubsub.aclose()
                raise
            except (RedisError, OSError) as error:
                self._receiving.failed(error)
                await pubsub.aclose()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                self._fill_all()

    def _receive(self, channel: bytes, data: bytes) -> None:
        session_id = channel.decode()[len(CHANNEL_PREFIX) :]
        feed = self._feeds.get(session_id)
        if feed is None:
            return
        try:
            origin, event = decode(session_id, data)
        except (ValueError, TypeError):
            log.warning("ignoring a malformed event on %s", channel)
            return
        if origin != self.origin:
            feed.accept(event)

    def _fill_all(self) -> None:
        asyncio.ensure_future(self._check_once())

    async def _check_gaps(self) -> None:
        while True:
            await asyncio.sleep(self._check_seconds)
            try:
                await self._check_once()
            except Exception:
                log.exception("checking for missed events failed")

    async def _check_once(self) -> None:
        """Compare each followed session with the database; fetch what never arrived."""
        if not self._feeds:
            return
        session_ids = list(self._feeds)
        newest = await self._database.read(lambda db: repo.last_sequences(db, session_ids))
        for session_id, sequence in newest.items():
            feed = self._feeds.get(session_id)
            if feed is not None and sequence > feed.delivered:
                feed.fill_to(sequence)
