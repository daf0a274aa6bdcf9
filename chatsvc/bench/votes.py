"""`chatsvc bench-votes`: a vote storm on one poll, as a big class answers a quick poll.

An instructor creates the poll; `--voters` participants (each with their own
token) cast one vote each, open loop, spread evenly over `--within` seconds,
on `--connections` shared connections, with unary `CastVote` calls; a
participant watches the session's stream. Printed: votes/s accepted, each
voter's acknowledgement latency, the tally events the watcher received (in
all, and the most in any one second), and whether the last tally equals the
votes cast. Exits non-zero when a vote was refused or the tally is not exact.
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

SESSION = "bench-votes"
SEPARATE_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--voters", type=int, default=1000, help="participants voting, one vote each (default 1000)")
    parser.add_argument("--within", type=float, default=10.0, help="seconds over which the votes are spread (default 10)")
    parser.add_argument("--options", type=int, default=4, help="options of the poll, 2-10 (default 4)")
    parser.add_argument("--connections", type=int, default=8, help="connections the voters share (default 8)")
    parser.add_argument("--database-url", help="database of the started server (default: SQLite in a temporary directory)")
    parser.add_argument("--target", help="host:port of a running server instead of starting one")
    parser.add_argument("--secret", help="the target's CHATSVC_JWT_SECRET (required with --target)")
    parser.add_argument("--settle-timeout", type=float, default=30.0, help="seconds to wait for the final tally (default 30)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    if not 2 <= args.options <= 10 or args.voters < 1 or args.within < 0 or args.connections < 1:
        print("chatsvc bench-votes: --options must be 2-10, --voters and --connections at least 1", file=sys.stderr)
        return 2
    if args.target and not args.secret:
        print("chatsvc bench-votes: --target needs --secret", file=sys.stderr)
        return 2
    quiet_fork_handlers()
    # service_under_test's other options: one process of our own, no Redis.
    args.processes, args.redis_url, args.server_pid, args.keep = 1, None, None, False
    results = asyncio.run(_storm(args))
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(format_results(results))
    return 0 if results["refused"] == {} and results["exact"] else 1


async def _storm(args: argparse.Namespace) -> dict:
    async with service_under_test(args) as servers:
        target, secret = servers.targets[0], servers.secret

        def token(user_id: str, role: str) -> str:
            return mint_token(secret=secret, user_id=user_id, name=user_id.title(), role=role, sessions=[SESSION])

        teacher = ChatClient(target, token("teacher", "instructor"))
        watcher = ChatClient(target, token("watcher", "participant"))
        channels = [grpc.aio.insecure_channel(target, options=SEPARATE_CONNECTION) for _ in range(args.connections)]
        try:
            options = [f"Option {n + 1}" for n in range(args.options)]
            request = pb.CreatePollRequest(session_id=SESSION, question="Vote storm", options=options, anonymous=True)
            poll = (await teacher.stub.CreatePoll(request, metadata=teacher.metadata)).poll
            tallies: list[tuple[float, pb.PollResults]] = []
            final = asyncio.get_running_loop().create_future()
            watching = asyncio.create_task(_watch(watcher, poll.poll_id, args.voters, tallies, final))
            voters = [(f"voter-{n:05d}", token(f"voter-{n:05d}", "participant")) for n in range(args.voters)]
            stubs = [chat_pb2_grpc.SessionChatStub(channel) for channel in channels]
            latencies: list[float] = []
            refused: Counter = Counter()
            began = time.monotonic()

            async def vote(number: int) -> None:
                await asyncio.sleep(max(0.0, began + number * args.within / args.voters - time.monotonic()))
                sent = time.monotonic()
                choice = str(number % args.options + 1)
                cast = pb.CastVoteRequest(session_id=SESSION, poll_id=poll.poll_id, option_ids=[choice])
                try:
                    answer = await stubs[number % len(stubs)].CastVote(cast, metadata=(("authorization", f"Bearer {voters[number][1]}"),))
                except grpc.aio.AioRpcError as error:
                    refused[error.code().name] += 1
                    return
                if list(answer.option_ids) != [choice]:
                    refused["WRONG_ACKNOWLEDGEMENT"] += 1
                    return
                latencies.append(time.monotonic() - sent)

            await asyncio.gather(*(vote(number) for number in range(args.voters)))
            accepted_in = time.monotonic() - began
            try:
                settled = await asyncio.wait_for(asyncio.shield(final), args.settle_timeout)
            except TimeoutError:
                settled = tallies[-1][1] if tallies else pb.PollResults()
            settled_in = time.monotonic() - began
            watching.cancel()
        finally:
            await asyncio.gather(teacher.close(), watcher.close(), *(channel.close() for channel in channels))
    expected = [len(range(option, args.voters, args.options)) for option in range(args.options)]
    got = [option.vote_count for option in settled.options]
    per_second = Counter(int(at - began) for at, _ in tallies if at >= began)
    latencies.sort()
    return {
        "voters": args.voters,
        "within_s": args.within,
        "accepted": len(latencies),
        "refused": dict(refused),
        "accepted_per_s": round(len(latencies) / accepted_in, 1),
        "accepted_in_s": round(accepted_in, 2),
        "ack_ms": {
            "p50": round(1000 * statistics.median(latencies), 1) if latencies else None,
            "p99": round(1000 * latencies[math.ceil(0.99 * len(latencies)) - 1], 1) if latencies else None,
            "max": round(1000 * latencies[-1], 1) if latencies else None,
        },
        "tally_events": len(tallies),
        "tally_events_max_per_s": max(per_second.values(), default=0),
        "final_tally_after_s": round(settled_in, 2),
        "final_tally": {"voters": settled.voter_count, "options": got},
        "expected_tally": {"voters": args.voters, "options": expected},
        "exact": settled.voter_count == args.voters and got == expected,
    }


async def _watch(client: ChatClient, poll_id: str, voters: int, tallies: list, final: asyncio.Future) -> None:
    async for event in client.events(SESSION):
        kind = event.WhichOneof("kind")
        if kind == "poll_results_changed" and event.poll_results_changed.poll_id == poll_id:
            tallies.append((time.monotonic(), event.poll_results_changed))
            if event.poll_results_changed.voter_count == voters and not final.done():
                final.set_result(event.poll_results_changed)


def format_results(results: dict) -> str:
    ack = results["ack_ms"]
    final, expected = results["final_tally"], results["expected_tally"]
    rows = [
        ("votes accepted", f"{results['accepted']} of {results['voters']} in {results['accepted_in_s']} s "
         f"({results['accepted_per_s']}/s; sent over {results['within_s']} s)"),
        ("refused", ", ".join(f"{code} {count}" for code, count in results["refused"].items()) or "none"),
        ("acknowledgement", f"p50 {ack['p50']} ms, p99 {ack['p99']} ms, max {ack['max']} ms"),
        ("tally events", f"{results['tally_events']} in all, at most {results['tally_events_max_per_s']} in one second"),
        ("final tally", f"{final['voters']} voters {final['options']} after {results['final_tally_after_s']} s"),
        ("exact", f"{'yes' if results['exact'] else 'NO'} (expected {expected['voters']} voters {expected['options']})"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)
