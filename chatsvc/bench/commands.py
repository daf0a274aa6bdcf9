"""The `chatsvc bench*` commands: `bench` (fan-out), `bench-profanity`, `bench-votes`, `bench-search`, `bench-reads`, `bench-chain`."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from chatsvc.bench import add_arguments as add_bench_arguments
from chatsvc.bench import chain as bench_chain
from chatsvc.bench import profanity as bench_profanity
from chatsvc.bench import reads as bench_reads
from chatsvc.bench import search as bench_search
from chatsvc.bench import votes as bench_votes


def add_bench_commands(commands, run_bench: Callable[[argparse.Namespace], int]) -> None:
    """Register the commands on the `chatsvc` parser's subcommands; `run_bench` runs `chatsvc bench`."""
    bench = commands.add_parser(
        "bench",
        help="measure fan-out: N subscribers in one session, latency, loss, memory",
        description="Start a server (or --target one), connect N subscribers to one session, publish at "
        "--rate messages/s and print deliveries/s, latency p50/p99/max, lost and duplicated events and "
        "server memory per idle subscriber; --baseline compares a minimal websockets broadcast server.",
    )
    add_bench_arguments(bench)
    bench.set_defaults(run=run_bench)

    profanity = commands.add_parser("bench-profanity", help="measure the profanity filter's time per message")
    bench_profanity.add_arguments(profanity)
    profanity.set_defaults(run=bench_profanity.run)

    votes = commands.add_parser(
        "bench-votes",
        help="measure a vote storm: N participants vote on one poll within a few seconds",
        description="Start a server (or --target one), create a poll and have --voters participants vote on it "
        "within --within seconds; print votes/s accepted, acknowledgement latency, tally events and whether "
        "the final tally is exact.",
    )
    bench_votes.add_arguments(votes)
    votes.set_defaults(run=bench_votes.run)

    searching = commands.add_parser(
        "bench-search",
        help="measure SearchMessages over a session of many messages",
        description="Fill a session with --messages messages straight into the database, start a server on it and "
        "time --queries searches of each shape (common word, rare word, phrase, prefix, relevance).",
    )
    bench_search.add_arguments(searching)
    searching.set_defaults(run=bench_search.run)

    reading = commands.add_parser(
        "bench-reads",
        help="measure read receipts: N users marking read several times a second",
        description="Start a server, have --users participants mark read --rate times a second while an instructor "
        "posts; print marks/s accepted, acknowledgement latency, count updates per second and the server's CPU.",
    )
    bench_reads.add_arguments(reading)
    reading.set_defaults(run=bench_reads.run)

    chaining = commands.add_parser(
        "bench-chain",
        help="measure what the exports' hash chain adds to storing events",
        description="Store --transactions transactions of each --batches size of message events, alternately "
        "without and with the hash chain; print transaction p50/p99 both ways and the chain's own time.",
    )
    bench_chain.add_arguments(chaining)
    chaining.set_defaults(run=bench_chain.run)
