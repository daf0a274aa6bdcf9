"""A live feed a test follows in the background: the events it received, and waiting for what the
test expects of them (a ChatClient's events, a browser's grpc-web Subscribe through Envoy)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine

from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import EVENT_TIMEOUT


class Feed:
    """Runs `receiving` (which calls `received`) until `stop`; subclasses close their client in `close`."""

    def __init__(self, receiving: Callable[[], Coroutine[object, object, None]]) -> None:
        self.events: list[pb.Event] = []
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(receiving())

    def received(self, events) -> None:
        self.events.extend(events)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[list[pb.Event]], object], what: str) -> None:
        async def until() -> None:
            while not predicate(self.events):
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(until(), EVENT_TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; {self.progress()}") from None

    def progress(self) -> str:
        """What the feed got, for a timeout's message."""
        return f"got {[event.WhichOneof('kind') for event in self.events]}"

    def texts(self) -> list[str]:
        return [e.message_posted.text for e in self.events if e.WhichOneof("kind") == "message_posted"]

    def sequences(self) -> list[int]:
        return [e.sequence for e in self.events if e.sequence]

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.close()

    async def close(self) -> None:
        pass
