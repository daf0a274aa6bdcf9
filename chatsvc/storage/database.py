"""The engine, transactions and schema migrations (Alembic) for SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        # A busy timeout: another process (chatsvc migrate, say) may hold the lock briefly.
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


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
    """Sessions, plus the write lock that keeps each session's events in order.

    SQLite allows one writer at a time, so every write takes one lock. On
    PostgreSQL writes of different sessions run in parallel; within a session
    the sequence row lock orders them, and the per-session lock here keeps this
    process from publishing them out of order.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._sessionmaker = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._global_lock = asyncio.Lock()
        self._session_locks: dict[str, asyncio.Lock] = {}

    async def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to `revision` (idempotent; keeps every row)."""

        def upgrade(sync_connection) -> None:
            config = alembic_config()
            config.attributes["connection"] = sync_connection
            command.upgrade(config, revision)

        async with self.engine.begin() as connection:
            await connection.run_sync(upgrade)

    async def close(self) -> None:
        await self.engine.dispose()

    def lock(self, session_id: str) -> asyncio.Lock:
        if self.is_sqlite:
            return self._global_lock
        lock = self._session_locks.get(session_id)
        if lock is None:
            lock = self._session_locks[session_id] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._sessionmaker() as db:
            yield db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Commits on success, rolls back on any exception."""
        async with self._sessionmaker() as db:
            async with db.begin():
                yield db

    @asynccontextmanager
    async def snapshot_read(self) -> AsyncIterator[AsyncSession]:
        """A read that sees one consistent state across several queries."""
        async with self._sessionmaker() as db:
            if not self.is_sqlite:
                # Starts the transaction; it ends (rolled back: nothing was written) on close.
                await db.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield db
