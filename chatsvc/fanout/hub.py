"""In-process fan-out: the live subscribers of each session on this server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

from chatsvc.errors import ErrorCode
from chatsvc.fanout.codec import (
    chunks,
    frame,
    last_sequence_in,
    previous_sequence_field,
)
from chatsvc.metrics import EVENTS_DELIVERED, LIVE_SESSIONS, LIVE_STREAMS, SUBSCRIBER_BACKLOG


@dataclass(frozen=True)
class Audience:
    """Who may see an event: everyone, or its parties plus (optionally) instructors."""

    everyone: bool = True
    instructors: bool = True
    parties: tuple[str, ...] = ()

    def admits(self, user_id: str, is_instructor: bool) -> bool:
        return self.everyone or (self.instructors and is_instructor) or user_id in self.parties


EVERYONE = Audience()


@dataclass(frozen=True)
class StoredEvent:
    """An event as it goes out: serialized once, framed once."""

    session_id: str
    sequence: int  # 0 for a notice that is not persisted
    audience: Audience
    payload: bytes
    framed: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "framed", frame(self.payload))


class StreamEnded(Exception):
    """The server ends this subscriber's stream with a status; `reason` is why, in one word
    (fell_behind, token_expired, shutdown), for metrics and the access log."""

    def __init__(self, code: ErrorCode, message: str, reason: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason


class Subscriber:
    """One live stream: a bounded queue of framed events and one writer.

    The hub never waits for a subscriber. A subscriber that falls more than
    `max_pending` events behind is dropped (its stream ends, telling it where to
    resume) so that it cannot grow memory or delay anyone.

    Every response carries `previous_sequence`: the sequence of the last
    sequenced event this stream sent before it. The stream's start counts as
    having sent everything through the position it starts from (its
    `stream_started.resume_from_sequence`), so a client compares each
    response's `previous_sequence` with the last sequence it holds: equal
    means nothing was lost, however many sequences others' private events skip.

    There is one per live stream, so it is kept small (slots, a list rather
    than a deque and an asyncio.Event, each of which allocates ~0.5 KB up front).
    """

    __slots__ = (
        "session_id",
        "user_id",
        "is_instructor",
        "max_pending",
        "batch_bytes",
        "_queue",
        "_sequences",
        "_bytes",
        "_waiter",
        "_skip_through",
        "_ended",
        "_group",
        "_sent",
        "events_sent",
    )

    def __init__(self, session_id: str, user_id: str, is_instructor: bool, *, max_pending: int, batch_bytes: int) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.is_instructor = is_instructor
        self.max_pending = max_pending
        self.batch_bytes = batch_bytes
        # Framed events only: the same bytes objects for every subscriber, nothing
        # allocated per subscriber and event (a join storm queues ~500,000).
        self._queue: list[bytes] = []
        # Their sequences (0 for a notice): where the stream starts, and each
        # response's previous_sequence. The same int objects for every subscriber.
        self._sequences: list[int] = []
        self._bytes = 0  # framed bytes in the queue
        self._waiter: asyncio.Future | None = None  # the writer, while it waits for events
        self._skip_through: int | None = None
        self._ended: StreamEnded | None = None
        self._group: _Session | None = None  # set while the hub holds this subscriber
        self._sent = 0  # the last sequence this stream sent (or started from)
        self.events_sent = 0  # events written to the stream (for its access-log line)

    def deliver(self, sequence: int, framed: bytes) -> None:
        if self._ended is not None:
            return
        if sequence and self._skip_through is not None and sequence <= self._skip_through:
            return  # already part of what the stream started with
        queue = self._queue
        if len(queue) >= self.max_pending:
            queue.clear()
            self._sequences.clear()
            self._bytes = 0
            # Only the client knows what it really received (a finished write
            # may still sit in buffers), so the status names no number.
            self._end(
                ErrorCode.RESOURCE_EXHAUSTED,
                f"this stream fell more than {self.max_pending} events behind and was ended; "
                "reconnect with last_sequence set to the last event you received to resume without loss",
                "fell_behind",
            )
            return
        queue.append(framed)
        self._sequences.append(sequence)
        self._bytes += len(framed)
        if self._waiter is not None:  # the writer is idle: this is its first pending event
            group = self._group
            if group is not None and group.coalescing():
                group.wake_later(self._waiter)
                self._waiter = None
            else:
                self._wake()

    def start_after(self, sequence: int, position: int | None = None) -> None:
        """Everything up to `sequence` is in what the stream starts with: drop it from the queue.

        `position` is the sequence the stream starts from (`resume_from_sequence`:
        the client's last sequence when the missed events follow, else `sequence`).
        """
        self._skip_through = sequence  # from now on, deliver() skips what the start covers
        self._sent = sequence if position is None else position
        kept = [(number, framed) for number, framed in zip(self._sequences, self._queue, strict=False) if number == 0 or number > sequence]
        self._sequences = [number for number, _ in kept]
        self._queue = [framed for _, framed in kept]
        self._bytes = sum(map(len, self._queue))

    def initial_responses(self, initial: list[bytes]) -> Iterator[bytes]:
        """What the stream starts with (its `stream_started`, then any missed events), as responses.

        The first response has no previous_sequence (nothing was sent before it).
        """
        previous = 0
        for part in chunks(initial, self.batch_bytes):
            self.events_sent += len(part)
            yield previous_sequence_field(previous) + b"".join(part)
            self._sent = last_sequence_in(part) or self._sent
            previous = self._sent

    def end(self, code: ErrorCode, message: str, *, reason: str) -> None:
        """End the stream once what is queued has been written; `reason` as `StreamEnded.reason`."""
        self._end(code, message, reason)

    def _end(self, code: ErrorCode, message: str, reason: str) -> None:
        if self._ended is None:
            self._ended = StreamEnded(code, message, reason)
            self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def next_batch(self) -> bytes:
        """The pending events as one response; waits when there are none."""
        while not self._queue:
            if self._ended is not None:
                raise self._ended
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        queue, sequences = self._queue, self._sequences
        previous = previous_sequence_field(self._sent)
        SUBSCRIBER_BACKLOG.observe(len(queue))  # ~0.5 µs: under 2% of a stream write's ~30 µs
        if self._bytes <= self.batch_bytes:  # the usual case: everything fits
            self._queue, self._sequences = [], []
            self._bytes = 0
            self._advance(sequences)
            self.events_sent += len(queue)
            return previous + queue[0] if len(queue) == 1 else b"".join([previous, *queue])
        count = size = 0
        for framed in queue:
            if count and size + len(framed) > self.batch_bytes:
                break
            count += 1
            size += len(framed)
        batch = b"".join([previous, *queue[:count]])
        self._advance(sequences[:count])
        self.events_sent += count
        del queue[:count]
        del sequences[:count]
        self._bytes -= size
        return batch

    def _advance(self, sent: list[int]) -> None:
        if sent[-1]:  # the usual case: the batch ends with a sequenced event
            self._sent = sent[-1]
            return
        for sequence in reversed(sent):
            if sequence:
                self._sent = sequence
                return


class _Session:
    """One session's subscribers in this process, and the writers waiting to be woken together."""

    __slots__ = ("hub", "members", "_waking", "_flush")

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.members: set[Subscriber] = set()
        self._waking: list[asyncio.Future] = []
        self._flush: asyncio.TimerHandle | None = None

    def coalescing(self) -> bool:
        hub = self.hub
        return hub.write_delay > 0 and len(self.members) >= hub.write_delay_min_subscribers

    def wake_later(self, waiter: asyncio.Future) -> None:
        """Wake this idle writer at the session's next flush, at most `write_delay` from now."""
        self._waking.append(waiter)
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(self.hub.write_delay, self._wake_all)

    def _wake_all(self) -> None:
        self._flush = None
        waking, self._waking = self._waking, []
        for waiter in waking:
            if not waiter.done():
                waiter.set_result(None)


class Hub:
    """Delivers each event to this process's subscribers of its session.

    Writes, not events, are what a session of a thousand costs (a stream write
    is ~30 µs of the event loop, whatever it carries). With `write_delay` > 0,
    in sessions of at least `write_delay_min_subscribers`, a writer that was
    idle waits for the session's next flush (at most `write_delay` after the
    first event) instead of writing that event at once, so the events of a
    burst share one write per subscriber. A writer that is still busy writes
    what gathered meanwhile as soon as its write completes, as always.
    """

    def __init__(self, *, write_delay: float = 0.0, write_delay_min_subscribers: int = 1) -> None:
        self._sessions: dict[str, _Session] = {}
        self.write_delay = write_delay  # seconds; 0 = write at once
        self.write_delay_min_subscribers = write_delay_min_subscribers

    def add(self, subscriber: Subscriber) -> None:
        group = self._sessions.get(subscriber.session_id)
        if group is None:
            group = self._sessions[subscriber.session_id] = _Session(self)
            LIVE_SESSIONS.inc()
        if subscriber not in group.members:
            group.members.add(subscriber)
            LIVE_STREAMS.inc()
        subscriber._group = group

    def remove(self, subscriber: Subscriber) -> None:
        group = self._sessions.get(subscriber.session_id)
        if group is not None:
            if subscriber in group.members:
                group.members.discard(subscriber)
                LIVE_STREAMS.dec()
            if subscriber._group is group:
                subscriber._group = None
            if not group.members:
                del self._sessions[subscriber.session_id]
                LIVE_SESSIONS.dec()

    def deliver(self, event: StoredEvent) -> None:
        group = self._sessions.get(event.session_id)
        if group is None:
            return
        audience, framed, sequence = event.audience, event.framed, event.sequence
        if audience.everyone:
            for subscriber in group.members:
                subscriber.deliver(sequence, framed)
            EVENTS_DELIVERED.inc(len(group.members))  # once per event, not per subscriber
            return
        admitted = 0
        for subscriber in group.members:
            if audience.admits(subscriber.user_id, subscriber.is_instructor):
                subscriber.deliver(sequence, framed)
                admitted += 1
        EVENTS_DELIVERED.inc(admitted)

    def subscribers(self, session_id: str) -> frozenset[Subscriber]:
        group = self._sessions.get(session_id)
        return frozenset(group.members) if group is not None else frozenset()

    def end_all(self, code: ErrorCode, message: str) -> None:
        """End every stream once its pending events are written (server shutdown)."""
        for group in self._sessions.values():
            for subscriber in group.members:
                subscriber.end(code, message, reason="shutdown")
