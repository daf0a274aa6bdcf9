"""The Redis connections of one process: one bounded pool that every Redis user shares.

Fan-out publishing, presence, typing and rate limits all borrow connections
from one `BlockingConnectionPool`. redis-py's default asyncio pool refuses a
command outright ("Too many connections") once 100 are busy, and a burst of
150 joins and leaves hit that: presence writes were lost and users stayed
listed online. A blocking pool makes a burst wait for a free connection
(up to `redis_wait_seconds`) instead, and bounds what one process takes from
Redis's `maxclients`. Only the pub/sub listener has a connection of its own:
it holds it for ever and must never time out while the channel is quiet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from chatsvc.errors import StartupError

log = logging.getLogger(__name__)

# A command gives up after this long (the callers fall back: the database
# for events, this process for presence and typing, no limit for rates).
COMMAND_TIMEOUT_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 0.5


def _one_retry() -> Retry:
    # One immediate retry: a pooled connection that died with a Redis restart
    # is replaced at once. redis-py's default (10 retries, backoff up to 1 s)
    # made every command during an outage take seconds.
    return Retry(NoBackoff(), 1)


def shared_client(url: str, *, max_connections: int, wait_seconds: float) -> redis.Redis:
    """The process's client: at most `max_connections`, waiting up to `wait_seconds` for one."""
    try:
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=wait_seconds,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            socket_timeout=COMMAND_TIMEOUT_SECONDS,
            retry=_one_retry(),
        )
    except ValueError as error:  # not a Redis URL
        raise StartupError(f"--redis-url {url!r} is not usable: {error}") from None
    return redis.Redis(connection_pool=pool)


def listener_client(url: str) -> redis.Redis:
    """A client for the pub/sub listener: no read timeout, keepalive to notice a dead peer."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_keepalive=True,
        health_check_interval=10,
        retry=_one_retry(),
    )


async def check_reachable(client: redis.Redis, url: str) -> None:
    """StartupError, with the reason on one line, when Redis does not answer a PING."""
    try:
        await client.ping()
    except (redis.RedisError, OSError) as error:
        raise StartupError(f"cannot reach Redis at {url}: {error}") from None


# How long closing waits for a Redis adapter's tasks and connections; a Redis that came back
# mid-command can leave a read that ignores cancellation, and a stopping server must not hang on it.
CLOSE_TIMEOUT_SECONDS = 3.0


async def close_within(what: str, tasks: list[asyncio.Task], *closing: Awaitable[object]) -> None:
    """Cancel `tasks` and await them and `closing`, giving up (with a warning) after CLOSE_TIMEOUT_SECONDS."""
    for task in tasks:
        task.cancel()
    try:
        await asyncio.wait_for(asyncio.gather(*tasks, *closing, return_exceptions=True), CLOSE_TIMEOUT_SECONDS)
    except TimeoutError:
        log.warning("%s did not close within %.0f s; going on without it", what, CLOSE_TIMEOUT_SECONDS)
