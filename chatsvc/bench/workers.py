"""Subscriber worker processes: cheap subscribers or ChatClient probes, driven through a pipe.

A worker starts, says it is ready, and on `go` joins its share of subscribers all at
once (a join storm: every connection opened together, each timed from `go` to its
`stream_started`); it tells the parent how many joined and how long each took, then
answers `status`, `report` and `stop`.
"""

from __future__ import annotations

import asyncio
import functools
import random
import threading
import time
import zlib
from array import array
from collections import Counter
from collections.abc import Callable

from chatsvc.bench.publishers import SEPARATE_CONNECTION
from chatsvc.bench.subscribers import GrpcConnection, GrpcStream, Tally, WebSocketSubscriber
from chatsvc.bench.wire import MARKER, grpc_request_bytes, grpc_stream_bytes, h2_preface, subscribe_request

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
    conn.send("ready")
    while await commands.get() != "go":
        pass
    started = time.perf_counter()
    tallies, sessions, errors, closer, extra = await subscribers.__anext__()
    join_ms = array("i", (int((t.joined_at - started) * 1000) for t in tallies if t.joined_at))
    conn.send({"joined": sum(t.joined for t in tallies), "errors": errors[:5], "join_ms": join_ms.tobytes()})
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
                    "bench": [(session, t.bench) for session, t in zip(sessions, tallies, strict=True)],
                    "duplicates": sum(t.duplicates for t in tallies),
                    "gaps": sum(t.gaps for t in tallies),
                    "ended": sum(t.ended for t in tallies),
                    "end_reasons": Counter(t.end_reason for t in tallies if t.ended),
                    "latencies": latencies.tobytes(),
                    "digests": Counter((session, t.digest) for session, t in zip(sessions, tallies, strict=True)),
                    "last_sequences": Counter((session, t.last_sequence) for session, t in zip(sessions, tallies, strict=True)),
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
    tallies: list[Tally] = []
    sessions: list[str] = []  # each tally's session
    protocols: list = []
    errors: list[str] = []
    # Connections opening at once (the rest wait for a free slot): more than the server's accept
    # backlog would only make the kernel drop and retry SYNs. Joining is not limited: every
    # opened connection asks to join at once and waits for its stream_started.
    gate = asyncio.Semaphore(128)

    reconnecting: set[asyncio.Task] = set()

    def reconnect(target: str, token: str, session: str, tally: Tally) -> None:
        task = loop.create_task(resume(target, token, session, tally))
        reconnecting.add(task)
        task.add_done_callback(reconnecting.discard)

    async def resume(target: str, token: str, session: str, tally: Tally) -> None:
        """Reconnect from the last sequence received, as ChatClient does, until the server answers."""
        host, port_text = target.rsplit(":", 1)
        port = int(port_text)
        delay = 0.05
        while True:
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            request = grpc_request_bytes(target, SUBSCRIBE_PATH, token, subscribe_request(session, tally.last_sequence))
            stream = GrpcStream(tally, loop.create_future(), on_end=lambda: reconnect(target, token, session, tally))
            try:
                _, protocol = await loop.create_connection(lambda: GrpcConnection([stream], request), host, port)  # noqa: B023 (used at once)
                protocols.append(protocol)
                return
            except OSError:
                delay = min(delay * 2, 0.5)

    async def join(target: str, members: list[tuple[str, str]]) -> None:
        """Open one connection to `target` for `members` (token, session): one stream each."""
        host, port_text = target.rsplit(":", 1)
        port = int(port_text)
        tallies_here = [Tally() for _ in members]
        joins = [loop.create_future() for _ in members]
        for tally, joined in zip(tallies_here, joins, strict=True):
            joined.add_done_callback(functools.partial(_mark_joined, tally))
        factory: Callable[[], asyncio.Protocol]
        if spec["kind"] == "grpc":
            streams = []
            for (token, session), tally, joined in zip(members, tallies_here, joins, strict=True):
                on_end = functools.partial(reconnect, target, token, session, tally) if spec.get("reconnect") else None
                streams.append(GrpcStream(tally, joined, on_end=on_end))
            request = h2_preface() + b"".join(
                grpc_stream_bytes(2 * k + 1, target, SUBSCRIBE_PATH, token, subscribe_request(session)) for k, (token, session) in enumerate(members)
            )
            factory = lambda: GrpcConnection(streams, request)  # noqa: E731
        else:
            ((_, session),) = members
            factory = lambda: WebSocketSubscriber(tallies_here[0], host, port, "/subscribe", joins[0])  # noqa: E731
        try:
            async with gate:
                _, protocol = await loop.create_connection(factory, host, port)
            protocols.append(protocol)
            tallies.extend(tallies_here)
            sessions.extend(session for _, session in members)
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}")
            return
        for joined in joins:
            try:
                await asyncio.wait_for(joined, spec["timeout"])
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}")

    # Subscribers of the same process share connections, --streams-per-connection of them each.
    per_connection = spec.get("streams_per_connection", 1)
    by_target: dict[str, list[tuple[str, str]]] = {}
    for target, token, session in spec["subscribers"]:
        by_target.setdefault(target, []).append((token, session))
    groups = [(target, members[k : k + per_connection]) for target, members in by_target.items() for k in range(0, len(members), per_connection)]
    await asyncio.gather(*(join(target, members) for target, members in groups))

    async def close() -> None:
        for task in list(reconnecting):
            task.cancel()
        for protocol in protocols:
            if isinstance(protocol, GrpcConnection):
                protocol.stop_reconnecting()
            protocol.close()
        await asyncio.sleep(0.1)

    def extra() -> dict:
        return {
            "resumed": sum(t.resumed for t in tallies),
            "recovered": sum(t.recovered for t in tallies),
            "resumed_at": max((t.resumed_at for t in tallies), default=0.0),
            "resumed_times": array("d", (t.resumed_at for t in tallies if t.resumed_at)).tobytes(),
            "connections_opened": len(protocols),
        }

    yield tallies, sessions, errors, close, extra


def _mark_joined(tally: Tally, _joined: asyncio.Future) -> None:
    tally.joined_at = time.perf_counter()


async def _probe_subscribers(spec: dict):
    """Real clients: ChatClient.events() decodes every event and would reconnect and resume."""
    from chatsvc.client import ChatClient

    clients = [ChatClient(target, token, channel_options=SEPARATE_CONNECTION) for target, token, _ in spec["subscribers"]]
    sessions = [session for _, _, session in spec["subscribers"]]
    tallies = [Tally() for _ in clients]
    errors: list[str] = []
    event_bytes: list[int] = []
    loop = asyncio.get_running_loop()
    joined = [loop.create_future() for _ in clients]

    online: list[set[str]] = [set() for _ in clients]  # who each probe believes is online

    async def follow(client, session: str, tally: Tally, joined_future, present: set[str]) -> None:
        try:
            async for event in client.events(session):
                now = time.time_ns()
                if not joined_future.done():
                    tally.joined = True
                    tally.joined_at = time.perf_counter()
                    joined_future.set_result(None)
                _track_online(event, present)
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

    tasks = [asyncio.create_task(follow(*item)) for item in zip(clients, sessions, tallies, joined, online, strict=True)]
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
        return {
            "reconnects": sum(client.reconnects for client in clients),
            "event_bytes": event_bytes[0] if event_bytes else None,
            "online_seen": [len(present) for present in online],
        }

    yield tallies, sessions, errors, close, extra


def _track_online(event, present: set[str]) -> None:
    kind = event.WhichOneof("kind")
    if kind == "stream_started" and not event.stream_started.recovered:
        present.clear()
        present.update(person.user_id for person in event.stream_started.snapshot.online)
    elif kind == "user_joined":
        present.add(event.user_joined.participant.user_id)
    elif kind == "user_left":
        present.discard(event.user_left.participant.user_id)
