"""The session the tests chat in, and opening live streams on it until they have started.

Every test gets a server with an empty database of its own, so one session id serves them all; a
module that needs a second session names it where it uses it.
"""

from __future__ import annotations

from typing import TypeVar

from tests.helpers import BidiStream, Client, EventReader

SESSION = "physics-101"

Stream = TypeVar("Stream", bound=EventReader)


async def started(stream: Stream) -> Stream:
    """The stream, once its stream_started has arrived (an AssertionError if it ends first)."""
    await stream.next("stream_started")
    return stream


async def opened(*clients: Client, session: str = SESSION) -> list[BidiStream]:
    """A StreamEvents call per client, opened one after the other, each past its stream_started
    (so earlier streams see the later users join)."""
    return [await started(client.stream(session)) for client in clients]


async def subscribed(*clients: Client, session: str = SESSION) -> list[EventReader]:
    """A Subscribe call per client, opened one after the other, each past its stream_started."""
    return [await started(client.subscribe(session)) for client in clients]
