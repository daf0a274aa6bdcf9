"""Receiving Redis pub/sub channels: one connection to a single node, or one per master of a cluster.

`NodeListener` holds one node's pub/sub connection: it subscribes to the
channels wanted there (SUBSCRIBE, or sharded SSUBSCRIBE on a cluster's
master), has Redis confirm each new one, and after a lost connection
reconnects with backoff and subscribes to all of them again.
`ClusterListener` routes each channel to the master that owns its hash slot,
one `NodeListener` per master, and moves channels when the slots move (a
MOVED reply, a slot migrated away, a failover found by refreshing the
cluster's topology). Both say when receiving stopped and started again: the
caller fills what it missed from the database.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

import redis.asyncio as redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import AskError, MovedError

from chatsvc.fanout.redis.pool import REDIS_FAILURES, Client, close_within, listener_client

log = logging.getLogger(__name__)

# Subscribed to always on a single node, so that its connection stays in pub/sub mode with no session followed.
IDLE_CHANNEL = "chatsvc:idle"
# How long following a channel waits for Redis to confirm it; past it, the caller's gap check covers.
SUBSCRIBE_TIMEOUT = 2.0
RETRY_FIRST_SECONDS = 0.1
RETRY_CAP_SECONDS = 2.0

OnMessage = Callable[[str, bytes], None]
OnDown = Callable[[BaseException], None]
OnUp = Callable[[], None]


async def _quietly(command) -> None:
    try:
        await command
    except REDIS_FAILURES:
        pass  # the listener reconnects and subscribes only to the channels still wanted


class NodeListener:
    """One node's pub/sub connection and the channels wanted on it."""

    def __init__(
        self, client: redis.Redis, *, sharded: bool, on_message: OnMessage, on_down: OnDown, on_up: OnUp, on_moved: Callable[[], None] | None = None
    ) -> None:
        self.channels: set[str] = set()
        self.failing = False
        self._client = client  # this listener's own: it waits for messages indefinitely
        self._sharded = sharded
        self._on_message = on_message
        self._on_down = on_down
        self._on_up = on_up
        self._on_moved = on_moved or (lambda: None)
        self._pubsub: PubSub | None = None  # the current connection, once subscribed
        self._confirmations: dict[str, asyncio.Future] = {}  # channel -> confirmed by Redis
        self._unsubscribing: dict[str, asyncio.Future] = {}  # sent before a new subscription of the same channel
        self._wanted = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        await close_within("a Redis listener", [self._task] if self._task else [], self._client.aclose())

    async def follow(self, channel: str) -> None:
        """Subscribe, and wait (a bounded time) for Redis to confirm it."""
        self.channels.add(channel)
        unsubscribing = self._unsubscribing.get(channel)
        if unsubscribing is not None:
            await unsubscribing  # its UNSUBSCRIBE goes first, so it cannot undo this SUBSCRIBE
        pubsub = self._pubsub
        if pubsub is None and self.failing:
            return  # Redis is away: subscribed when it is back, the gap check covers meanwhile
        confirmed = self._confirmations.get(channel)
        if confirmed is None or confirmed.done():
            confirmed = self._confirmations[channel] = asyncio.get_running_loop().create_future()
        try:
            if pubsub is None:
                self._wanted.set()  # connecting: the loop subscribes to every wanted channel
            else:
                await (pubsub.ssubscribe if self._sharded else pubsub.subscribe)(channel)
            await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBE_TIMEOUT)
        except (*REDIS_FAILURES, TimeoutError) as error:
            log.debug("subscribing to %s was not confirmed (%s); the gap check covers it", channel, error)

    def unfollow(self, channel: str) -> None:
        self.channels.discard(channel)
        pubsub = self._pubsub
        if pubsub is not None:
            task = asyncio.ensure_future(_quietly((pubsub.sunsubscribe if self._sharded else pubsub.unsubscribe)(channel)))
            self._unsubscribing[channel] = task
            task.add_done_callback(functools.partial(self._unsubscribed, channel))

    def _unsubscribed(self, channel: str, task: asyncio.Future) -> None:
        if self._unsubscribing.get(channel) is task:
            del self._unsubscribing[channel]

    async def _run(self) -> None:
        delay = RETRY_FIRST_SECONDS
        while True:
            if self._sharded and not self.channels:
                # A master with none of our channels: no connection until one is wanted.
                self._wanted.clear()
                await self._wanted.wait()
                continue
            pubsub = self._client.pubsub(ignore_subscribe_messages=False)
            try:
                await self._subscribe_all(pubsub)
                self._pubsub = pubsub
                if self.failing:
                    self.failing = False
                    self._on_up()
                delay = RETRY_FIRST_SECONDS
                async for message in pubsub.listen():
                    self._handle(message)
                self._pubsub = None  # every sharded channel unsubscribed: the connection left pub/sub mode
                await pubsub.aclose()
            except asyncio.CancelledError:
                self._pubsub = None
                await pubsub.aclose()
                raise
            except (MovedError, AskError) as error:  # a slot has a new master
                self._pubsub = None
                await pubsub.aclose()
                log.info("a Redis node answered %s; finding where its channels went", error)
                self._on_moved()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP_SECONDS)
            except REDIS_FAILURES as error:
                self._pubsub = None
                await pubsub.aclose()
                if not self.failing:
                    self.failing = True
                    self._on_down(error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP_SECONDS)

    async def _subscribe_all(self, pubsub: PubSub) -> None:
        """Subscribe to every wanted channel, including those wanted while this ran (until the
        connection is published as `_pubsub`, a new `follow` leaves its channel to this)."""
        if not self._sharded:
            await pubsub.subscribe(IDLE_CHANNEL)
        subscribed: set[str] = set()
        while missing := self.channels - subscribed:
            for channel in sorted(missing):
                # One SSUBSCRIBE per channel: a batch would be refused (CROSSSLOT) when the slots differ.
                await (pubsub.ssubscribe if self._sharded else pubsub.subscribe)(channel)
                subscribed.add(channel)

    def _handle(self, message: dict) -> None:
        kind = message["type"]
        if kind in ("message", "smessage"):
            self._on_message(message["channel"].decode(), message["data"])
        elif kind in ("subscribe", "ssubscribe"):
            confirmed = self._confirmations.pop(message["channel"].decode(), None)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
        elif kind == "sunsubscribe":
            channel = message["channel"].decode()
            if channel in self.channels and channel not in self._unsubscribing:
                # Not ours: Redis moved the channel's slot to another master.
                log.info("Redis moved %s to another node", channel)
                self._on_moved()


class SingleNodeListener:
    """All channels on one node's connection (plain SUBSCRIBE)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._node: NodeListener | None = None

    def start(self, on_message: OnMessage, on_down: OnDown, on_up: OnUp) -> None:
        self._node = NodeListener(self._client, sharded=False, on_message=on_message, on_down=on_down, on_up=on_up)
        self._node.start()

    async def close(self) -> None:
        if self._node is not None:
            await self._node.close()
        else:
            await close_within("the Redis listener connection", [], self._client.aclose())

    async def follow(self, channel: str) -> None:
        assert self._node is not None
        await self._node.follow(channel)

    def unfollow(self, channel: str) -> None:
        assert self._node is not None
        self._node.unfollow(channel)


class ClusterListener:
    """Each channel on the connection to its slot's master (sharded SSUBSCRIBE)."""

    def __init__(self, cluster: RedisCluster, node_client: Callable[[str, int], redis.Redis], *, recheck_seconds: float = 1.0) -> None:
        self._cluster = cluster  # the process's shared cluster client: its topology says who owns a slot
        self._node_client = node_client
        self._recheck_seconds = recheck_seconds
        self._nodes: dict[str, NodeListener] = {}  # master's name (host:port) -> its listener
        self._owner: dict[str, str] = {}  # channel -> the master it is followed on
        self._unsettled = asyncio.Event()  # the topology may have changed
        self._task: asyncio.Task | None = None
        self._on_message: OnMessage = lambda channel, data: None
        self._on_down: OnDown = lambda error: None
        self._on_up: OnUp = lambda: None
        self.failing = False

    def start(self, on_message: OnMessage, on_down: OnDown, on_up: OnUp) -> None:
        self._on_message, self._on_down, self._on_up = on_message, on_down, on_up
        self._task = asyncio.create_task(self._settle())

    async def close(self) -> None:
        await close_within("the Redis cluster listener", [self._task] if self._task else [])
        for node in list(self._nodes.values()):
            await node.close()

    def _master(self, channel: str) -> str:
        """The name of the master that owns the channel's slot; "" when none does right now."""
        try:
            node = self._cluster.get_node_from_key(channel)
        except REDIS_FAILURES:
            return ""
        return node.name if node is not None else ""

    async def follow(self, channel: str) -> None:
        name = self._owner[channel] = self._master(channel)
        if not name:
            log.debug("no master for %s yet; the gap check covers it", channel)
            self._unsettled.set()
            return
        await self._listener(name).follow(channel)

    def unfollow(self, channel: str) -> None:
        name = self._owner.pop(channel, None)
        if name:
            self._nodes[name].unfollow(channel)

    def _listener(self, name: str) -> NodeListener:
        node = self._nodes.get(name)
        if node is None:
            host, _, port = name.rpartition(":")
            node = self._nodes[name] = NodeListener(
                self._node_client(host, int(port)),
                sharded=True,
                on_message=self._on_message,
                on_down=self._node_down,
                on_up=self._node_up,
                on_moved=self._unsettled.set,
            )
            node.start()
        return node

    def _node_down(self, error: BaseException) -> None:
        self._unsettled.set()  # a failover may have given its slots to another master
        if not self.failing:
            self.failing = True
            self._on_down(error)

    def _node_up(self) -> None:
        if self.failing and not any(node.failing for node in self._nodes.values()):
            self.failing = False
            self._on_up()

    async def _settle(self) -> None:
        """After a sign that slots moved, ask the cluster where they are and move the channels;
        again every `recheck_seconds` while a master is away."""
        while True:
            await self._unsettled.wait()
            self._unsettled.clear()
            try:
                await self._cluster.nodes_manager.initialize()
                await self._reroute()
            except REDIS_FAILURES as error:
                log.debug("could not refresh the Redis cluster's topology: %s", error)
                self._unsettled.set()
            if self._unsettled.is_set() or any(node.failing for node in self._nodes.values()):
                self._unsettled.set()
                await asyncio.sleep(self._recheck_seconds)

    async def _reroute(self) -> None:
        for channel, name in list(self._owner.items()):
            owner = self._master(channel)
            if not owner:
                self._unsettled.set()
                continue
            if owner != name and self._owner.get(channel) == name:
                if name:
                    self._nodes[name].unfollow(channel)
                self._owner[channel] = owner
                await self._listener(owner).follow(channel)


def listener_for(url: str, client: Client) -> SingleNodeListener | ClusterListener:
    """The listener for a Redis URL: one connection to a single node, or one per master of the
    cluster that `client` (the process's shared one) talks to."""
    if isinstance(client, RedisCluster):
        return ClusterListener(client, lambda host, port: listener_client(url, (host, port)))
    return SingleNodeListener(listener_client(url))
