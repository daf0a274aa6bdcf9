"""`chatsvc bench-search`: SearchMessages over a session of many messages, end to end.

The session is filled straight into the database (`--messages`, default 100,000 sentences
drawn from a vocabulary where a few words are common and most are rare, as in speech), then
a started server answers `--queries` searches of each shape through gRPC: a common word, a
rare word, a phrase, a prefix, and the common word by relevance. Printed per shape: hits on
the first page, p50/p99/max latency as the client sees it.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sessionchat.v1 import chat_pb2 as pb
from sqlalchemy import delete, insert

from chatsvc.auth import mint_token
from chatsvc.bench.servers import service_under_test
from chatsvc.client import ChatClient
from chatsvc.grpc_environment import quiet_fork_handlers
from chatsvc.storage.database import Database
from chatsvc.storage.tables import Message, table_of

COMMON = "lecture question answer slide example formula".split()
RARE_COUNT = 5000
BATCH = 5000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--messages", type=int, default=100_000, help="messages in the session (default 100000)")
    parser.add_argument("--queries", type=int, default=50, help="searches of each shape (default 50)")
    parser.add_argument("--page-size", type=int, default=20, help="hits per page (default 20)")
    parser.add_argument("--database-url", help="database to fill and serve (default: SQLite in a temporary directory)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    if args.messages < 1 or args.queries < 1:
        print("chatsvc bench-search: --messages and --queries must be at least 1", file=sys.stderr)
        return 2
    quiet_fork_handlers()
    directory = Path(tempfile.mkdtemp(prefix="chatsvc-bench-search-"))
    args.database_url = args.database_url or f"sqlite:///{directory / 'chat.db'}"
    args.target, args.processes, args.redis_url, args.server_pid, args.keep = None, 1, None, None, False
    try:
        results = asyncio.run(_bench(args))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps(results, indent=1) if args.json else format_results(results))
    return 0


def _sentence(rng: random.Random, number: int) -> str:
    words = [rng.choice(COMMON) if rng.random() < 0.15 else f"w{int(rng.paretovariate(1.2)) % RARE_COUNT}" for _ in range(rng.randint(4, 18))]
    return f"message {number}: " + " ".join(words)


def _insert(table, rows: list[dict], db) -> None:
    db.connection().execute(insert(table), rows)


async def _fill(url: str, session: str, count: int, seed: int) -> float:
    """Insert the session's messages straight into the database (migrated first); seconds taken."""
    database = Database(url)
    await database.migrate()
    rng = random.Random(seed)
    began, start = time.monotonic(), datetime.now(UTC) - timedelta(seconds=count)
    table = table_of(Message)
    for first in range(0, count, BATCH):
        rows = [
            dict(
                id=uuid.uuid4().hex, session_id=session, sequence=n + 1, sender_id=f"user-{n % 300}", sender_name=f"User {n % 300}",
                sender_role="participant", text=_sentence(rng, n), created_at=start + timedelta(seconds=n), mentions=[],
            )
            for n in range(first, min(first + BATCH, count))
        ]
        await database.transaction(functools.partial(_insert, table, rows))
    # Planner statistics, as autovacuum (PostgreSQL) or `ANALYZE` keep them on a live server:
    # without them PostgreSQL guesses a session has a few rows and scans all of them.
    def analyze(db) -> None:
        db.connection().exec_driver_sql("ANALYZE messages")

    await database.transaction(analyze)
    await database.close()
    return time.monotonic() - began


async def _bench(args: argparse.Namespace) -> dict:
    session = f"bench-search-{uuid.uuid4().hex[:8]}"
    try:
        filled_in = await _fill(args.database_url, session, args.messages, args.seed)
        return await _measure(args, session, filled_in)
    finally:  # a database given by --database-url keeps nothing of the run
        def forget(db) -> None:
            table = table_of(Message)
            db.connection().execute(delete(table).where(table.c.session_id == session))

        database = Database(args.database_url)
        await database.transaction(forget)
        await database.close()


async def _measure(args: argparse.Namespace, session: str, filled_in: float) -> dict:
    shapes = {
        "common word": ("lecture", pb.SEARCH_ORDER_NEWEST),
        "rare word": ("w250", pb.SEARCH_ORDER_NEWEST),
        "phrase": ('"question answer"', pb.SEARCH_ORDER_NEWEST),
        "prefix": ("form*", pb.SEARCH_ORDER_NEWEST),
        "common word, by relevance": ("lecture", pb.SEARCH_ORDER_RELEVANCE),
    }
    results: dict = {"messages": args.messages, "database": args.database_url.split(":", 1)[0], "filled_in_s": round(filled_in, 1), "shapes": {}}
    async with service_under_test(args) as servers:
        token = mint_token(secret=servers.secret, user_id="reader", name="Reader", role="participant", sessions=[session])
        async with ChatClient(servers.targets[0], token) as client:
            for name, (query, order) in shapes.items():
                request = pb.SearchMessagesRequest(session_id=session, query=query, page_size=args.page_size, order=order)
                await client.stub.SearchMessages(request, metadata=client.metadata)  # warm the caches once
                times, hits = [], 0
                for _ in range(args.queries):
                    began = time.perf_counter()
                    answer = await client.stub.SearchMessages(request, metadata=client.metadata)
                    times.append(1000 * (time.perf_counter() - began))
                    hits = len(answer.hits)
                times.sort()
                results["shapes"][name] = {
                    "query": query,
                    "hits_on_page": hits,
                    "p50_ms": round(statistics.median(times), 1),
                    "p99_ms": round(times[math.ceil(0.99 * len(times)) - 1], 1),
                    "max_ms": round(times[-1], 1),
                }
    return results


def format_results(results: dict) -> str:
    lines = [f"{results['messages']} messages in one session on {results['database']} (filled in {results['filled_in_s']} s)"]
    for name, shape in results["shapes"].items():
        lines.append(
            f"  {name:<26} {shape['query']!s:<20} {shape['hits_on_page']:>3} hits  "
            f"p50 {shape['p50_ms']} ms  p99 {shape['p99_ms']} ms  max {shape['max_ms']} ms"
        )
    return "\n".join(lines)
