"""A second server never silently shares the work: not on one port, not on one database without Redis."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from chatsvc.config import StartupError
from chatsvc.storage.database import Database
from chatsvc.storage.lease import database_now
from chatsvc.storage.tables import ProcessLease
from chatsvc.transport.server import ChatServer
from tests.helpers import CHATSVC, SECRET, Client, ServerProcess, server_env
from tests.support.streams import SESSION

BOTH_BACKENDS = True
# Polls for a lease to expire or advance give up after this long.
DEADLINE = 15.0


async def refused_serve(cwd, *args: str, **env: str) -> tuple[int, str]:
    """Run `chatsvc serve` that is expected to refuse: its exit code and stderr."""
    process = await asyncio.create_subprocess_exec(
        *CHATSVC, "serve", *args, cwd=cwd, env=server_env(CHATSVC_JWT_SECRET=SECRET, **env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError("the second chatsvc serve did not refuse to start") from None
    return process.returncode, stderr.decode()


async def still_serves(server: ChatServer, text: str) -> None:
    client = Client(f"127.0.0.1:{server.port}", "alice", "instructor")
    assert (await client.send(SESSION, text)).text == text
    await client.close()


async def test_a_second_server_on_the_same_address_exits_with_code_2_naming_it_and_the_first_keeps_serving(server, tmp_path):
    address = f"127.0.0.1:{server.port}"
    code, stderr = await refused_serve(tmp_path, "--listen", address)  # its own database: only the port is shared
    assert code == 2, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert address in stderr and "already in use" in stderr
    await still_serves(server, "still here")


async def test_a_second_server_on_the_same_database_without_redis_refuses_naming_the_first(server, settings, tmp_path):
    code, stderr = await refused_serve(tmp_path, "--listen", "127.0.0.1:0", CHATSVC_DATABASE_URL=settings.database_url)
    assert code == 2, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    first = f"another chatsvc process (pid {os.getpid()}, host {socket.gethostname()})"
    assert f"{first} serves this database without Redis" in stderr
    assert "set CHATSVC_REDIS_URL to run several, or stop it" in stderr
    await still_serves(server, "still the only one")


async def test_a_server_with_redis_does_not_join_one_without_it(server, settings, tmp_path, redis_server):
    code, stderr = await refused_serve(
        tmp_path, "--listen", "127.0.0.1:0", CHATSVC_DATABASE_URL=settings.database_url, CHATSVC_REDIS_URL=redis_server.url
    )
    assert code == 2, stderr
    assert "serves this database without Redis" in stderr


def lease_settings(settings, *, seconds: float, renew: float):
    settings.lease_seconds = seconds
    settings.lease_renew_seconds = renew
    return settings


async def lease_expiry(server: ChatServer):
    def read(db):
        return db.execute(select(ProcessLease.expires_at).where(ProcessLease.owner == server.lease.owner)).scalar_one()

    return await server.database.read(read)


async def test_a_running_server_renews_its_lease_so_it_never_lapses(settings, tmp_path):
    first = ChatServer(lease_settings(settings, seconds=1, renew=0.1))
    await first.start()
    try:
        initial = await lease_expiry(first)
        deadline = time.monotonic() + DEADLINE
        while (await lease_expiry(first)).timestamp() < initial.timestamp() + 1.5:  # renewed past its first expiry
            assert time.monotonic() < deadline, "the lease was not renewed"
            await asyncio.sleep(0.05)
        second = ChatServer(lease_settings(settings, seconds=1, renew=0.1))
        with pytest.raises(StartupError, match="serves this database without Redis"):
            await second.start()
        await still_serves(first, "renewed")
    finally:
        await first.stop(grace=1)


async def test_a_clean_stop_releases_the_lease_at_once(settings):
    first = ChatServer(lease_settings(settings, seconds=600, renew=60))
    await first.start()
    await first.stop(grace=1)
    second = ChatServer(settings)
    await second.start()  # no wait for the 10 minutes
    await still_serves(second, "taken over")
    await second.stop(grace=1)


async def test_a_crashed_servers_lease_is_taken_over_once_it_expires(settings, tmp_path):
    env = server_env(
        CHATSVC_DATABASE_URL=settings.database_url, CHATSVC_JWT_SECRET=SECRET,
        CHATSVC_LEASE_SECONDS="2", CHATSVC_LEASE_RENEW_SECONDS="0.2",
    )
    crashed = await ServerProcess.start(tmp_path, env)
    pid = crashed.process.pid
    await crashed.kill()  # SIGKILL: no chance to release the lease

    lease_settings(settings, seconds=2, renew=0.2)
    with pytest.raises(StartupError, match=f"pid {pid},"):
        await ChatServer(settings).start()
    deadline = time.monotonic() + DEADLINE
    while True:
        successor = ChatServer(settings)
        try:
            await successor.start()
            break
        except StartupError:
            assert time.monotonic() < deadline, "the expired lease was never taken over"
            await asyncio.sleep(0.1)
    await still_serves(successor, "taken over after the crash")
    await successor.stop(grace=1)


async def test_a_server_that_lost_its_lease_to_another_process_stops_instead_of_splitting_the_session(settings, tmp_path):
    env = server_env(
        CHATSVC_DATABASE_URL=settings.database_url, CHATSVC_JWT_SECRET=SECRET,
        CHATSVC_LEASE_SECONDS="1", CHATSVC_LEASE_RENEW_SECONDS="0.1",
    )
    stalled = await ServerProcess.start(tmp_path, env)

    def taken_over(db) -> None:
        # What the database holds when this process stalled past its expiry and another one started.
        db.execute(delete(ProcessLease))
        expires = database_now(db) + timedelta(minutes=5)
        db.add(ProcessLease(owner="b" * 32, pid=4242, host="elsewhere", shared=False, expires_at=expires))

    database = Database(settings.database_url)
    await database.transaction(taken_over)
    await database.close()
    output, _ = await asyncio.wait_for(stalled.process.communicate(), DEADLINE)
    assert stalled.process.returncode == 1
    assert "stopping: another chatsvc process (pid 4242, host elsewhere) serves this database without Redis" in output.decode()
