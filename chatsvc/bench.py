"""`chatsvc bench`: N subscribers in one session, publishing at a rate, measured end to end.

Phases of one run:

1. Start `chatsvc serve` on a free port (SQLite in a temporary directory, auth,
   rate limits and the profanity filter on), or target a running server.
2. Publishers (ChatClient, each on its own connection) send one warm-up
   message; the server's RSS is read from /proc.
3. Subscribers join one session: `--workers` processes each hold their share
   on their own TCP connections with cheap HTTP/2 clients (below),
   plus `--probes` real ChatClient streams in one more process. Once the join
   storm has settled the server's RSS is read again: the difference divided
   by N is the memory per idle subscriber.
4. Publish for `--duration` seconds at `--rate` messages/s in total (open
   loop: message i is due at i/rate whatever happened to the others), or as
   fast as the server takes them (`--rate 0`/`--saturate`: each publisher keeps
   `--concurrency` sends in flight). Each text carries its send time.
5. Wait until every subscriber has every message (or `--drain-timeout`), then
   collect: deliveries/s, latency from send to receipt at the subscriber, and
   per subscriber its duplicates and missing messages.

`--baseline` repeats the same workload against chatsvc.bench_baseline (a
minimal websockets broadcast server) and prints the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
import zlib
from array import array
from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from chatsvc.fanout.codec import read_varint, varint

FILLER = "question about the lecture: could you go over the last slide once more, please?"
SUBSCRIBE_PATH = "/sessionchat.v1.SessionChat/Subscribe"
SEPARATE_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subscribers", "-n", type=int, default=1000, help="subscribers in the session, probes included (default 1000)")
    parser.add_argument("--rate", type=float, default=100.0, help="messages/s published in total; 0 = saturate (default 100)")
    parser.add_argument("--saturate", action="store_true", help="publish as fast as the server accepts (same as --rate 0)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of publishing (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="subscriber processes (default 2)")
    parser.add_argument("--probes", type=int, default=4, help="real ChatClient subscribers measuring latency too (default 4)")
    parser.add_argument("--publishers", type=int, default=16, help="publishing users, each on its own connection (default 16)")
    parser.add_argument("--concurrency", type=int, default=8, help="sends in flight per publisher when saturating (default 8)")
    parser.add_argument(
        "--publish-on",
        choices=("stream", "unary"),
        default="stream",
        help="publishers send as live clients do, as actions on their StreamEvents stream (default), "
        "or with unary SendMessage calls (ChatClient.send_message)",
    )
    parser.add_argument(
        "--publisher-role",
        choices=["participant", "instructor"],
        help="participants (rate limits run, raised) on a started server; instructors (exempt) on --target",
    )
    parser.add_argument("--target", help="host:port of a running server (comma-separated for several processes) instead of starting one")
    parser.add_argument("--secret", help="the target's CHATSVC_JWT_SECRET (required with --target)")
    parser.add_argument("--server-pid", type=int, action="append", help="the target's process id, to read its memory and CPU (repeatable)")
    parser.add_argument("--processes", type=int, default=1, help="server processes to start, sharing the database and --redis-url (default 1)")
    parser.add_argument("--redis-url", help="Redis for the started servers' fan-out (required with --processes 2+)")
    parser.add_argument("--database-url", help="database of the started servers (default: SQLite in a temporary directory)")
    parser.add_argument("--session", help="session id (default: a fresh one per run)")
    parser.add_argument("--baseline", action="store_true", help="also run the workload against a minimal websockets broadcast server")
    parser.add_argument("--drain-timeout", type=float, default=20.0, help="seconds to wait for deliveries after publishing (default 20)")
    parser.add_argument("--connect-timeout", type=float, default=60.0, help="seconds for all subscribers to join (default 60)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--keep", action="store_true", help="keep the started server's directory (database and log)")


def run_cli(args: argparse.Namespace) -> int:
    if args.saturate:
        args.rate = 0.0
    if args.target and not args.secret:
        print("chatsvc bench: --target needs --secret (the server's CHATSVC_JWT_SECRET)", file=sys.stderr)
        return 2
    if args.processes > 1 and not args.redis_url and not args.target:
        print("chatsvc bench: --processes 2+ needs --redis-url (the processes share events through Redis)", file=sys.stderr)
        return 2
    if args.subscribers < 1 or args.workers < 1 or args.publishers < 1 or args.probes < 0:
        print("chatsvc bench: --subscribers, --workers and --publishers must be positive", file=sys.stderr)
        return 2
    args.probes = min(args.probes, args.subscribers)
    if not args.publisher_role:
        args.publisher_role = "instructor" if args.target else "participant"
    _install_uvloop()
    global _progress_enabled
    _progress_enabled = not args.quiet
    results = asyncio.run(run_bench(args))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(format_table(results))
    return 0 if results["ok"] else 1


def _install_uvloop() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass


# ---------------------------------------------------------------- cheap subscribers
#
# A grpc.aio client spends 36-50 µs of CPU per received message, so 1,000 of
# them on the server's machine saturate long before the server does. These
# clients speak just enough HTTP/2 (or WebSocket) to hold one stream per TCP
# connection, answer pings and flow control, and find in each event its
# sequence number and the send time the publisher put in its text, without
# decoding protobuf: about a microsecond per event. Nothing here imports grpc.

MARKER = b"BENCHT"  # the publisher's text starts with MARKER + 19 digits of time.time_ns()
MARKER_DIGITS = 19


def bench_text(filler: str) -> str:
    return f"{MARKER.decode()}{time.time_ns():0{MARKER_DIGITS}d} {filler}"


class Tally:
    """What one subscriber received: sequence checks and latencies of bench messages."""

    __slots__ = ("last_sequence", "events", "bench", "duplicates", "gaps", "latencies_us", "digest", "joined", "ended", "end_reason")

    def __init__(self) -> None:
        self.last_sequence = 0
        self.events = 0  # events with a sequence, duplicates excluded
        self.bench = 0  # bench messages, duplicates excluded
        self.duplicates = 0
        self.gaps = 0  # sequences skipped between two received ones
        self.latencies_us = array("i")
        self.digest = 0  # CRC-32 of the bench messages' serialized events, in order: equal for everyone
        self.joined = False
        self.ended = False
        self.end_reason = ""

    def event(self, buf, start: int, end: int, now_ns: int) -> None:
        """One serialized `Event` in buf[start:end] (fields 1 session_id, 2 sequence first)."""
        pos = start
        if pos < end and buf[pos] == 0x0A:  # session_id
            length = buf[pos + 1]
            pos += 2
            if length & 0x80:  # two-byte length (ids of 128+ characters)
                length = (length & 0x7F) | (buf[pos] << 7)
                pos += 1
            pos += length
        sequence = 0
        if pos < end and buf[pos] == 0x10:  # sequence (varint)
            sequence, pos = read_varint(buf, pos + 1)
        if self.observe(sequence, buf.find(MARKER, pos, end), buf, now_ns):
            self.digest = zlib.crc32(buf[start:end], self.digest)

    def observe(self, sequence: int, marker_at: int, buf, now_ns: int) -> bool:
        """Count an event; True when it is a bench message seen for the first time."""
        if sequence:
            last = self.last_sequence
            if sequence <= last:
                self.duplicates += 1
                return False
            if last and sequence != last + 1:
                self.gaps += sequence - last - 1
            self.last_sequence = sequence
            self.events += 1
        if marker_at < 0:
            return False
        sent = int(buf[marker_at + 6 : marker_at + 6 + MARKER_DIGITS])
        self.bench += 1
        self.latencies_us.append((now_ns - sent) // 1000)
        return True

    def finish(self, reason: str) -> None:
        if not self.ended:
            self.ended = True
            self.end_reason = reason


# ---------------------------------------------------------------- HTTP/2 + gRPC

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
STREAM_WINDOW = 1 << 20  # what the server may send before we acknowledge it
WINDOW_REFILL = 256 * 1024


def h2_frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream_id.to_bytes(4, "big") + payload


def hpack_int(value: int, prefix_bits: int, flags: int = 0) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((flags | value,))
    out = bytearray((flags | limit,))
    value -= limit
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(name: bytes, value: bytes) -> bytes:
    """'Literal header field without indexing, new name', no Huffman coding."""
    return b"\x00" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


def grpc_request_bytes(authority: str, path: str, token: str, message: bytes) -> bytes:
    """Everything a client sends to open one unary-request server stream on stream 1."""
    headers = b"".join(
        hpack_literal(name, value)
        for name, value in (
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", path.encode()),
            (b":authority", authority.encode()),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"user-agent", b"chatsvc-bench"),
        )
    )
    settings = (2).to_bytes(2, "big") + (0).to_bytes(4, "big") + (4).to_bytes(2, "big") + STREAM_WINDOW.to_bytes(4, "big")
    body = b"\x00" + len(message).to_bytes(4, "big") + message
    return (
        H2_PREFACE
        + h2_frame(SETTINGS, 0, 0, settings)
        + h2_frame(WINDOW_UPDATE, 0, 0, (STREAM_WINDOW - 65535).to_bytes(4, "big"))
        + h2_frame(HEADERS, END_HEADERS, 1, headers)
        + h2_frame(DATA, END_STREAM, 1, body)
    )


def subscribe_request(session_id: str, last_sequence: int = 0) -> bytes:
    """A serialized SubscribeRequest {session_id = 1; last_sequence = 2}."""
    sid = session_id.encode()
    out = b"\x0a" + varint(len(sid)) + sid
    if last_sequence:
        out += b"\x10" + varint(last_sequence)
    return out


class _Subscriber(asyncio.Protocol):
    """A subscriber connection that sends its request on connect and reports how it ended."""

    def __init__(self, tally: Tally, request: bytes, joined: asyncio.Future) -> None:
        self.tally = tally
        self.request = request
        self.joined = joined
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        self.tally.finish(f"connection lost: {exc}" if exc else "connection closed")
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(self.tally.end_reason))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class GrpcSubscriber(_Subscriber):
    """One `Subscribe` stream on its own connection; responses are batches of framed events."""

    def __init__(self, tally: Tally, request: bytes, joined: asyncio.Future) -> None:
        super().__init__(tally, request, joined)
        self.message = bytearray()  # gRPC message bytes not yet complete
        self.unacknowledged = 0

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos, size = 0, len(buf)
        while size - pos >= 9:
            length = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2]
            if size - pos - 9 < length:
                break
            kind, flags = buf[pos + 3], buf[pos + 4]
            start = pos + 9
            pos = start + length
            if kind == DATA:
                self._data(buf, start, pos, flags, length)
            elif kind == HEADERS or kind == CONTINUATION:
                if flags & END_STREAM:  # trailers: the server ended the stream
                    self._ended("the server ended the stream")
            elif kind == SETTINGS:
                if not flags & ACK:
                    self.transport.write(h2_frame(SETTINGS, ACK, 0))
            elif kind == PING:
                if not flags & ACK:
                    self.transport.write(h2_frame(PING, ACK, 0, bytes(buf[start:pos])))
            elif kind == RST_STREAM:
                self._ended(f"RST_STREAM {int.from_bytes(buf[start:pos], 'big')}")
            elif kind == GOAWAY:
                self._ended("GOAWAY")
        del buf[:pos]

    def _data(self, buf, start: int, end: int, flags: int, length: int) -> None:
        if flags & PADDED:
            end -= buf[start]
            start += 1
        message = self.message
        message += buf[start:end]
        now = time.time_ns()
        tally = self.tally
        pos, size = 0, len(message)
        while size - pos >= 5:
            body_length = int.from_bytes(message[pos + 1 : pos + 5], "big")
            if size - pos - 5 < body_length:
                break
            body = pos + 5
            pos = body + body_length
            # A response: `repeated Event events = 1`, each framed as 0x0a + varint length + Event,
            # and `previous_sequence = 2` (0x10 + varint), which the tally does not need.
            i = body
            while i < pos:
                if message[i] == 0x10:
                    _, i = read_varint(message, i + 1)
                    continue
                event_length, i = read_varint(message, i + 1)  # after the field tag
                tally.event(message, i, i + event_length, now)
                i += event_length
            if not self.joined.done():
                tally.joined = True
                self.joined.set_result(None)
        del message[:pos]
        if flags & END_STREAM:
            self._ended("the server ended the stream")
        self.unacknowledged += length
        if self.unacknowledged >= WINDOW_REFILL:
            increment = self.unacknowledged.to_bytes(4, "big")
            self.unacknowledged = 0
            self.transport.write(h2_frame(WINDOW_UPDATE, 0, 0, increment) + h2_frame(WINDOW_UPDATE, 0, 1, increment))

    def _ended(self, reason: str) -> None:
        self.tally.finish(reason)
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(f"stream refused: {reason}"))


# ---------------------------------------------------------------- WebSocket (baseline)


class WebSocketSubscriber(_Subscriber):
    """A WebSocket client with no extensions: binary messages are serialized Events."""

    def __init__(self, tally: Tally, host: str, port: int, path: str, joined: asyncio.Future) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        super().__init__(tally, request, joined)
        self.upgraded = False

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        if not self.upgraded:
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            if b" 101 " not in buf[: buf.find(b"\r\n")]:
                self.tally.finish(f"upgrade refused: {bytes(buf[:head_end])!r}")
                self.transport.close()
                return
            self.upgraded = True
            pos = head_end + 4
        size = len(buf)
        now = time.time_ns()
        tally = self.tally
        while size - pos >= 2:
            opcode, length = buf[pos] & 0x0F, buf[pos + 1] & 0x7F
            header = 2
            if length == 126:
                if size - pos < 4:
                    break
                length, header = (buf[pos + 2] << 8) | buf[pos + 3], 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, header = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if size - pos - header < length:
                break
            start = pos + header
            pos = start + length
            if opcode == 2:  # binary: one serialized Event
                tally.event(buf, start, pos, now)
            elif opcode == 1:  # text: the server's hello
                if not self.joined.done():
                    tally.joined = True
                    self.joined.set_result(None)
            elif opcode == 9:  # ping: answer with a masked pong
                payload = bytes(buf[start:pos])
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
            elif opcode == 8:
                self.tally.finish("the server closed the connection")
        del buf[:pos]


_progress_enabled = False
_started_at = time.perf_counter()


def progress(message: str) -> None:
    if _progress_enabled:
        print(f"[{time.perf_counter() - _started_at:6.1f} s] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the whole run


async def run_bench(args: argparse.Namespace) -> dict:
    results: dict = {
        "config": {
            "subscribers": args.subscribers,
            "probes": args.probes,
            "workers": args.workers,
            "rate": args.rate or "saturate",
            "duration_s": args.duration,
            "publishers": args.publishers,
            "concurrency": args.concurrency if not args.rate else None,
            "publisher_role": args.publisher_role,
            "target": args.target or _started_description(args),
            "cpus": os.cpu_count(),
        }
    }
    progress("starting the server" if not args.target else f"targeting {args.target}")
    async with service_under_test(args) as servers:
        results["service"] = await Workload(args, servers).run()
    if args.baseline:
        progress("starting the websockets baseline")
        async with baseline_server() as server:
            results["baseline"] = await Workload(args, server).run()
        service, baseline = results["service"], results["baseline"]
        if baseline["delivered_per_s"]:
            results["ratio"] = round(service["delivered_per_s"] / baseline["delivered_per_s"], 2)
    runs = [results["service"]] + ([results["baseline"]] if args.baseline else [])
    results["ok"] = all(
        run.get("lost") == 0 and run.get("duplicated") == 0 and run.get("streams_ended") == 0 and not run["errors"] for run in runs
    )
    return results


def _started_description(args: argparse.Namespace) -> str:
    database = "PostgreSQL" if args.database_url and args.database_url.startswith("postgres") else "SQLite"
    processes = f"{args.processes} processes on Redis, " if args.processes > 1 else ""
    return f"started: {processes}{database}, auth, rate limits, profanity filter"


# ---------------------------------------------------------------- servers


class StartedProcess:
    """A server subprocess whose first stdout line ending in host:port says where it listens."""

    def __init__(self, process: asyncio.subprocess.Process, target: str, log: Path) -> None:
        self.process = process
        self.target = target
        self.log = log

    @classmethod
    async def start(cls, command: list[str], directory: Path, env: dict[str, str], log: Path) -> "StartedProcess":
        with open(log, "wb") as errors:
            process = await asyncio.create_subprocess_exec(
                *command, cwd=directory, env=env, stdout=asyncio.subprocess.PIPE, stderr=errors
            )
        try:
            while True:
                line = await asyncio.wait_for(process.stdout.readline(), 60)
                if not line:
                    raise RuntimeError(f"{' '.join(command[2:4])} exited before serving:\n{log.read_text()[-3000:]}")
                text = line.decode().strip()
                if "serving on" in text:
                    return cls(process, text.rsplit(" ", 1)[1], log)
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()

    def problems(self) -> list[str]:
        """Errors and warnings the server logged (stderr)."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return [line for line in lines if " ERROR " in line or " WARNING " in line or line.startswith("Traceback")]


@dataclass
class Servers:
    """What a workload runs against: one or more processes of one kind."""

    kind: str  # "grpc" or "websocket"
    name: str
    targets: list[str]
    pids: list[int | None]
    secret: str = ""
    started: list[StartedProcess] = field(default_factory=list)

    def rss_kb(self) -> int | None:
        values = [rss_kb(pid) for pid in self.pids]
        return None if not values or None in values else sum(values)

    def cpu_seconds(self) -> float | None:
        values = [cpu_seconds(pid) for pid in self.pids]
        return None if not values or None in values else sum(values)

    def problems(self) -> list[str]:
        return [line for process in self.started for line in process.problems()]


@asynccontextmanager
async def service_under_test(args: argparse.Namespace):
    """The target(s) given, or `chatsvc serve` process(es) started for this run."""
    if args.target:
        targets = args.target.split(",")
        pids = list(args.server_pid or [])
        yield Servers("grpc", "SessionChat", targets, pids + [None] * (len(targets) - len(pids)), args.secret)
        return
    directory = Path(tempfile.mkdtemp(prefix="chatsvc-bench-"))
    secret = secrets.token_urlsafe(32)
    env = dict(os.environ)
    # Publishers are participants: the limiter runs for every message but must not refuse them.
    env.update(CHATSVC_JWT_SECRET=secret, CHATSVC_MESSAGE_RATE_LIMIT=str(10**9))
    env.pop("CHATSVC_REDIS_URL", None)
    if args.redis_url:
        env["CHATSVC_REDIS_URL"] = args.redis_url
    database_url = args.database_url or f"sqlite:///{directory / 'chat.db'}"
    servers = Servers("grpc", "SessionChat", [], [], secret)
    try:
        for i in range(args.processes):  # one after the other: the first migrates the schema
            command = [sys.executable, "-m", "chatsvc.cli", "serve", "--listen", "127.0.0.1:0", "--database-url", database_url]
            process = await StartedProcess.start(command, directory, env, directory / f"server-{i}.log")
            servers.started.append(process)
            servers.targets.append(process.target)
            servers.pids.append(process.pid)
        yield servers
    finally:
        await asyncio.gather(*(process.stop() for process in servers.started))
        if args.keep:
            print(f"kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


@asynccontextmanager
async def baseline_server():
    directory = Path(tempfile.mkdtemp(prefix="chatsvc-bench-baseline-"))
    command = [sys.executable, "-m", "chatsvc.bench_baseline", "--listen", "127.0.0.1:0"]
    process = None
    try:
        process = await StartedProcess.start(command, directory, dict(os.environ), directory / "baseline.log")
        yield Servers("websocket", "websockets baseline", [process.target], [process.pid], started=[process])
    finally:
        if process is not None:
            await process.stop()
        shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------- /proc


def rss_kb(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the workload


@dataclass
class Snapshot:
    at: float
    bench: int
    events: int
    ended: int
    min_bench: int


@dataclass
class Published:
    count: int = 0
    errors: Counter = field(default_factory=Counter)
    ack_latencies_us: list[int] = field(default_factory=list)


class Workload:
    def __init__(self, args: argparse.Namespace, server) -> None:
        self.args = args
        self.server = server
        self.session = args.session or f"bench-{uuid.uuid4().hex[:8]}"
        if server.kind == "websocket":
            self.session = "baseline"
        self.workers: list[WorkerHandle] = []

    async def run(self) -> dict:
        args, server = self.args, self.server
        result: dict = {"server": server.name, "targets": server.targets, "session": self.session, "errors": []}
        if server.kind != "grpc":
            publisher = WebSocketPublisher(self, args)
        elif args.publish_on == "stream":
            publisher = StreamPublisher(self, args)
        else:
            publisher = GrpcPublisher(self, args)
        await publisher.open()
        try:
            await publisher.warm_up()
            await asyncio.sleep(0.3)
            rss_before = server.rss_kb()
            joined_at = time.perf_counter()
            progress(f"{server.name}: joining {args.subscribers} subscribers")
            await self.start_workers()
            try:
                joined = await self.wait_joined(result)
                result["join_s"] = round(time.perf_counter() - joined_at, 2)
                progress(f"{server.name}: {joined} joined in {result['join_s']} s; waiting for the join events to settle")
                await self.settle()
                rss_idle = server.rss_kb()
                result["subscribers"] = joined
                result["server_rss_before_kb"] = rss_before
                result["server_rss_idle_kb"] = rss_idle
                result["memory_per_idle_subscriber_kb"] = (
                    round((rss_idle - rss_before) / joined, 1) if rss_before and rss_idle and joined else None
                )
                await self.publish_and_measure(publisher, result)
            finally:
                await self.stop_workers()
        finally:
            await publisher.close()
        return result

    # ------------------------------------------------------------ subscribers

    async def start_workers(self) -> None:
        args, server = self.args, self.server
        # Subscriber i is user sub-i on server process i % P.
        everyone = [
            (server.targets[i % len(server.targets)], self.token(f"sub-{i:05d}", f"Subscriber {i}", "participant"))
            for i in range(args.subscribers)
        ]
        probes = args.probes if server.kind == "grpc" else 0
        cheap, probing = everyone[probes:], everyone[:probes]
        context = multiprocessing.get_context("spawn")
        for i in range(args.workers):
            share = cheap[i :: args.workers]
            if share:
                spec = {"kind": server.kind, "session": self.session, "subscribers": share, "timeout": args.connect_timeout}
                self.workers.append(WorkerHandle.start(context, _subscriber_worker, spec))
        if probing:
            spec = {"session": self.session, "subscribers": probing, "timeout": args.connect_timeout}
            self.workers.append(WorkerHandle.start(context, _probe_worker, spec, probe=True))

    def token(self, user_id: str, name: str, role: str) -> str:
        if self.server.kind != "grpc":
            return ""
        from chatsvc.auth import mint_token

        return mint_token(secret=self.server.secret, user_id=user_id, name=name, role=role, sessions=[self.session], ttl_seconds=3600)

    async def wait_joined(self, result: dict) -> int:
        replies = await asyncio.gather(*(worker.receive() for worker in self.workers))
        joined = sum(reply["joined"] for reply in replies)
        for reply in replies:
            result["errors"] += [f"join: {error}" for error in reply["errors"]]
        if joined < self.args.subscribers:
            result["errors"].append(f"only {joined} of {self.args.subscribers} subscribers joined")
        return joined

    async def snapshot(self) -> Snapshot:
        replies = await asyncio.gather(*(worker.call("status") for worker in self.workers))
        return Snapshot(
            at=time.perf_counter(),
            bench=sum(r["bench"] for r in replies),
            events=sum(r["events"] for r in replies),
            ended=sum(r["ended"] for r in replies),
            min_bench=min((r["min_bench"] for r in replies), default=0),
        )

    async def settle(self, quiet: float = 0.4, limit: float = 60.0) -> None:
        """Wait for the join storm (every join is an event to everyone) to be delivered."""
        deadline = time.perf_counter() + limit
        last = await self.snapshot()
        quiet_since = time.perf_counter()
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.2)
            now = await self.snapshot()
            if now.events != last.events:
                quiet_since = time.perf_counter()
            elif time.perf_counter() - quiet_since >= quiet:
                return
            last = now

    async def stop_workers(self) -> None:
        await asyncio.gather(*(worker.stop() for worker in self.workers), return_exceptions=True)
        self.workers = []

    # ------------------------------------------------------------ publishing

    async def publish_and_measure(self, publisher, result: dict) -> None:
        args, server = self.args, self.server
        saturate = not args.rate
        cpu_server = server.cpu_seconds()
        cpu_workers = [cpu_seconds(worker.pid) for worker in self.workers]
        cpu_self = time.process_time()
        first = await self.snapshot()
        started = time.perf_counter()
        warm_up = min(1.0, args.duration / 5) if saturate else 0.0
        progress(f"{server.name}: publishing " + ("as fast as it goes" if saturate else f"{args.rate:g} msg/s") + f" for {args.duration:g} s")
        publishing = asyncio.create_task(publisher.saturate(args.duration) if saturate else publisher.at_rate(args.rate, args.duration))
        window_start = first
        if warm_up:
            await asyncio.sleep(warm_up)
            window_start = await self.snapshot()
        published: Published = await publishing
        window_end = await self.snapshot()
        elapsed = time.perf_counter() - started
        result["server_cpu_percent"] = _percent(server.cpu_seconds(), cpu_server, elapsed)
        result["subscriber_cpu_percent"] = round(
            sum(_percent(cpu_seconds(w.pid), before, elapsed) or 0 for w, before in zip(self.workers, cpu_workers)), 1
        )
        result["publisher_cpu_percent"] = _percent(time.process_time(), cpu_self, elapsed)
        result["published"] = published.count
        result["publish_rate"] = round(published.count / elapsed, 1)
        result["publish_errors"] = dict(published.errors)
        if published.errors:
            result["errors"].append(f"publish errors: {dict(published.errors)}")
        result["send_ack_ms"] = _percentiles_ms(published.ack_latencies_us)
        result["delivered_per_s"] = round((window_end.bench - window_start.bench) / max(window_end.at - window_start.at, 1e-9))

        # Drain: every subscriber should end up with every message.
        progress(f"{server.name}: published {published.count}; waiting for every delivery")
        drain_started = time.perf_counter()
        expected = published.count * result["subscribers"]
        snap, progress_at = window_end, time.perf_counter()
        while snap.bench < expected and time.perf_counter() - drain_started < args.drain_timeout:
            await asyncio.sleep(0.1)
            previous, snap = snap, await self.snapshot()
            if snap.bench != previous.bench:
                progress_at = time.perf_counter()
            elif time.perf_counter() - progress_at > 5:
                break  # nothing arrives any more: what is missing is lost
        result["drain_s"] = round(time.perf_counter() - drain_started, 2)
        result["server_rss_after_kb"] = server.rss_kb()

        reports = await asyncio.gather(*(worker.call("report") for worker in self.workers))
        latencies = array("i")
        probe_latencies = array("i")
        result["lost"] = 0
        result["duplicated"] = 0
        result["sequence_gaps"] = 0
        result["streams_ended"] = 0
        reasons: Counter = Counter()
        digests: Counter = Counter()
        last_sequences: Counter = Counter()
        for worker, report in zip(self.workers, reports):
            digests.update(report["digests"])
            last_sequences.update(report["last_sequences"])
            (probe_latencies if worker.probe else latencies).frombytes(report["latencies"])
            result["lost"] += sum(max(0, published.count - received) for received in report["bench"])
            result["duplicated"] += report["duplicates"]
            result["sequence_gaps"] += report["gaps"]
            result["streams_ended"] += report["ended"]
            reasons.update(report["end_reasons"])
            if worker.probe:
                result["probe_reconnects"] = report.get("reconnects", 0)
                result["event_bytes"] = report.get("event_bytes")
        if reasons:
            result["errors"].append(f"streams ended: {dict(reasons)}")
        # Every subscriber, whatever process it is on, must have received the same events byte for byte.
        result["same_events_everywhere"] = len(digests) == 1 and len(last_sequences) == 1
        if not result["same_events_everywhere"]:
            result["errors"].append(
                f"subscribers disagree: {len(digests)} different event digests, last sequences {dict(last_sequences.most_common(5))}"
            )
        problems = server.problems()
        if problems:
            result["server_log_problems"] = len(problems)
            result["errors"] += [f"server log: {line[:300]}" for line in problems[:5]]
        latencies.extend(probe_latencies)
        result["delivered"] = len(latencies)
        result["latency_ms"] = _percentiles_ms(latencies)
        result["probe_latency_ms"] = _percentiles_ms(probe_latencies) if probe_latencies else None


def _percent(after: float | None, before: float | None, elapsed: float) -> float | None:
    if after is None or before is None:
        return None
    return round(100 * (after - before) / elapsed, 1)


def _percentiles_ms(values) -> dict | None:
    if not values:
        return None
    ordered = sorted(values)
    count = len(ordered)

    def at(fraction: float) -> float:
        return round(ordered[min(count - 1, int(fraction * count))] / 1000, 2)

    return {"p50": at(0.50), "p99": at(0.99), "max": round(ordered[-1] / 1000, 2), "mean": round(statistics.fmean(ordered) / 1000, 2)}


# ---------------------------------------------------------------- publishers


class GrpcPublisher:
    """Publishing users on their own connections, through ChatClient.send_message."""

    def __init__(self, workload: Workload, args: argparse.Namespace) -> None:
        self.workload = workload
        self.args = args
        self.clients: list = []

    async def open(self) -> None:
        from chatsvc.client import ChatClient

        role = self.args.publisher_role
        for i in range(self.args.publishers):
            token = self.workload.token(f"pub-{i:03d}", f"Publisher {i}", role)
            target = self.workload.server.targets[i % len(self.workload.server.targets)]
            self.clients.append(ChatClient(target, token, channel_options=SEPARATE_CONNECTION))

    async def warm_up(self) -> None:
        for client in self.clients:
            await client.send_message(self.workload.session, "warming up")

    async def close(self) -> None:
        for client in self.clients:
            await client.close()

    async def _send(self, client, published: Published) -> None:
        started = time.perf_counter_ns()
        try:
            await self._deliver(client, bench_text(FILLER))
        except Exception as error:  # counted and reported; the run goes on
            code = getattr(error, "code", None)
            published.errors[str(code() if callable(code) else type(error).__name__)] += 1
            return
        published.count += 1
        published.ack_latencies_us.append((time.perf_counter_ns() - started) // 1000)

    async def _deliver(self, client, text: str) -> None:
        await client.send_message(self.workload.session, text, attempts=1)

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
            tasks.append(asyncio.create_task(self._send(self.clients[i % len(self.clients)], published)))
        await asyncio.gather(*tasks)
        return published

    async def saturate(self, duration: float) -> Published:
        published = Published()
        deadline = time.perf_counter() + duration

        async def keep_sending(client) -> None:
            while time.perf_counter() < deadline:
                await self._send(client, published)

        await asyncio.gather(*(keep_sending(c) for c in self.clients for _ in range(self.args.concurrency)))
        return published


class StreamPublisher(GrpcPublisher):
    """Publishing users who send on their StreamEvents streams, as live chat clients do
    (through ChatClient's sender; each stream also receives every event, read and dropped)."""

    async def open(self) -> None:
        await super().open()
        self.senders = {id(client): client.sender(self.workload.session) for client in self.clients}
        for sender in self.senders.values():
            await sender.__aenter__()

    async def warm_up(self) -> None:
        for sender in self.senders.values():
            await sender.send("warming up")

    async def close(self) -> None:
        for sender in self.senders.values():
            await sender.close()
        await super().close()

    async def _deliver(self, client, text: str) -> None:
        await self.senders[id(client)].send(text)


class WebSocketPublisher:
    """One connection to the baseline's /publish; the server acks each message after broadcasting it."""

    def __init__(self, workload: Workload, args: argparse.Namespace) -> None:
        self.workload = workload
        self.args = args
        self.sent_at: dict[int, int] = {}

    async def open(self) -> None:
        import websockets

        target = self.workload.server.targets[0]
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

    async def _collect(self, published: Published, sent: asyncio.Queue, expected: int) -> None:
        while published.count < expected:
            acked = await self.acks.get()
            published.count += 1
            published.ack_latencies_us.append((acked - await sent.get()) // 1000)

    async def at_rate(self, rate: float, duration: float) -> Published:
        published, sent = Published(), asyncio.Queue()
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
        published, sent = Published(), asyncio.Queue()
        window = asyncio.Semaphore(self.args.publishers * self.args.concurrency)
        deadline = time.perf_counter() + duration
        count = 0

        async def collect() -> None:
            while True:
                acked = await self.acks.get()
                published.count += 1
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


# ---------------------------------------------------------------- worker processes


class WorkerHandle:
    """A subscriber process and the pipe that drives it."""

    def __init__(self, process, conn, probe: bool) -> None:
        self.process = process
        self.conn = conn
        self.probe = probe

    @classmethod
    def start(cls, context, target, spec: dict, probe: bool = False) -> "WorkerHandle":
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


def _subscriber_worker(conn, spec: dict) -> None:
    _install_uvloop()
    asyncio.run(_serve_commands(conn, _cheap_subscribers(spec)))


def _probe_worker(conn, spec: dict) -> None:
    _install_uvloop()
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
        host, port = target.rsplit(":", 1)
        tally = Tally()
        joined = loop.create_future()
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

    tasks = [asyncio.create_task(follow(*item)) for item in zip(clients, tallies, joined)]
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


# ---------------------------------------------------------------- output


def format_table(results: dict) -> str:
    config = results["config"]
    runs = [("SessionChat", results["service"])]
    if "baseline" in results:
        runs.append(("websockets", results["baseline"]))
    rate = config["rate"]
    lines = [
        f"chatsvc bench: {config['subscribers']} subscribers, "
        + (f"{rate:g} msg/s" if rate != "saturate" else "saturating")
        + f" for {config['duration_s']:g} s, {config['publishers']} {config['publisher_role']} publishers, "
        f"{config['workers']} subscriber processes + {config['probes']} ChatClient probes, {config['cpus']} CPUs",
        f"server: {config['target']}",
        "",
    ]

    def latency(value: dict | None) -> str:
        return f"{value['p50']:.1f} / {value['p99']:.1f} / {value['max']:.1f}" if value else "-"

    def number(value, suffix: str = "") -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:,.1f}{suffix}"
        return f"{value:,}{suffix}"

    rows = [
        ("subscribers joined", lambda r: number(r.get("subscribers"))),
        ("join time (s)", lambda r: number(r.get("join_s"))),
        ("messages published", lambda r: number(r.get("published"))),
        ("publish rate (msg/s)", lambda r: number(r.get("publish_rate"))),
        ("delivered events/s", lambda r: number(r.get("delivered_per_s"))),
        ("latency p50 / p99 / max (ms)", lambda r: latency(r.get("latency_ms"))),
        ("  ChatClient probes (ms)", lambda r: latency(r.get("probe_latency_ms"))),
        ("  send acknowledged (ms)", lambda r: latency(r.get("send_ack_ms"))),
        ("lost events", lambda r: number(r.get("lost"))),
        ("duplicated events", lambda r: number(r.get("duplicated"))),
        ("sequence gaps", lambda r: number(r.get("sequence_gaps"))),
        ("streams ended early", lambda r: number(r.get("streams_ended"))),
        ("same events at every subscriber", lambda r: {True: "yes", False: "NO"}.get(r.get("same_events_everywhere"), "-")),
        ("drain after publishing (s)", lambda r: number(r.get("drain_s"))),
        ("server KB per idle subscriber", lambda r: number(r.get("memory_per_idle_subscriber_kb"))),
        ("server RSS before/idle/after (MB)", lambda r: "/".join(_mb(r.get(k)) for k in ("server_rss_before_kb", "server_rss_idle_kb", "server_rss_after_kb"))),
        ("server CPU while publishing (%)", lambda r: number(r.get("server_cpu_percent"))),
        ("subscriber CPU while publishing (%)", lambda r: number(r.get("subscriber_cpu_percent"))),
    ]
    width = max(len(label) for label, _ in rows)
    columns = [[render(run) for _, run in runs] for _, render in rows]
    column_width = max(max(len(cell) for cells in columns for cell in cells), max(len(name) for name, _ in runs))
    lines.append(" " * width + "  " + "  ".join(name.rjust(column_width) for name, _ in runs))
    for (label, _), cells in zip(rows, columns):
        lines.append(label.ljust(width) + "  " + "  ".join(cell.rjust(column_width) for cell in cells))
    if "ratio" in results:
        lines += ["", f"deliveries/s, SessionChat / websockets baseline: {results['ratio']:.2f}x"]
    errors = [f"{name}: {error}" for name, run in runs for error in run["errors"]]
    lines += ["", "OK: nothing lost, nothing duplicated" if results["ok"] else "FAILED"]
    lines += [f"  {error}" for error in errors]
    return "\n".join(lines)


def _mb(kb: int | None) -> str:
    return "-" if kb is None else f"{kb / 1024:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatsvc bench", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
