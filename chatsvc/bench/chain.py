"""`chatsvc bench-chain`: what the hash chain adds to storing a session's events.

Each measured transaction does what a change's commit does — take the session's next
sequences, insert N message events (120-character texts), commit — once without the chain
and once with it (read the previous hash, hash each event), alternating between two sessions
so both see the same database. Printed per batch size: the transaction's p50/p99 without and
with the chain, and the chain's own time (the read and the hashing) p50/p99, per transaction
and per event.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sessionchat.v1 import chat_pb2 as pb
from sqlalchemy import delete, select
from sqlmodel import Session

from chatsvc.storage import chain
from chatsvc.storage import repository as repo
from chatsvc.storage.database import Database
from chatsvc.storage.tables import ChatSession, EventRecord, table_of

TEXT = ("Could you go over the second step of the proof again? I lost track of where the bound came from. " * 2)[:120]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transactions", type=int, default=500, help="transactions per batch size and mode (default 500)")
    parser.add_argument("--batches", default="1,10,100", help="events per transaction, comma-separated (default 1,10,100)")
    parser.add_argument("--database-url", help="database to write (default: SQLite in a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    try:
        batches = [int(size) for size in args.batches.split(",")]
    except ValueError:
        batches = []
    if args.transactions < 10 or not batches or min(batches) < 1:
        print("chatsvc bench-chain: --transactions must be at least 10 and --batches positive whole numbers", file=sys.stderr)
        return 2
    directory = Path(tempfile.mkdtemp(prefix="chatsvc-bench-chain-"))
    url = args.database_url or f"sqlite:///{directory / 'chat.db'}"
    try:
        results = asyncio.run(_bench(url, batches, args.transactions))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    results = {"database": url.split(":", 1)[0], "transactions": args.transactions} | results
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"hash chain cost, {results['database']}, {args.transactions} transactions per row (times in ms); "
          f"stored chain {'intact' if results['chain_intact'] else 'BROKEN'}")
    print(f"{'events/tx':>9}  {'tx without chain p50/p99':>24}  {'tx with chain p50/p99':>22}  {'chain p50/p99':>14}  {'chain per event p50':>19}")
    for row in results["rows"]:
        print(f"{row['events']:>9}  {_pair(row['without_ms']):>24}  {_pair(row['with_ms']):>22}  {_pair(row['chain_ms']):>14}  "
              f"{row['chain_ms']['p50'] / row['events']:>19.3f}")
    return 0


def _store(db: Session, session_id: str, count: int, chained: bool) -> float:
    """One change's commit work for `count` message events; returns the chain's own seconds."""
    now = datetime.now(UTC)
    first = repo.allocate_sequence(db, session_id)
    rows = []
    for sequence in range(first, first + count):
        message = pb.ChatMessage(message_id=uuid.uuid4().hex, session_id=session_id, sender_id="bench", text=TEXT)
        message.create_time.FromDatetime(now)
        payload = pb.Event(session_id=session_id, sequence=sequence, message_posted=message).SerializeToString()
        rows.append(dict(session_id=session_id, sequence=sequence, everyone=True, instructors=False, party_a=None,
                         party_b=None, payload=payload, created_at=now))
    if count > 1:
        repo.set_last_sequence(db, session_id, first + count - 1)
    started = time.perf_counter()
    if chained:
        chain.chain_rows(db, session_id, rows)
    spent = time.perf_counter() - started
    repo.insert_events(db, rows)
    return spent


async def _bench(url: str, batches: list[int], transactions: int) -> dict:
    database = Database(url)
    await database.migrate()
    sessions = {chained: f"bench-chain-{'on' if chained else 'off'}-{uuid.uuid4().hex[:8]}" for chained in (False, True)}
    try:
        now = datetime.now(UTC)
        for session_id in sessions.values():
            await database.transaction(functools.partial(repo.ensure_session, session_id=session_id, now=now))
        rows = []
        for count in batches:
            took: dict[bool, list[float]] = {False: [], True: []}
            chain_times: list[float] = []
            for _ in range(transactions):
                for chained, session_id in sessions.items():
                    started = time.perf_counter()
                    spent = await database.transaction(functools.partial(_store, session_id=session_id, count=count, chained=chained))
                    took[chained].append(time.perf_counter() - started)
                    if chained:
                        chain_times.append(spent)
            rows.append({"events": count, "without_ms": _quantiles(took[False]), "with_ms": _quantiles(took[True]),
                         "chain_ms": _quantiles(chain_times)})
        intact = await database.read(lambda db: _intact(db, sessions[True]))
        return {"rows": rows, "chain_intact": intact}
    finally:  # a database given by --database-url keeps nothing of the run
        def forget(db: Session) -> None:
            for table in (table_of(EventRecord), table_of(ChatSession)):
                key = table.c.session_id if table.name == "events" else table.c.id
                db.connection().execute(delete(table).where(key.in_(list(sessions.values()))))

        await database.transaction(forget)
        await database.close()


def _intact(db: Session, session_id: str) -> bool:
    """Whether the chained session's stored hashes recompute (what the measured work wrote is a chain)."""
    events = table_of(EventRecord).c
    previous = chain.GENESIS
    statement = select(events.payload, events.chain_hash).where(events.session_id == session_id).order_by(events.sequence)
    for payload, chain_hash in db.connection().execute(statement):
        previous = chain.link(previous, chain.event_digest(bytes(payload)))
        if chain_hash != previous:
            return False
    return previous != chain.GENESIS


def _quantiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"p50": round(ordered[len(ordered) // 2] * 1000, 3), "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3)}


def _pair(quantiles: dict[str, float]) -> str:
    return f"{quantiles['p50']:.2f} / {quantiles['p99']:.2f}"
