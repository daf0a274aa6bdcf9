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

from chatsvc.fanout.hub import Audience, Hub, StoredEvent, Subscriber
from chatsvc.fanout.redis.listener import ClusterListener, SingleNodeListener
from chatsvc.fanout.redis.outage import Outage
from chatsvc.fanout.redis.pool import REDIS_FAILURES, Client, close_within, settle_seconds
from chatsvc.metrics import EVENTS_PUBLISHED, EVENTS_RECEIVED, SESSIONS_FOLLOWED
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
        self,
        client: Client,
        listener: SingleNodeListener | ClusterListener,
        database: Database,
        *,
        check_seconds: float = 1.0,
        linger_seconds: float = 5.0,
        hub: Hub | None = None,
    ) -> None:
        """`client` is the process's shared pool (publishing gives up fast: the database is the
        fallback); `listener` receives the channels, on connections of its own that wait for
        messages indefinitely. On a cluster, events go on sharded channels, each session's on
        the master that owns its slot."""
        self.hub = hub or Hub()
        self.origin = uuid.uuid4().hex
        self._client = client
        self._listener = listener
        self._sharded = isinstance(listener, ClusterListener)
        self._database = database
        self._check_seconds = check_seconds
        self._linger_seconds = linger_seconds
        self._lingering: dict[str, asyncio.TimerHandle] = {}  # sessions with no local subscriber left
        self._feeds: dict[str, SessionFeed] = {}
        self._tracking: dict[str, asyncio.Future] = {}
        self._tasks: list[asyncio.Task] = []
        self._publishing = Outage(
            log,
            "fanout_publish",
            down="cannot publish to Redis (other processes will catch up from the database)",
            up="publishing to Redis works again",
            settle_seconds=settle_seconds(client),
        )
        self._receiving = Outage(
            log,
            "fanout_receive",
            down="lost the Redis event channel (catching up from the database meanwhile)",
            up="receiving events from Redis again",  # the listener says when every master is back
        )

    def channel(self, session_id: str) -> str:
        """The session's channel; on a cluster its name is hash-tagged like the session's keys."""
        return f"{CHANNEL_PREFIX}{{{session_id}}}" if self._sharded else CHANNEL_PREFIX + session_id

    async def start(self) -> None:
        self._listener.start(self._receive, self._lost, self._back)
        self._tasks = [asyncio.create_task(self._check_gaps())]

    async def close(self) -> None:
        await close_within("the Redis event channel", self._tasks)
        await self._listener.close()  # the shared client is closed by its owner

    async def publish(self, event: StoredEvent) -> None:
        """Deliver here at once, then tell the other processes."""
        EVENTS_PUBLISHED.inc()
        feed = self._feeds.get(event.session_id)
        if feed is not None:
            feed.accept(event)
        channel, data = self.channel(event.session_id), encode(self.origin, event)
        try:
            await (self._client.spublish(channel, data) if self._sharded else self._client.publish(channel, data))
        except REDIS_FAILURES as error:
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
        self._listener.unfollow(self.channel(session_id))

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
        await self._listener.follow(self.channel(session_id))
        delivered = await self._database.read(lambda db: repo.last_sequence(db, session_id))
        self._feeds.setdefault(session_id, SessionFeed(session_id, delivered, self.hub, self._database))
        SESSIONS_FOLLOWED.set(len(self._feeds))

    def _lost(self, error: BaseException) -> None:
        self._receiving.failed(error)
        self._fill_all()

    def _back(self) -> None:
        self._receiving.recovered()
        self._fill_all()  # what was published while the connection was away

    def _receive(self, channel: str, data: bytes) -> None:
        session_id = channel[len(CHANNEL_PREFIX) :]
        if self._sharded:
            session_id = session_id[1:-1]  # the hash tag's braces
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
