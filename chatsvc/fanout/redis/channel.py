"""Fan-out across processes through Redis pub/sub, gap-free.

Each process publishes the events it commits to one Redis channel per
session and delivers to its own subscribers the events of every process. A
process subscribes to a session's channel when its first local subscriber of
that session joins (and has Redis confirm it before reading where the session
stands) and unsubscribes a linger after the last one leaves, so what it
receives is proportional to its own sessions, not to the platform.
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
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from chatsvc.fanout.hub import Audience, Hub, StoredEvent, Subscriber
from chatsvc.fanout.redis.outage import Outage
from chatsvc.fanout.redis.pool import close_within
from chatsvc.metrics import EVENTS_PUBLISHED, EVENTS_RECEIVED, SESSIONS_FOLLOWED
from chatsvc.storage import repository as repo
from chatsvc.storage.database import Database

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "chatsvc:events:"
# Subscribed to always, so that the listener's connection stays in pub/sub mode with no session followed.
IDLE_CHANNEL = "chatsvc:idle"
# How long a join waits for Redis to confirm its session's subscription; past it, the gap check covers.
SUBSCRIBE_TIMEOUT = 2.0


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
        self,
        client: redis.Redis,
        listener: redis.Redis,
        database: Database,
        *,
        check_seconds: float = 1.0,
        linger_seconds: float = 5.0,
        hub: Hub | None = None,
    ) -> None:
        """`client` is the process's shared pool (publishing gives up fast: the database is the
        fallback); `listener` is this feed's own connection, which waits for messages indefinitely."""
        self.hub = hub or Hub()
        self.origin = uuid.uuid4().hex
        self._client = client
        self._listener = listener
        self._database = database
        self._check_seconds = check_seconds
        self._linger_seconds = linger_seconds
        self._pubsub: PubSub | None = None  # the listener's current PubSub, once subscribed
        self._confirmations: dict[str, asyncio.Future] = {}  # channel -> confirmed by Redis
        self._lingering: dict[str, asyncio.TimerHandle] = {}  # sessions with no local subscriber left
        self._unsubscribing: dict[str, asyncio.Future] = {}  # sent before a new subscription of the same session
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
        lingering = self._lingering.pop(subscriber.session_id, None)
        if lingering is not None:
            lingering.cancel()  # back within the linger: still subscribed, the feed is current
        await self._track(subscriber.session_id)
        self.hub.add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        self.hub.remove(subscriber)
        session_id = subscriber.session_id
        if not self.hub.subscribers(session_id) and session_id not in self._lingering:
            self._lingering[session_id] = asyncio.get_running_loop().call_later(self._linger_seconds, self._unfollow, session_id)

    def _unfollow(self, session_id: str) -> None:
        """The linger is over and nobody came back: stop receiving the session."""
        self._lingering.pop(session_id, None)
        if self.hub.subscribers(session_id):
            return
        self._feeds.pop(session_id, None)
        self._tracking.pop(session_id, None)
        SESSIONS_FOLLOWED.set(len(self._feeds))
        pubsub = self._pubsub
        if pubsub is not None:
            task = asyncio.ensure_future(self._quietly(pubsub.unsubscribe(CHANNEL_PREFIX + session_id)))
            self._unsubscribing[session_id] = task
            task.add_done_callback(functools.partial(self._unsubscribed, session_id))

    def _unsubscribed(self, session_id: str, task: asyncio.Future) -> None:
        if self._unsubscribing.get(session_id) is task:
            del self._unsubscribing[session_id]

    @staticmethod
    async def _quietly(command) -> None:
        try:
            await command
        except (RedisError, OSError):
            pass  # the listener reconnects and subscribes only to the sessions still followed

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
        # Subscribed (and confirmed) first, then where the session stands: every event after
        # that read arrives on the channel, or is fetched from the database as a gap.
        await self._subscribe(session_id)
        delivered = await self._database.read(lambda db: repo.last_sequence(db, session_id))
        self._feeds.setdefault(session_id, SessionFeed(session_id, delivered, self.hub, self._database))
        SESSIONS_FOLLOWED.set(len(self._feeds))

    async def _subscribe(self, session_id: str) -> None:
        channel = CHANNEL_PREFIX + session_id
        unsubscribing = self._unsubscribing.get(session_id)
        if unsubscribing is not None:
            await unsubscribing  # its UNSUBSCRIBE goes first, so it cannot undo this SUBSCRIBE
        pubsub = self._pubsub
        if pubsub is None:
            return  # Redis is away: the listener subscribes to every followed session when it is back
        confirmed = self._confirmations.get(channel)
        if confirmed is None or confirmed.done():
            confirmed = self._confirmations[channel] = asyncio.get_running_loop().create_future()
        try:
            await pubsub.subscribe(channel)
            await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBE_TIMEOUT)
        except (RedisError, OSError, TimeoutError) as error:
            log.debug("subscribing to %s was not confirmed (%s); the gap check covers it", channel, error)

    async def _listen(self) -> None:
        """Receive every process's events; after a lost connection, resubscribe and fill gaps."""
        delay = 0.1
        while True:
            pubsub = self._listener.pubsub(ignore_subscribe_messages=False)
            try:
                # The sessions followed, and those whose feed is opening (their own subscribe may have
                # gone to the connection that was lost).
                followed = set(self._feeds) | set(self._tracking)
                await pubsub.subscribe(IDLE_CHANNEL, *(CHANNEL_PREFIX + session_id for session_id in followed))
                self._pubsub = pubsub
                if self._receiving.failing:
                    self._receiving.recovered()
                    self._fill_all()
                delay = 0.1
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self._receive(message["channel"], message["data"])
                    elif message["type"] == "subscribe":
                        confirmed = self._confirmations.pop(message["channel"].decode(), None)
                        if confirmed is not None and not confirmed.done():
                            confirmed.set_result(None)
            except asyncio.CancelledError:
                self._pubsub = None
                await pubsub.aclose()
                raise
            except (RedisError, OSError) as error:
                self._pubsub = None
                self._receiving.failed(error)
                await pubsub.aclose()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                self._fill_all()

    def _receive(self, channel: bytes, data: bytes) -> None:
        session_id = channel.decode()[len(CHANNEL_PREFIX) :]
        feed = self._feeds.get(session_id)
        EVENTS_RECEIVED.inc()
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
