"""The engine, transactions and schema migrations (Alembic) for SQLite or PostgreSQL.

SQL runs on a few dedicated threads, never on the event loop. A unit of work
(a whole transaction, or a read of several queries) is a plain function
handed over once: its statements then run back to back on one connection,
instead of each statement hopping between the loop and a driver thread as an
asyncio driver does (that hopping cost a message ~13 ms of CPU; see README
"Benchmark").
"""

from __future__ import annotations

import asyncio
import errno
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlmodel import Session

from chatsvc.config import sync_database_url
from chatsvc.metrics import DATABASE_DURATION, DATABASE_WAIT

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# Threads that run SQL (settings.database_threads). Writes of one session are ordered by the
# session lock; reads (history, exports, joins) and, on PostgreSQL, other sessions' writes run beside them.
# More is slower here: each thread's round trips give up the GIL and wait to take it back behind the
# event loop and the other threads (100 sessions joining on PostgreSQL: 4.9-6.0 s with 4, 8.9-9.0 s with 8).
DATABASE_THREADS = 4

T = TypeVar("T")

# How long each kind of unit of work held its connection (commit or rollback included).
_READ_DURATION = DATABASE_DURATION.labels("read")
_TRANSACTION_DURATION = DATABASE_DURATION.labels("transaction")
_SNAPSHOT_READ_DURATION = DATABASE_DURATION.labels("snapshot_read")


def make_engine(url: str, threads: int = DATABASE_THREADS) -> Engine:
    url = sync_database_url(url)
    if url.startswith("sqlite"):
        # A busy timeout: another process (chatsvc migrate, say) may hold the lock briefly.
        # Connections move between the database threads, never used by two at once.
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=threads, max_overflow=0
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=threads, max_overflow=4, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


class Database:
    """Units of work on the database threads, plus the write lock that keeps each session's events in order.

    SQLite allows one writer at a time, so every write takes one lock. On
    PostgreSQL writes of different sessions run in parallel; within a session
    the sequence row lock orders them, and the per-session lock here keeps this
    process from publishing them out of order.
    """

    def __init__(self, url: str, threads: int = DATABASE_THREADS) -> None:
        self.url = url
        self.engine = make_engine(url, threads)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="chatsvc-db")
        self._global_lock = asyncio.Lock()
        self._session_locks: dict[str, asyncio.Lock] = {}

    async def migrate(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Upgrade the schema to `revision` (idempotent; keeps every row).

        Returns the schema's revision before and after: (None, the newest revision) for a new database."""

        def upgrade() -> tuple[str | None, str | None]:
            with self.engine.begin() as connection:
                before = MigrationContext.configure(connection).get_current_revision()
                config = alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                return before, MigrationContext.configure(connection).get_current_revision()

        return await self._on_thread(upgrade)

    async def close(self) -> None:
        await self._on_thread(self.engine.dispose)
        self._threads.shutdown(wait=False)

    def lock(self, session_id: str) -> asyncio.Lock:
        if self.is_sqlite:
            return self._global_lock
        lock = self._session_locks.get(session_id)
        if lock is None:
            lock = self._session_locks[session_id] = asyncio.Lock()
        return lock

    async def read(self, work: Callable[[Session], T]) -> T:
        """Run `work(db)` on a database thread and return its result; nothing it writes is kept."""
        return await self._on_thread(self._read, work)

    async def transaction(self, work: Callable[[Session], T]) -> T:
        """Run `work(db)` in one transaction: committed when it returns, rolled back if it raises."""
        return await self._on_thread(self._transaction, work)

    async def snapshot_read(self, work: Callable[[Session], T]) -> T:
        """Like `read`, with every query of `work` seeing one consistent state."""
        return await self._on_thread(self._snapshot_read, work)

    # The same three, on the calling (database) thread.

    def _read(self, work: Callable[[Session], T]) -> T:
        with _READ_DURATION.time(), Session(self.engine, expire_on_commit=False) as db:
            return work(db)

    def _transaction(self, work: Callable[[Session], T]) -> T:
        with _TRANSACTION_DURATION.time(), Session(self.engine, expire_on_commit=False) as db, db.begin():
            return work(db)

    def _snapshot_read(self, work: Callable[[Session], T]) -> T:
        with _SNAPSHOT_READ_DURATION.time(), Session(self.engine, expire_on_commit=False) as db:
            if not self.is_sqlite:
                # Starts the transaction; it ends (rolled back: nothing was written) on close.
                db.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            return work(db)

    async def _on_thread(self, function: Callable[..., T], *args) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, functools.partial(_waited, time.perf_counter(), function, *args))


def _waited(queued: float, function: Callable[..., T], *args) -> T:
    """On a database thread: record how long the work waited for it, then run it."""
    DATABASE_WAIT.observe(time.perf_counter() - queued)
    return function(*args)


def storage_unavailable(error: BaseException) -> bool:
    """Whether an error means the database cannot be written now (connection lost or refused,
    disk full, I/O error, locked) rather than that this request is wrong: waiting may help."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EIO, errno.EDQUOT)
