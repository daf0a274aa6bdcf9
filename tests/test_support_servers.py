"""The throwaway servers are real: clients talk to them, and they go away."""

from __future__ import annotations

import secrets

import psycopg
import pytest
import redis.asyncio as aioredis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.servers import ThrowawayPostgres, ThrowawayRedis


def libpq_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def test_redis_answers() -> None:
    with ThrowawayRedis() as server:
        client = aioredis.from_url(server.url)
        try:
            # A unique key: the server may be shared, so nothing is flushed.
            key = f"chatsvc-test:{secrets.token_hex(4)}"
            assert await client.ping()
            await client.set(key, "hello", ex=60)
            assert await client.get(key) == b"hello"
            await client.delete(key)
        finally:
            await client.aclose()


async def test_redis_restarts_on_the_same_port() -> None:
    with ThrowawayRedis(force_local=True) as server:
        assert server.can_restart
        url = server.url
        client = aioredis.from_url(url)
        try:
            assert await client.ping()
            server.stop()
            with pytest.raises(aioredis.ConnectionError):
                await client.ping()
            server.start()
            assert server.url == url
            assert await client.ping()  # the same client reconnects on its own
        finally:
            await client.aclose()
    assert not server.running


async def test_postgres_new_database() -> None:
    with ThrowawayPostgres() as server:
        url = server.new_database()
        assert url.startswith("postgresql+psycopg://")
        with psycopg.connect(libpq_dsn(url)) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
            name, tables = connection.execute(
                "SELECT current_database(), (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')"
            ).fetchone()
            assert (name, tables) == (make_url(url).database, 0)
        # The URL is one SQLAlchemy's psycopg dialect accepts as is.
        engine = create_engine(server.url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        engine.dispose()
    # stop() dropped the database (or stopped the whole private server).
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(libpq_dsn(url), connect_timeout=5)
