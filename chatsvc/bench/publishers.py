"""Publishing users: unary SendMessage calls, StreamEvents senders, or the baseline's WebSocket.

Each publisher offers the same three steps to a workload: `warm_up`, then
`at_rate(rate, duration)` (open loop) or `saturate(duration)`, each returning
what was `Published`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chatsvc.bench.wire import bench_text

FILLER = "question about the lecture: could you go over the last slide once more, please?"
# grpc clients with the same target and options share one TCP connection unless told not to.
SEPARATE_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


@dataclass
class Published:
    count: int = 0
    errors: Counter = field(default_factory=Counter)
    ack_latencies_us: list[int] = field(default_factory=list)
    by_session: Counter = field(default_factory=Counter)


def publishing_pairs(publishers: int, sessions: int) -> list[tuple[int, int]]:
    """(publisher, session) pairs that publish: every publisher in a single session; with many
    sessions, each session gets one publisher (round robin) and each publisher at least one session."""
    return [(c, k) for c in range(publishers) for k in range(sessions) if c % sessions == k or k % publishers == c]


class GrpcPublisher:
    """Publishing users on their own connections, through ChatClient.send_message."""

    def __init__(self, targets: list[str], sessions: list[str], token: Callable[..., str], args: argparse.Namespace) -> None:
        self.targets = targets
        self.sessions = sessions
        self.token = token  # (user_id, name, role, sessions) -> a token for this run's server
        self.args = args
        self.clients: dict[tuple[int, str], Any] = {}  # (client index, target) -> its ChatClient there
        # (client index, session): who publishes where.
        self.pairs = [(c, sessions[k]) for c, k in publishing_pairs(args.publishers, len(sessions))]

    def target(self, pair: tuple[int, str]) -> str:
        """Publisher i's process (i % P), or with --placement session its session's (session j on j % P)."""
        index = self.sessions.index(pair[1]) if self.args.placement == "session" else pair[0]
        return self.targets[index % len(self.targets)]

    def client(self, pair: tuple[int, str]):
        return self.clients[(pair[0], self.target(pair))]

    async def open(self) -> None:
        from chatsvc.client import ChatClient

        role = self.args.publisher_role
        for pair in self.pairs:
            i = pair[0]
            if (i, self.target(pair)) not in self.clients:
                token = self.token(f"pub-{i:03d}", f"Publisher {i}", role, [session for c, session in self.pairs if c == i])
                self.clients[(i, self.target(pair))] = ChatClient(self.target(pair), token, channel_options=SEPARATE_CONNECTION)

    async def warm_up(self) -> None:
        for pair in self.pairs:
            await self.client(pair).send_message(pair[1], "warming up")

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()

    async def _send(self, pair: tuple[int, str], published: Published) -> None:
        started = time.perf_counter_ns()
        try:
            await self._deliver(pair, bench_text(FILLER))
        except Exception as error:  # counted and reported; the run goes on
            code = getattr(error, "code", None)
            published.errors[str(code() if callable(code) else type(error).__name__)] += 1
            return
        published.count += 1
        published.by_session[pair[1]] += 1
        published.ack_latencies_us.append((time.perf_counter_ns() - started) // 1000)

    async def _deliver(self, pair: tuple[int, str], text: str) -> None:
        await self.client(pair).send_message(pair[1], text, attempts=1)

    async def at_rate(self, rate: float, duration: float) -> Published:
        published = Published()
        loop = asyncio.get_running_loop()
        start = loop.time()
        total = int(rate * duration)
        tasks = []
        for i in range(total):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._send(self.pairs[i % len(self.pairs)], published)))
        await asyncio.gather(*tasks)
        return published

    async def saturate(self, duration: float) -> Published:
        published = Published()
        deadline = time.perf_counter() + duration

        async def keep_sending(pair) -> None:
            while time.perf_counter() < deadline:
                await self._send(pair, published)

        await asyncio.gather(*(keep_sending(pair) for pair in self.pairs for _ in range(self.args.concurrency)))
        return published


class StreamPublisher(GrpcPublisher):
    """Publishing users who send on their StreamEvents streams, as live chat clients do
    (through ChatClient's sender; each stream also receives every event, read and dropped)."""

    async def open(self) -> None:
        await super().open()
        self.senders = {pair: self.client(pair).sender(pair[1]) for pair in self.pairs}
        for sender in self.senders.values():
            await sender.__aenter__()

    async def warm_up(self) -> None:
        for sender in self.senders.values():
            await sender.send("warming up")

    async def close(self) -> None:
        for sender in self.senders.values():
            await sender.close()
        await super().close()

    async def _deliver(self, pair: tuple[int, str], text: str) -> None:
        await self.senders[pair].send(text)


class WebSocketPublisher:
    """One connection to the baseline's /publish; the server acks each message after broadcasting it."""

    def __init__(self, targets: list[str], sessions: list[str], token: Callable[..., str], args: argparse.Namespace) -> None:
        self.targets = targets
        self.session = sessions[0]
        self.token = token  # (user_id, name, role) -> a token for this run's server
        self.args = args
        self.sent_at: dict[int, int] = {}

    async def open(self) -> None:
        import websockets

        target = self.targets[0]
        self.connection = await websockets.connect(f"ws://{target}/publish", compression=None, ping_interval=None)
        self.acks: asyncio.Queue = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for _ in self.connection:
            self.acks.put_nowait(time.perf_counter_ns())

    async def close(self) -> None:
        self.reader.cancel()
        await self.connection.close()

    async def warm_up(self) -> None:
        await self.connection.send("warming up")
        await self.acks.get()

    async def _collect(self, published: Published, sent: asyncio.Queue[int], expected: int) -> None:
        while published.count < expected:
            acked = await self.acks.get()
            published.count += 1
            published.by_session[self.session] += 1
            published.ack_latencies_us.append((acked - await sent.get()) // 1000)

    async def at_rate(self, rate: float, duration: float) -> Published:
        published = Published()
        sent: asyncio.Queue[int] = asyncio.Queue()  # send times, perf_counter_ns
        total = int(rate * duration)
        collector = asyncio.create_task(self._collect(published, sent, total))
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(total):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            sent.put_nowait(time.perf_counter_ns())
            await self.connection.send(bench_text(FILLER))
        await asyncio.wait_for(collector, 60)
        return published

    async def saturate(self, duration: float) -> Published:
        """As many messages in flight as the gRPC publishers keep (publishers x concurrency)."""
        published = Published()
        sent: asyncio.Queue[int] = asyncio.Queue()  # send times, perf_counter_ns
        window = asyncio.Semaphore(self.args.publishers * self.args.concurrency)
        deadline = time.perf_counter() + duration
        count = 0

        async def collect() -> None:
            while True:
                acked = await self.acks.get()
                published.count += 1
                published.by_session[self.session] += 1
                published.ack_latencies_us.append((acked - await sent.get()) // 1000)
                window.release()

        collector = asyncio.create_task(collect())
        while time.perf_counter() < deadline:
            await window.acquire()
            sent.put_nowait(time.perf_counter_ns())
            await self.connection.send(bench_text(FILLER))
            count += 1
        while published.count < count:
            await asyncio.sleep(0.01)
        collector.cancel()
        return published
