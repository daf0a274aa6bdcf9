"""In-process fan-out: the live subscribers of each session on this server."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from chatsvc.domain.errors import ErrorCode
from chatsvc.fanout.codec import frame


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
    """The server ends this subscriber's stream with a status."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Subscriber:
    """One live stream: a bounded queue of framed events and one writer.

    The hub never waits for a subscriber. A subscriber that falls more than
    `max_pending` events behind is dropped (its stream ends, telling it where to
    resume) so that it cannot grow memory or delay anyone.

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
        "_bytes",
        "_waiter",
        "_skip_through",
        "_ended",
    )

    def __init__(self, session_id: str, user_id: str, is_instructor: bool, *, max_pending: int, batch_bytes: int) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.is_instructor = is_instructor
        self.max_pending = max_pending
        self.batch_bytes = batch_bytes
        self._queue: list[tuple[int, bytes]] = []
        self._bytes = 0  # framed bytes in the queue
        self._waiter: asyncio.Future | None = None  # the writer, while it waits for events
        self._skip_through: int | None = None
        self._ended: StreamEnded | None = None

    def deliver(self, sequence: int, framed: bytes) -> None:
        if self._ended is not None:
            return
        if sequence and self._skip_through is not None and sequence <= self._skip_through:
            return  # already part of what the stream started with
        queue = self._queue
        if len(queue) >= self.max_pending:
            queue.clear()
            self._bytes = 0
            # Only the client knows what it really received (a finished write
            # may still sit in buffers), so the status names no number.
            self._end(
                ErrorCode.RESOURCE_EXHAUSTED,
                f"this stream fell more than {self.max_pending} events behind and was ended; "
                "reconnect with last_sequence set to the last event you received to resume without loss",
            )
            return
        queue.append((sequence, framed))
        self._bytes += len(framed)
        if self._waiter is not None:
            self._wake()

    def start_after(self, sequence: int) -> None:
        """Everything up to `sequence` was sent already: drop it from the queue."""
        self._skip_through = sequence
        self._queue = [item for item in self._queue if item[0] == 0 or item[0] > sequence]
        self._bytes = sum(len(framed) for _, framed in self._queue)

    def end(self, code: ErrorCode, message: str) -> None:
        """End the stream once what is queued has been written."""
        self._end(code, message)

    def _end(self, code: ErrorCode, message: str) -> None:
        if self._ended is None:
            self._ended = StreamEnded(code, message)
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
        queue = self._queue
        if self._bytes <= self.batch_bytes:  # the usual case: everything pending fits
            self._queue = []
            self._bytes = 0
            if len(queue) == 1:
                return queue[0][1]
            return b"".join([framed for _, framed in queue])
        parts: list[bytes] = []
        size = 0
        for _, framed in queue:
            if parts and size + len(framed) > self.batch_bytes:
                break
            parts.append(framed)
            size += len(framed)
        del queue[: len(parts)]
        self._bytes -= size
        return b"".join(parts)


class Hub:
    """Delivers each event to this process's subscribers of its session."""

    def __init__(self) -> None:
        self._sessions: dict[str, set[Subscriber]] = {}

    def add(self, subscriber: Subscriber) -> None:
        self._sessions.setdefault(subscriber.session_id, set()).add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        subscribers = self._sessions.get(subscriber.session_id)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._sessions[subscriber.session_id]

    def deliver(self, event: StoredEvent) -> None:
        subscribers = self._sessions.get(event.session_id)
        if not subscribers:
            return
        audience, framed, sequence = event.audience, event.framed, event.sequence
        if audience.everyone:
            for subscriber in subscribers:
                subscriber.deliver(sequence, framed)
            return
        for subscriber in subscribers:
            if audience.admits(subscriber.user_id, subscriber.is_instructor):
                subscriber.deliver(sequence, framed)

    def subscribers(self, session_id: str) -> frozenset[Subscriber]:
        return frozenset(self._sessions.get(session_id, ()))

    def end_all(self, code: ErrorCode, message: str) -> None:
        """End every stream once its pending events are written (server shutdown)."""
        for subscribers in self._sessions.values():
            for subscriber in subscribers:
                subscriber.end(code, message)
