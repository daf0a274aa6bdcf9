"""The servers a run measures: `chatsvc serve` processes (or a --target), the websockets baseline,
and their memory and CPU from /proc."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from chatsvc.processes import Child, start_child

# How long a server gets to print where it listens, and to exit after SIGTERM before it is killed.
START_TIMEOUT = 60.0
STOP_GRACE = 15.0


class StartedProcess:
    """A server subprocess whose stdout line "... serving on host:port" says where it listens."""

    def __init__(self, child: Child, log: Path) -> None:
        self.child = child
        self.process = child.process
        self.target = child.ready_line.rsplit(" ", 1)[1]
        self.log = log
        self.restart_args: tuple[list[str], Path, dict[str, str]] | None = None
        self.metrics_port: int | None = None

    @classmethod
    async def start(cls, command: list[str], directory: Path, env: dict[str, str], log: Path) -> StartedProcess:
        child = await start_child(
            command, name=" ".join(command[2:4]), ready="serving on", timeout=START_TIMEOUT, grace=STOP_GRACE,
            cwd=directory, env=env, log=log,
        )
        return cls(child, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self) -> None:
        await self.child.stop()

    async def restart(self) -> None:
        """Stop (SIGTERM, as a deploy does) and start again on the same address."""
        assert self.restart_args is not None
        command, directory, env = self.restart_args
        await self.stop()
        command = [*command[: command.index("--listen") + 1], self.target, *command[command.index("--listen") + 2 :]]
        started = await StartedProcess.start(command, directory, env, self.log.with_suffix(".restarted.log"))
        self.child, self.process, self.log = started.child, started.process, started.log

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
        known = [value for value in values if value is not None]
        return None if not values or len(known) < len(values) else sum(known)

    def cpu_seconds(self) -> float | None:
        values = [cpu_seconds(pid) for pid in self.pids]
        known = [value for value in values if value is not None]
        return None if not values or len(known) < len(values) else sum(known)

    def problems(self) -> list[str]:
        return [line for process in self.started for line in process.problems()]

    async def fanout_counters(self) -> list[dict[str, float]]:
        """Per started process, from its /metrics: events published, received from Redis, delivered
        to its own subscribers, and sessions followed (empty for a --target)."""
        return list(await asyncio.gather(*(asyncio.to_thread(_fanout_counters, p.metrics_port) for p in self.started if p.metrics_port)))

    async def restart(self) -> float:
        """Restart every started process; the time (time.time()) when all listen again."""
        await asyncio.gather(*(process.restart() for process in self.started))
        self.pids = [process.pid for process in self.started]
        return time.time()


@asynccontextmanager
async def service_under_test(args: argparse.Namespace) -> AsyncIterator[Servers]:
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
            metrics_port = free_port()  # its fan-out counters, read after the run
            own_env = {**env, "CHATSVC_METRICS_LISTEN": f"127.0.0.1:{metrics_port}"}
            process = await StartedProcess.start(command, directory, own_env, directory / f"server-{i}.log")
            process.restart_args = (command, directory, own_env)
            process.metrics_port = metrics_port
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
async def baseline_server() -> AsyncIterator[Servers]:
    directory = Path(tempfile.mkdtemp(prefix="chatsvc-bench-baseline-"))
    command = [sys.executable, "-m", "chatsvc.bench.baseline", "--listen", "127.0.0.1:0"]
    process = None
    try:
        process = await StartedProcess.start(command, directory, dict(os.environ), directory / "baseline.log")
        yield Servers("websocket", "websockets baseline", [process.target], [process.pid], started=[process])
    finally:
        if process is not None:
            await process.stop()
        shutil.rmtree(directory, ignore_errors=True)


FANOUT_METRICS = {
    "chatsvc_events_published_total": "published",
    "chatsvc_events_received_total": "received",
    "chatsvc_events_delivered_total": "delivered",
    "chatsvc_sessions_followed": "sessions_followed",
}


def _fanout_counters(port: int | None) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in FANOUT_METRICS:
            values[FANOUT_METRICS[name]] = float(value)
    return values


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
