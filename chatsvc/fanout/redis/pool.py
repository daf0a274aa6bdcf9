"""The Redis connections of one process: one bounded pool that every Redis user shares.

Fan-out publishing, presence, typing and rate limits all borrow connections
from one `BlockingConnectionPool`. redis-py's default asyncio pool refuses a
command outright ("Too many connections") once 100 are busy, and a burst of
150 joins and leaves hit that: presence writes were lost and users stayed
listed online. A blocking pool makes a burst wait for a free connection
(up to `redis_wait_seconds`) instead, and bounds what one process takes from
Redis's `maxclients`. Only the pub/sub listener has a connection of its own:
it holds it for ever and must never time out while the channel is quiet.

A Redis Cluster is named by the scheme `redis+cluster://` (or
`rediss+cluster://`) on any of its nodes: the process then uses redis-py's
cluster client, which finds the other nodes and routes each key to its slot's
master, and the listener follows each master on a connection of its own
(`chatsvc.fanout.redis.listener`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException, RedisError

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


# What a Redis command may raise when Redis is away, busy or moving slots (the cluster client's
# own errors are not RedisErrors).
REDIS_FAILURES = (RedisError, RedisClusterException, OSError)

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

# What the Redis adapters take: a single node's client or a cluster's (the same commands).
Client = redis.Redis | RedisCluster


def settle_seconds(client: Client) -> float:
    """How long a Redis adapter's commands must not fail before its outage counts as over: on a
    cluster, commands to the masters still up succeed while one is away (see `Outage`)."""
    return 1.0 if isinstance(client, RedisCluster) else 0.0


def session_key(prefix: str, session_id: str, rest: str = "") -> str:
    """A key of a session's: the session id as its hash tag, so that on a cluster every key of
    one session (presence, typing, rate limits) and its event channel share one slot."""
    return f"{prefix}{{{session_id}}}{rest}"


def is_cluster_url(url: str) -> bool:
    return url.partition("://")[0] in CLUSTER_SCHEMES


def node_url(url: str, node: tuple[str, int] | None = None) -> str:
    """The URL as redis-py spells it (`redis+cluster://h:p` names the node `redis://h:p`);
    with `node` (host, port), that node's, with the URL's other settings (credentials, TLS)."""
    scheme, separator, rest = url.partition("://")
    url = CLUSTER_SCHEMES.get(scheme, scheme) + separator + rest
    if node is not None:
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        host = f"[{node[0]}]" if ":" in node[0] else node[0]
        url = urlunsplit(parts._replace(netloc=f"{credentials}{'@' if credentials else ''}{host}:{node[1]}"))
    return url


class BoundedRedisCluster(RedisCluster):
    """redis-py's cluster client with at most `max_connections` commands in flight, a command
    waiting up to `wait_seconds` for its turn: the cluster client's own limit (per node) refuses
    at once ("MaxConnectionsError"), which lost presence writes in a join storm of 3,000."""

    def __init__(self, *args, wait_seconds: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._turns = asyncio.Semaphore(kwargs["max_connections"])
        self._wait_seconds = wait_seconds

    async def execute_command(self, *args, **kwargs):
        try:
            await asyncio.wait_for(self._turns.acquire(), self._wait_seconds)
        except TimeoutError:
            raise redis.ConnectionError(f"no free Redis connection within {self._wait_seconds:g} s") from None
        try:
            return await super().execute_command(*args, **kwargs)
        finally:
            self._turns.release()


def shared_client(url: str, *, max_connections: int, wait_seconds: float) -> Client:
    """The process's client: at most `max_connections` (for a cluster: commands in flight),
    waiting up to `wait_seconds` for one."""
    if is_cluster_url(url):
        try:
            return BoundedRedisCluster.from_url(
                node_url(url),
                wait_seconds=wait_seconds,
                max_connections=max_connections,
                require_full_coverage=False,  # one master down leaves the others' sessions served
                socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                socket_timeout=COMMAND_TIMEOUT_SECONDS,
                retry=_one_retry(),
            )
        except (ValueError, *REDIS_FAILURES) as error:
            raise StartupError(f"--redis-url {url!r} is not usable: {error}") from None
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


def listener_client(url: str, node: tuple[str, int] | None = None) -> redis.Redis:
    """A client for a pub/sub listener: no read timeout, keepalive to notice a dead peer.
    `node` (host, port) is a cluster's master, reached with the URL's other settings."""
    return redis.Redis.from_url(
        node_url(url, node),
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_keepalive=True,
        health_check_interval=10,
        retry=_one_retry(),
    )


async def check_reachable(client: Client, url: str) -> None:
    """StartupError, with the reason on one line, when Redis does not answer a PING, or is a
    cluster named as a single node (or the other way round)."""
    try:
        if isinstance(client, RedisCluster):
            await client.initialize()  # asks the node for the cluster's slots and masters
            return
        await client.ping()
        info = await client.info("cluster")
    except REDIS_FAILURES as error:
        if is_cluster_url(url) and "Cluster mode is not enabled" in str(error):
            raise StartupError(f"Redis at {url} is not a cluster: name a single node redis://host:port") from None
        raise StartupError(f"cannot reach Redis at {url}: {error}") from None
    if info.get("cluster_enabled"):
        scheme, _, rest = url.partition("://")
        suggested = f"{scheme}+cluster://{rest.rpartition('/')[0] if rest.count('/') else rest}"
        raise StartupError(f"Redis at {url} is a node of a Redis Cluster: name it {suggested}") from None


async def close_client(client: Client) -> None:
    """Close the process's shared client and its connections."""
    if isinstance(client, RedisCluster):
        await client.aclose()
    else:
        await client.aclose(close_connection_pool=True)


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
