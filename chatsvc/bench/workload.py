"""One run of `chatsvc bench`: the workload against the service (and the baseline), from the join
storm to the last delivery, and what it measured."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import time
import uuid
from array import array
from collections import Counter
from dataclasses import dataclass

from chatsvc.bench.backend_load import BackendLoad
from chatsvc.bench.publishers import (
    GrpcPublisher,
    Published,
    StreamPublisher,
    WebSocketPublisher,
)
from chatsvc.bench.report import percent, percentiles_ms, progress
from chatsvc.bench.servers import (
    Servers,
    baseline_server,
    cpu_seconds,
    service_under_test,
)
from chatsvc.bench.verdict import judge
from chatsvc.bench.workers import WorkerHandle, probe_worker, subscriber_worker


async def run_bench(args: argparse.Namespace) -> dict:
    results: dict = {
        "config": {
            "subscribers": args.subscribers,
            "sessions": args.sessions,
            "churn_per_s": args.churn,
            "probes": args.probes,
            "workers": args.workers,
            "rate": args.rate or "saturate",
            "duration_s": args.duration,
            "publishers": args.publishers,
            "concurrency": args.concurrency if not args.rate else None,
            "publisher_role": args.publisher_role,
            "target": args.target or _started_description(args),
            "cpus": os.cpu_count(),
            "streams_per_connection": args.streams_per_connection,
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


def presence_grace_seconds() -> float:
    """The server's presence grace, as this environment sets it (or the default)."""
    from chatsvc.config import Settings

    return Settings.from_env().presence_grace_seconds


# A subscriber process this busy (one core = 100%) may be what limits a run, not the server.
CLIENT_LIMIT_PERCENT = 85


@dataclass
class Snapshot:
    """Totals over every subscriber at one moment."""

    at: float
    bench: int
    events: int
    ended: int
    min_bench: int


class Workload:
    def __init__(self, args: argparse.Namespace, server: Servers) -> None:
        self.args = args
        self.server = server
        self.session = args.session or f"bench-{uuid.uuid4().hex[:8]}"
        if server.kind == "websocket":
            self.session = "baseline"
        # With --sessions S, --subscribers and --rate are per session.
        self.sessions = [self.session] if args.sessions == 1 else [f"{self.session}-{k:03d}" for k in range(args.sessions)]
        self.workers: list[WorkerHandle] = []

    async def run(self) -> dict:
        args, server = self.args, self.server
        result: dict = {"server": server.name, "targets": server.targets, "session": self.session, "errors": []}
        kind = WebSocketPublisher if server.kind != "grpc" else StreamPublisher if args.publish_on == "stream" else GrpcPublisher
        publisher = kind(server.targets, self.sessions, self.token, args)
        self.publisher = publisher
        await publisher.open()
        try:
            await publisher.warm_up()
            await asyncio.sleep(0.3)
            rss_before = server.rss_kb()
            await self.start_workers()
            try:
                await asyncio.gather(*(worker.receive() for worker in self.workers))  # "ready"
                progress(f"{server.name}: joining {args.subscribers * len(self.sessions)} subscribers at once")
                joined_at = time.perf_counter()
                for worker in self.workers:
                    worker.conn.send("go")
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
            if server.kind == "grpc" and result.get("subscribers") and server.rss_kb() is not None:
                await self.measure_after_leaving(result)  # (not for a --target without --server-pid)
        finally:
            await publisher.close()
        return result

    async def measure_after_leaving(self, result: dict) -> None:
        """The server's RSS once every subscriber has left (their presence grace passed, the leaves
        delivered) and stopped changing, against what it was before they joined."""
        progress(f"{self.server.name}: subscribers gone; waiting for their leaves and for the server's memory to settle")
        await asyncio.sleep(presence_grace_seconds())
        # Settled: the events published (the leaves) and the RSS stopped changing for a second.
        previous: tuple = (None, None)
        deadline = time.perf_counter() + 30
        steady = 0
        while time.perf_counter() < deadline and steady < 2:
            await asyncio.sleep(0.5)
            counters = await self.server.fanout_counters()
            now = (sum(c.get("published", 0) for c in counters), self.server.rss_kb())
            rss_steady = now[1] is not None and previous[1] is not None and abs(now[1] - previous[1]) <= previous[1] / 200
            steady = steady + 1 if now[0] == previous[0] and rss_steady else 0
            previous = now
        rss = previous[1]
        before = result.get("server_rss_before_kb")
        result["server_rss_left_kb"] = rss
        result["rss_left_vs_before_percent"] = round(100 * (rss - before) / before, 1) if rss and before else None

    # ------------------------------------------------------------ subscribers

    async def start_workers(self) -> None:
        args, server = self.args, self.server
        # Subscriber i is user sub-i on server process i % P (with --placement session: session j's on j % P).
        process = (lambda i, j: j) if args.placement == "session" else (lambda i, j: i)
        everyone = [
            (server.targets[process(i, j) % len(server.targets)], self.token(*self._subscriber(i, session), "participant", [session]), session)
            for j, session in enumerate(self.sessions)
            for i in range(j * args.subscribers, (j + 1) * args.subscribers)
        ]
        probes = args.probes if server.kind == "grpc" else 0
        cheap, probing = everyone[probes:], everyone[:probes]
        context = multiprocessing.get_context("spawn")
        for i in range(args.workers):
            share = cheap[i :: args.workers]
            if share:
                spec = {
                    "kind": server.kind,
                    "subscribers": share,
                    "timeout": args.connect_timeout,
                    "reconnect": args.restart,
                    # WebSockets carry one subscriber each: the baseline keeps its own connection per subscriber.
                    "streams_per_connection": args.streams_per_connection if server.kind == "grpc" else 1,
                }
                self.workers.append(WorkerHandle.start(context, subscriber_worker, spec))
        if probing:
            spec = {"subscribers": probing, "timeout": args.connect_timeout}
            self.workers.append(WorkerHandle.start(context, probe_worker, spec, probe=True))

    def _subscriber(self, i: int, session: str) -> tuple[str, str]:
        return (f"sub-{i:05d}", f"Subscriber {i}")

    def token(self, user_id: str, name: str, role: str, sessions: list[str] | None = None) -> str:
        if self.server.kind != "grpc":
            return ""
        from chatsvc.auth import mint_token

        allowed = sessions or self.sessions
        return mint_token(secret=self.server.secret, user_id=user_id, name=name, role=role, sessions=allowed, ttl_seconds=3600)

    async def churn(self, per_second: float, duration: float, result: dict) -> None:
        """Extra users join a random session and leave it again 0.5-2 s later, `per_second` of them."""
        from chatsvc.client import ChatClient

        rng = random.Random(7)
        targets = self.server.targets
        join_us: list[int] = []
        failures: Counter = Counter()

        async def visit(n: int) -> None:
            session = rng.choice(self.sessions)
            process = self.sessions.index(session) if self.args.placement == "session" else n
            client = ChatClient(targets[process % len(targets)], self.token(f"churn-{n:05d}", f"Visitor {n}", "participant", [session]))
            started = time.perf_counter_ns()
            events = client.events(session)
            try:
                await asyncio.wait_for(anext(events), 30)  # stream_started
                join_us.append((time.perf_counter_ns() - started) // 1000)
                await asyncio.sleep(rng.uniform(0.5, 2.0))
            except Exception as error:
                failures[type(error).__name__] += 1
            finally:
                await events.aclose()
                await client.close()

        visits = []
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n in range(int(per_second * duration)):
            delay = start + n / per_second - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            visits.append(asyncio.create_task(visit(n)))
        await asyncio.gather(*visits)
        result["churn_joins"] = len(join_us)
        result["churn_join_ms"] = percentiles_ms(join_us)
        if failures:
            result["errors"].append(f"churning visitors failed: {dict(failures)}")

    async def restart_midway(self, after: float, result: dict) -> None:
        await asyncio.sleep(after)
        progress(f"{self.server.name}: restarting the server (SIGTERM, then start again on the same port)")
        stopped_at = time.time()
        result["listening_again_at"] = await self.server.restart()
        result["restart_s"] = round(result["listening_again_at"] - stopped_at, 2)
        progress(f"{self.server.name}: listening again after {result['restart_s']} s")

    async def wait_joined(self, result: dict) -> int:
        replies = await asyncio.gather(*(worker.receive() for worker in self.workers))
        joined = sum(reply["joined"] for reply in replies)
        join_ms = array("i")
        for reply in replies:
            join_ms.frombytes(reply["join_ms"])
        result["join_ms"] = percentiles_ms([ms * 1000 for ms in join_ms])  # percentiles_ms takes µs
        for reply in replies:
            result["errors"] += [f"join: {error}" for error in reply["errors"]]
        wanted = self.args.subscribers * len(self.sessions)
        if joined < wanted:
            result["errors"].append(f"only {joined} of {wanted} subscribers joined")
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
        cpu_processes = [cpu_seconds(pid) for pid in server.pids]
        backends = BackendLoad(args.redis_url, args.database_url)
        await backends.start()
        cpu_workers = [cpu_seconds(worker.pid) for worker in self.workers]
        cpu_self = time.process_time()
        first = await self.snapshot()
        started = time.perf_counter()
        warm_up = min(1.0, args.duration / 5) if saturate else 0.0
        progress(f"{server.name}: publishing " + ("as fast as it goes" if saturate else f"{args.rate:g} msg/s") + f" for {args.duration:g} s")
        total_rate = args.rate * len(self.sessions)
        publishing = asyncio.create_task(publisher.saturate(args.duration) if saturate else publisher.at_rate(total_rate, args.duration))
        churning = asyncio.create_task(self.churn(args.churn, args.duration, result)) if args.churn and server.kind == "grpc" else None
        restarting = asyncio.create_task(self.restart_midway(args.duration / 2, result)) if args.restart else None
        window_start = first
        if warm_up:
            await asyncio.sleep(warm_up)
            window_start = await self.snapshot()
        published: Published = await publishing
        if restarting is not None:
            await restarting
        if churning is not None:
            await churning
        window_end = await self.snapshot()
        elapsed = time.perf_counter() - started
        result["server_cpu_percent"] = percent(server.cpu_seconds(), cpu_server, elapsed)
        if len(server.pids) > 1:
            result["processes_cpu_percent"] = [percent(cpu_seconds(pid), before, elapsed) for pid, before in zip(server.pids, cpu_processes, strict=False)]
        result.update(await backends.finish(elapsed))
        result["subscriber_cpu_percent"] = round(
            sum(percent(cpu_seconds(w.pid), before, elapsed) or 0 for w, before in zip(self.workers, cpu_workers, strict=False)), 1
        )
        result["publisher_cpu_percent"] = percent(time.process_time(), cpu_self, elapsed)
        busiest = max((percent(cpu_seconds(w.pid), before, elapsed) or 0 for w, before in zip(self.workers, cpu_workers, strict=False)), default=0)
        result["busiest_subscriber_process_cpu_percent"] = busiest
        result["warnings"] = []
        if busiest >= CLIENT_LIMIT_PERCENT:
            result["warnings"].append(
                f"a subscriber process was at {busiest:.0f}% CPU: the clients, not the server, may have set the pace (add --workers)"
            )
        result["published"] = published.count
        result["publish_rate"] = round(published.count / elapsed, 1)
        result["publish_errors"] = dict(published.errors)
        if published.errors:
            result["errors"].append(f"publish errors: {dict(published.errors)}")
        result["send_ack_ms"] = percentiles_ms(published.ack_latencies_us)
        result["delivered_per_s"] = round((window_end.bench - window_start.bench) / max(window_end.at - window_start.at, 1e-9))

        # Drain: every subscriber should end up with every message.
        progress(f"{server.name}: published {published.count}; waiting for every delivery")
        drain_started = time.perf_counter()
        expected = sum(published.by_session[session] for session in self.sessions) * args.subscribers
        snap, progress_at = window_end, time.perf_counter()
        while snap.bench < expected and time.perf_counter() - drain_started < args.drain_timeout:
            await asyncio.sleep(0.1)
            previous, snap = snap, await self.snapshot()
            if snap.bench != previous.bench:
                progress_at = time.perf_counter()
            elif time.perf_counter() - progress_at > 5:
                break  # nothing arrives any more: what is missing is lost
        result["drain_s"] = round(time.perf_counter() - drain_started, 2)
        if args.churn:
            # The last visitors' leaves are announced once their presence grace has passed.
            await self.settle(quiet=presence_grace_seconds() + 1.0)
        result["server_rss_after_kb"] = server.rss_kb()
        if server.kind == "grpc":
            # What each process received from Redis against what it delivered to its own subscribers.
            result["processes_fanout"] = await server.fanout_counters()

        reports = await asyncio.gather(*(worker.call("report") for worker in self.workers))
        reports = await asyncio.gather(*(worker.call("report") for worker in self.workers))
        judge(result, reports, self.workers, published, self.args, self.sessions, self.publisher, server)
