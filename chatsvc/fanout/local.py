"""The embedded fan-out: events go straight to this process's hub."""

from __future__ import annotations

from chatsvc.fanout.hub import Hub, StoredEvent, Subscriber
from chatsvc.metrics import EVENTS_PUBLISHED


class LocalFanout:
    def __init__(self, hub: Hub | None = None) -> None:
        self.hub = hub or Hub()

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def publish(self, event: StoredEvent) -> None:
        EVENTS_PUBLISHED.inc()
        self.hub.deliver(event)

    async def add(self, subscriber: Subscriber) -> None:
        self.hub.add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        self.hub.remove(subscriber)
