"""Subscriber worker processes: cheap subscribers or ChatClient probes, driven through a pipe.

A worker joins its share of subscribers, tells the parent how many joined,
then answers `status`, `report` and `stop`.
"""

from __future__ import annotations

import asyncio
import threading
import time
import zlib
from array import array
from collections import Counter
from collections.abc import Callable

from chatsvc.bench.publishers import SEPARATE_CONNECTION
from chatsvc.bench.subscribers import GrpcSubscriber, Tally, WebSocketSubscriber
from chatsvc.bench.wire import MARKER, grpc_request_bytes, subscribe_request

SUBSCRIBE_PATH = "/sessionchat.v1.SessionChat/Subscribe"


def install_uvloop() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass


class WorkerHandle:
    """A subscriber process and the pipe that drives it."""

    def __init__(self, process, conn, probe: bool) -> None:
        self.process = process
        self.conn = conn
        self.probe = probe

    @classmethod
    def start(cls, context, target, spec: dict, probe: bool = False) -> WorkerHandle:
        ours, theirs = context.Pipe()
        process = context.Process(target=target, args=(theirs, spec), daemon=True)
        process.start()
        theirs.close()
        return cls(process, ours, probe)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def receive(self):
        return await asyncio.to_thread(self.conn.recv)

    async def call(self, command: str):
        self.conn.send(command)
        return await self.receive()

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.call("stop"), 10)
        except Exception:
            pass
        await asyncio.to_thread(self.process.join, 10)
        if self.process.is_alive():
            self.process.kill()


def subscriber_worker(conn, spec: dict) -> None:
    install_uvloop()
    asyncio.run(_serve_commands(conn, _cheap_subscribers(spec)))


def probe_worker(conn, spec: dict) -> None:
    install_uvloop()
    asyncio.run(_serve_commands(conn, _probe_subscribers(spec)))


async def _serve_commands(conn, subscribers) -> None:
    """Join, tell the parent, then answer status/report/stop until stopped."""
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue = asyncio.Queue()

    def read_commands() -> None:  # a blocking reader: the pipe must stay in blocking mode for large replies
        while True:
            try:
                command = conn.recv()
            except (EOFError, OSError):
                command = "stop"
            loop.call_soon_threadsafe(commands.put_nowait, command)
            if command == "stop":
                return

    threading.Thread(target=read_commands, daemon=True).start()
    tallies, errors, closer, extra = await subscribers.__anext__()
    conn.send({"joined": sum(t.joined for t in tallies), "errors": errors[:5]})
    while True:
        command = await commands.get()
        if command == "status":
            conn.send(
                {
                    "bench": sum(t.bench for t in tallies),
                    "events": sum(t.events for t in tallies),
                    "ended": sum(t.ended for t in tallies),
                    "min_bench": min((t.bench for t in tallies), default=0),
                }
            )
        elif command == "report":
            latencies = array("i")
            for tally in tallies:
                latencies.extend(tally.latencies_us)
            conn.send(
                {
                    "bench": [t.bench for t in tallies],
                    "duplicates": sum(t.duplicates for t in tallies),
                    "gaps": sum(t.gaps for t in tallies),
                    "ended": sum(t.ended for t in tallies),
                    "end_reasons": Counter(t.end_reason for t in tallies if t.ended),
                    "latencies": latencies.tobytes(),
                    "digests": Counter(t.digest for t in tallies),
                    "last_sequences": Counter(t.last_sequence for t in tallies),
                    **extra(),
                }
            )
        elif command == "stop":
            await closer()
            try:
                conn.send("stopped")
            except OSError:
                pass
            return


async def _cheap_subscribers(spec: dict):
    loop = asyncio.get_running_loop()
    session = spec["session"]
    tallies: list[Tally] = []
    protocols: list = []
    errors: list[str] = []
    gate = asyncio.Semaphore(32)

    async def join(target: str, token: str) -> None:
        host, port_text = target.rsplit(":", 1)
        port = int(port_text)
        tally = Tally()
        joined = loop.create_future()
        factory: Callable[[], asyncio.Protocol]
        if spec["kind"] == "grpc":
            request = grpc_request_bytes(target, SUBSCRIBE_PATH, token, subscribe_request(session))
            factory = lambda: GrpcSubscriber(tally, request, joined)  # noqa: E731
        else:
            factory = lambda: WebSocketSubscriber(tally, host, port, "/subscribe", joined)  # noqa: E731
        async with gate:
            try:
                _, protocol = await loop.create_connection(factory, host, port)
                protocols.append(protocol)
                tallies.append(tally)
                await asyncio.wait_for(joined, spec["timeout"])
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}")

    await asyncio.gather(*(join(target, token) for target, token in spec["subscribers"]))

    async def close() -> None:
        for protocol in protocols:
            protocol.close()
        await asyncio.sleep(0.1)

    yield tallies, errors, close, dict


async def _probe_subscribers(spec: dict):
    """Real clients: ChatClient.events() decodes every event and would reconnect and resume."""
    from chatsvc.client import ChatClient

    session = spec["session"]
    clients = [ChatClient(target, token, channel_options=SEPARATE_CONNECTION) for target, token in spec["subscribers"]]
    tallies = [Tally() for _ in clients]
    errors: list[str] = []
    event_bytes: list[int] = []
    loop = asyncio.get_running_loop()
    joined = [loop.create_future() for _ in clients]

    async def follow(client, tally: Tally, joined_future) -> None:
        try:
            async for event in client.events(session):
                now = time.time_ns()
                if not joined_future.done():
                    tally.joined = True
                    joined_future.set_result(None)
                text = event.message_posted.text.encode() if event.WhichOneof("kind") == "message_posted" else b""
                marker_at = text.find(MARKER) if text else -1
                if tally.observe(event.sequence, marker_at, text, now):
                    serialized = event.SerializeToString()
                    tally.digest = zlib.crc32(serialized, tally.digest)
                    if not event_bytes:
                        event_bytes.append(len(serialized))
        except Exception as error:
            tally.finish(f"{type(error).__name__}: {error}")
            if not joined_future.done():
                joined_future.set_exception(error)

    tasks = [asyncio.create_task(follow(*item)) for item in zip(clients, tallies, joined, strict=False)]
    for future in joined:
        try:
            await asyncio.wait_for(asyncio.shield(future), spec["timeout"])
        except Exception as error:
            errors.append(f"probe: {type(error).__name__}: {error}")

    async def close() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.close()

    def extra() -> dict:
        return {"reconnects": sum(client.reconnects for client in clients), "event_bytes": event_bytes[0] if event_bytes else None}

    yield tallies, errors, close, extra
