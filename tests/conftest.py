"""Fixtures: a real grpc.aio server on a free loopback port, and real clients."""

from __future__ import annotations

import pytest

from chatsvc.clock import SystemClock
from chatsvc.config import Settings
from chatsvc.transport.server import ChatServer
from tests.helpers import SECRET, Client
from tests.support.servers import ThrowawayPostgres, ThrowawayRedis


def pytest_generate_tests(metafunc):
    """Modules with `BOTH_BACKENDS = True` run each test on SQLite and on PostgreSQL."""
    if "backend" in metafunc.fixturenames and getattr(metafunc.module, "BOTH_BACKENDS", False):
        metafunc.parametrize("backend", ["sqlite", "postgresql"])


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def settings(tmp_path, backend, request) -> Settings:
    """A server on a free port: the embedded default (SQLite in a temporary directory) or PostgreSQL."""
    if backend == "postgresql":
        database_url = request.getfixturevalue("postgres_url")
    else:
        database_url = f"sqlite:///{tmp_path / 'chat.db'}"
    # A short presence grace: tests that watch a user leave do not wait the default 3 s.
    return Settings(listen="127.0.0.1:0", database_url=database_url, jwt_secret=SECRET, presence_grace_seconds=0.05)


@pytest.fixture
def clock():
    """The server's clock; a test module may override this with a FakeClock."""
    return SystemClock()


@pytest.fixture
async def server(settings, clock):
    chat_server = ChatServer(settings, clock=clock)
    await chat_server.start()
    yield chat_server
    await chat_server.stop(grace=1)


@pytest.fixture
async def connect(server):
    """connect(user_id, role=..., sessions=[...]) -> a Client of the running server."""
    clients: list[Client] = []

    def make(user_id: str, role: str = "participant", **options) -> Client:
        client = Client(f"127.0.0.1:{server.port}", user_id, role, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
def alice(connect) -> Client:
    """The instructor."""
    return connect("alice", "instructor", name="Alice")


@pytest.fixture
def bob(connect) -> Client:
    return connect("bob", name="Bob")


@pytest.fixture
def carol(connect) -> Client:
    return connect("carol", name="Carol")


@pytest.fixture(scope="session")
def redis_server():
    """A real Redis: CHATSVC_TEST_REDIS_URL when set, else a throwaway one."""
    with ThrowawayRedis() as redis_server:
        yield redis_server


@pytest.fixture
def restartable_redis():
    """A private Redis that a test may stop and start (the shared one never stops)."""
    with ThrowawayRedis(force_local=True) as redis_server:
        yield redis_server


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL: CHATSVC_TEST_DATABASE_URL when set, else a throwaway one."""
    with ThrowawayPostgres() as postgres_server:
        yield postgres_server


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty database for one test."""
    return postgres_server.new_database()
