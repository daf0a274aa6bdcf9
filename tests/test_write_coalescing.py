"""CHATSVC_STREAM_WRITE_DELAY_MS: in large sessions, events close together share one write.

Same order, same bounded buffers and the same RESOURCE_EXHAUSTED end as without it.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest

from chatsvc.config import Settings
from chatsvc.errors import ErrorCode
from chatsvc.fanout.codec import frame
from chatsvc.fanout.hub import (
    EVERYONE,
    Audience,
    Hub,
    StoredEvent,
    StreamEnded,
    Subscriber,
)
from tests.support.streams import SESSION
from tests.test_slow_consumers import LONG_TEXT, stalled_subscription

DELAY_MS = 5.0
# The hub tests check what shares a write, so their flush must not come between
# two deliveries even on a loaded machine; they wait this long once.
HUB_DELAY = 0.1


def subscriber(user_id: str, max_pending: int = 100) -> Subscriber:
    return Subscriber(SESSION, user_id, False, max_pending=max_pending, batch_bytes=64 * 1024)


def event(sequence: int, audience: Audience = EVERYONE) -> StoredEvent:
    return StoredEvent(SESSION, sequence, audience, f"event {sequence}".encode())


async def writer_waiting(member: Subscriber) -> asyncio.Task:
    task = asyncio.create_task(member.next_batch())
    await asyncio.sleep(0)  # it is now idle, waiting for an event
    return task


async def test_idle_writers_of_a_large_session_wait_for_the_flush_and_take_everything_in_order():
    hub = Hub(write_delay=HUB_DELAY, write_delay_min_subscribers=2)
    members = [subscriber("bob"), subscriber("carol")]
    for member in members:
        hub.add(member)
    writers = [await writer_waiting(member) for member in members]
    hub.deliver(event(1))
    await asyncio.sleep(0)
    hub.deliver(event(2, Audience(everyone=False, instructors=False, parties=("carol",))))
    await asyncio.sleep(0)
    hub.deliver(event(3))
    assert not any(writer.done() for writer in writers)  # nothing written before the flush
    bob, carol = await asyncio.gather(*writers)
    assert bob == frame(b"event 1") + frame(b"event 3")
    assert carol == frame(b"event 1") + frame(b"event 2") + frame(b"event 3")


async def test_small_sessions_and_a_zero_delay_write_at_once():
    for hub in (Hub(write_delay=HUB_DELAY, write_delay_min_subscribers=2), Hub()):
        member = subscriber("bob")
        hub.add(member)
        writer = await writer_waiting(member)
        hub.deliver(event(1))
        await asyncio.sleep(0)
        assert writer.done() and writer.result() == frame(b"event 1")


async def test_a_subscriber_that_falls_behind_is_ended_as_without_the_delay():
    hub = Hub(write_delay=HUB_DELAY, write_delay_min_subscribers=1)
    member = subscriber("bob", max_pending=3)
    hub.add(member)
    writer = await writer_waiting(member)
    for sequence in range(1, 5):
        hub.deliver(event(sequence))
    with pytest.raises(StreamEnded) as ended:
        await writer
    assert ended.value.code == ErrorCode.RESOURCE_EXHAUSTED
    assert member.pending == 0


def test_the_setting_comes_from_the_environment():
    settings = Settings.from_env({"CHATSVC_STREAM_WRITE_DELAY_MS": "2.5", "CHATSVC_STREAM_WRITE_DELAY_MIN_SUBSCRIBERS": "10"})
    assert (settings.stream_write_delay_ms, settings.stream_write_delay_min_subscribers) == (2.5, 10)
    assert Settings().stream_write_delay_ms == 0


@pytest.fixture
def settings(settings):
    settings.stream_write_delay_ms = DELAY_MS
    settings.stream_write_delay_min_subscribers = 1
    settings.subscriber_buffer = 20
    return settings


async def test_with_the_delay_every_stream_gets_every_message_in_order_and_a_stalled_one_is_ended(server, alice, bob, carol, connect):
    listener = bob.subscribe(SESSION)
    talker = carol.stream(SESSION)
    for stream in (listener, talker):
        await stream.next("stream_started")
    sent = await asyncio.gather(*(alice.send(SESSION, f"burst {n}") for n in range(10)))  # fewer than the buffer
    in_order = sorted(sent, key=lambda message: message.sequence)
    for stream in (listener, talker):
        for message in in_order:
            assert (await stream.next("message_posted")).message_posted.message_id == message.message_id

    slow_user = connect("dave")
    channel, stalled = stalled_subscription(f"127.0.0.1:{server.port}", slow_user)
    await stalled.initial_metadata()
    for n in range(60):
        await alice.send(SESSION, f"{n} {LONG_TEXT}")
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        async for _ in stalled:
            pass
    assert ended.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "fell more than 20 events behind" in ended.value.details()
    for _ in range(60):
        await listener.next("message_posted")
    await channel.close()
    listener.cancel()
    talker.cancel()
