"""The `Fanout` seam: where a committed event goes to reach every subscriber, in this process
(`LocalFanout`) or in every process (`RedisFanout`)."""

from __future__ import annotations

from typing import Protocol

from chatsvc.fanout.hub import Hub, StoredEvent, Subscriber


class Fanout(Protocol):
    """Delivers committed events to subscribers; `hub` holds this process's subscribers."""

    hub: Hub

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, event: StoredEvent) -> None: ...

    async def add(self, subscriber: Subscriber) -> None: ...

    def remove(self, subscriber: Subscriber) -> None: ...
