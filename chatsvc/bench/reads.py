"""`chatsvc bench-reads`: a class marking read as it scrolls, and what that costs the server.

An instructor posts `--messages-per-second` while `--users` participants (each with their own
token, sharing `--connections` connections) each mark read `--rate` times a second, open
loop, with the newest sequence posted so far, for `--duration` seconds; the instructor's
stream counts the `read_counts_changed` updates. Printed: marks/s accepted, acknowledgement
latency, count updates per second, the server's CPU, and whether every user's stored mark
is the last message once each has marked it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import time
from collections import Counter

import grpc
from sessionchat.v1 import chat_pb2 as pb
from sessionchat.v1 import chat_pb2_grpc

from chatsvc.auth import mint_token
from chatsvc.bench.servers import service_under_test
from chatsvc.client import ChatClient
from chatsvc.grpc_environment import quiet_fork_handlers

SESSION = "bench-reads"
SEPARATE_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=1000, help="participants marking read (default 1000)")
    parser.add_argument("--rate", type=float, default=3.0, help="marks per user per second (default 3)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of marking (default 10)")
    parser.add_argument("--messages-per-second", type=float, default=2.0, help="messages the instructor posts meanwhile (default 2)")
    parser.add_argument("--connections", type=int, default=8, help="connections the users share (default 8)")
    parser.add_argument("--database-url", help="database of the started server (default: SQLite in a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    if args.users < 1 or args.rate <= 0 or args.duration <= 0 or args.connections < 1:
        print("chatsvc bench-reads: --users, --rate, --duration and --connections must be positive", file=sys.stderr)
        return 2
    quiet_fork_handlers()
    args.target, args.processes, args.redis_url, args.server_pid, args.keep, args.secret = None, 1, None, None, False, None
    results = asyncio.run(_bench(args))
    print(json.dumps(results, indent=1) if args.json else format_results(results))
    return 0 if results["refused"] == {} and results["final_marks_exact"] else 1


async def _bench(args: argparse.Namespace) -> dict:
    async with service_under_test(args) as servers:
        target = servers.targets[0]

        def token(user_id: str, role: str) -> str:
            return mint_token(secret=servers.secret, user_id=user_id, name=user_id.title(), role=role, sessions=[SESSION])

        teacher = ChatClient(target, token("teacher", "instructor"))
        updates: list[float] = []
        watching = asyncio.create_task(_watch(teacher, updates))
        users = [token(f"user-{n:05d}", "participant") for n in range(args.users)]
        channels = [grpc.aio.insecure_channel(target, options=SEPARATE_CONNECTION) for _ in range(args.connections)]
        stubs = [chat_pb2_grpc.SessionChatStub(channel) for channel in channels]
        latest = (await teacher.send_message(SESSION, "first")).sequence
        latencies: list[float] = []
        refused: Counter = Counter()
        began = time.monotonic()
        cpu_before = servers.cpu_seconds()

        async def post() -> None:
            nonlocal latest
            for number in range(int(args.duration * args.messages_per_second)):
                await asyncio.sleep(max(0.0, began + number / args.messages_per_second - time.monotonic()))
                latest = (await teacher.send_message(SESSION, f"message {number}")).sequence

        async def user(number: int) -> None:
            metadata = (("authorization", f"Bearer {users[number]}"),)
            offset = number / args.users / args.rate
            for step in range(int(args.duration * args.rate)):
                await asyncio.sleep(max(0.0, began + offset + step / args.rate - time.monotonic()))
                sent = time.monotonic()
                try:
                    await stubs[number % len(stubs)].MarkRead(pb.MarkReadRequest(session_id=SESSION, sequence=latest), metadata=metadata)
                except grpc.aio.AioRpcError as error:
                    refused[error.code().name] += 1
                    continue
                latencies.append(time.monotonic() - sent)

        await asyncio.gather(post(), *(user(n) for n in range(args.users)))
        elapsed = time.monotonic() - began
        cpu_after = servers.cpu_seconds()
        final = await asyncio.gather(*(stubs[n % len(stubs)].MarkRead(pb.MarkReadRequest(session_id=SESSION, sequence=latest),
                                                                      metadata=(("authorization", f"Bearer {users[n]}"),))
                                       for n in range(args.users)))
        watching.cancel()
        await asyncio.gather(teacher.close(), *(channel.close() for channel in channels))
    latencies.sort()
    return {
        "users": args.users,
        "marks_per_user_per_s": args.rate,
        "accepted": len(latencies),
        "refused": dict(refused),
        "marks_per_s": round(len(latencies) / elapsed, 1),
        "ack_ms": {
            "p50": round(1000 * statistics.median(latencies), 1) if latencies else None,
            "p99": round(1000 * latencies[math.ceil(0.99 * len(latencies)) - 1], 1) if latencies else None,
        },
        "count_updates": len(updates),
        "count_updates_per_s": round(len(updates) / elapsed, 1),
        "server_cpu_percent": round(100 * (cpu_after - cpu_before) / elapsed, 1) if cpu_before is not None and cpu_after is not None else None,
        "final_marks_exact": all(answer.last_read_sequence == latest for answer in final),
    }


async def _watch(client: ChatClient, updates: list[float]) -> None:
    async for event in client.events(SESSION):
        if event.WhichOneof("kind") == "read_counts_changed":
            updates.append(time.monotonic())


def format_results(results: dict) -> str:
    ack = results["ack_ms"]
    rows = [
        ("marks accepted", f"{results['accepted']} ({results['marks_per_s']}/s from {results['users']} users at {results['marks_per_user_per_s']}/s each)"),
        ("refused", ", ".join(f"{code} {count}" for code, count in results["refused"].items()) or "none"),
        ("acknowledgement", f"p50 {ack['p50']} ms, p99 {ack['p99']} ms"),
        ("count updates", f"{results['count_updates']} ({results['count_updates_per_s']}/s) to the instructor"),
        ("server CPU", f"{results['server_cpu_percent']}%"),
        ("every mark stored", "yes" if results["final_marks_exact"] else "NO"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)
