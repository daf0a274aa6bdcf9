"""The process lease: one server process per database, unless all of them share Redis.

A process without Redis delivers to its streams only the events it commits
itself, so a second process on the same database would silently split every
session between them. Each process therefore keeps a row in
`process_leases`, renewed every `renew_seconds` and valid for
`expiry_seconds`: a clean stop deletes it, a crashed process's row is taken
over once it has expired. Processes with Redis may be many; a process
without Redis must be alone.

Time is the database's own on PostgreSQL (the hosts' clocks may differ) and
this host's on SQLite (a database file is served from one host).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, delete, func, select, text, update
from sqlmodel import Session, col

from chatsvc.storage.database import Database
from chatsvc.storage.tables import ProcessLease

log = logging.getLogger(__name__)


class LeaseRefused(Exception):
    """Another process serves this database in a way this one cannot join; the message says what to do."""


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    shared: bool


def database_now(db: Session) -> datetime:
    if db.get_bind().dialect.name == "postgresql":
        return db.execute(select(func.clock_timestamp())).scalar_one()
    return datetime.now(UTC)


def claim(db: Session, owner: str, pid: int, host: str, shared: bool, expiry: timedelta) -> Holder | None:
    """Take or renew `owner`'s lease in this transaction; the process in the way, if any."""
    if db.get_bind().dialect.name == "postgresql":
        # Two processes claiming at once must not both see an empty table.
        db.execute(text("LOCK TABLE process_leases IN SHARE ROW EXCLUSIVE MODE"))
    now = database_now(db)
    # On SQLite this first write takes the database's write lock, which orders claims.
    db.execute(delete(ProcessLease).where(col(ProcessLease.expires_at) < now))
    others = db.execute(select(ProcessLease).where(col(ProcessLease.owner) != owner)).scalars().all()
    for other in others:
        if not (shared and other.shared):
            return Holder(other.pid, other.host, other.shared)
    db.execute(delete(ProcessLease).where(col(ProcessLease.owner) == owner))
    db.add(ProcessLease(owner=owner, pid=pid, host=host, shared=shared, expires_at=now + expiry))
    return None


def renew(db: Session, owner: str, expiry: timedelta) -> bool:
    """Extend `owner`'s lease; False when it is gone (it expired and was taken or cleared)."""
    now = database_now(db)
    statement = (
        update(ProcessLease)
        .where(col(ProcessLease.owner) == owner, col(ProcessLease.expires_at) >= now)
        .values(expires_at=now + expiry)
    )
    result = cast(CursorResult, db.execute(statement))  # an UPDATE's result has a row count
    return result.rowcount == 1


def release(db: Session, owner: str) -> None:
    db.execute(delete(ProcessLease).where(col(ProcessLease.owner) == owner))


def refusal(holder: Holder, shared: bool) -> str:
    who = f"another chatsvc process (pid {holder.pid}, host {holder.host})"
    if not holder.shared:
        return f"{who} serves this database without Redis; set CHATSVC_REDIS_URL to run several, or stop it"
    return f"{who} serves this database with Redis; set CHATSVC_REDIS_URL here too to run beside it, or stop it"


class ProcessLeaseKeeper:
    """This process's lease: claimed at start, renewed on the database threads, released at stop.

    If renewing fails because the lease was lost (this process stalled past
    its expiry) and another process holds it now, `on_lost` is called with
    the reason: two processes may be serving, and this one must stop.
    """

    def __init__(
        self,
        database: Database,
        *,
        shared: bool,
        expiry_seconds: float,
        renew_seconds: float,
        on_lost: Callable[[str], None],
    ) -> None:
        self.database = database
        self.shared = shared
        self.expiry = timedelta(seconds=expiry_seconds)
        # Renewing less often than the lease lasts would let it lapse between renewals.
        self.renew_seconds = min(renew_seconds, expiry_seconds / 2)
        self.on_lost = on_lost
        self.owner = uuid.uuid4().hex
        self.pid = os.getpid()
        self.host = socket.gethostname()[:255]
        self._keeper: asyncio.Task | None = None
        self._held = False

    async def acquire(self) -> None:
        """Claim the lease or raise LeaseRefused, then keep renewing it."""
        await self._claim()
        self._keeper = asyncio.create_task(self._keep())

    async def _claim(self) -> None:
        holder = await self.database.transaction(
            lambda db: claim(db, self.owner, self.pid, self.host, self.shared, self.expiry)
        )
        if holder is not None:
            raise LeaseRefused(refusal(holder, self.shared))
        self._held = True

    async def _keep(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.renew_seconds)
            try:
                if not await self.database.transaction(lambda db: renew(db, self.owner, self.expiry)):
                    log.warning("this process's database lease had expired; claiming it again")
                    await self._claim()
            except LeaseRefused as refused:
                log.error("lost the database lease: %s", refused)
                self.on_lost(str(refused))
                return
            except Exception as error:  # the database is unreachable: nobody else can claim it either
                if not failing:
                    log.warning("cannot renew the database lease (retrying every %.1f s): %s", self.renew_seconds, error)
                failing = True
                continue
            if failing:
                log.warning("the database lease is renewed again")
                failing = False

    async def release(self) -> None:
        """Stop renewing and delete the lease, so that another process may start at once."""
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
            self._keeper = None
        if not self._held:
            return
        self._held = False
        try:
            await self.database.transaction(lambda db: release(db, self.owner))
        except Exception as error:
            log.warning("could not release the database lease (it expires by itself): %s", error)
