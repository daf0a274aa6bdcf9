"""A busy database: messages queue (a stream keeps sending meanwhile), and the queue is bounded.

Past `max_sends_in_flight`, a send is refused with RESOURCE_EXHAUSTED and a
retry delay, instead of waiting without limit; nothing of it is stored, and
the messages already waiting are all stored. A stream's messages are queued
without waiting for each to be stored, and stored in the order sent.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import CODE, refused, retry_delay_seconds
from tests.support.streams import SESSION

LIMIT = 2

BOTH_BACKENDS = True


@pytest.fixture
def settings(settings):
    settings.max_sends_in_flight = LIMIT
    return settings


async def wait_until(condition, attempts: int = 10_000) -> None:
    """Let the server's tasks run until `condition()` holds (no timed sleeps)."""
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the server never reached the expected state")


async def test_sends_past_the_limit_are_refused_with_a_retry_delay_and_the_waiting_ones_are_stored(server, alice):
    # Hold the session's write lock: the database is "busy", so sends queue up.
    async with server.database.lock(SESSION):
        waiting = [asyncio.ensure_future(alice.send(SESSION, f"waiting {n}")) for n in range(LIMIT)]
        await wait_until(lambda: server.service.sending.sends_in_flight(SESSION) == LIMIT)
        error = await refused(grpc.StatusCode.RESOURCE_EXHAUSTED, alice.send(SESSION, "one too many"))
        assert "busy" in error.details() and "try again" in error.details()
        assert retry_delay_seconds(error) == pytest.approx(1.0)
    stored = [message.text for message in await asyncio.gather(*waiting)]
    assert sorted(stored) == ["waiting 0", "waiting 1"]

    history = await alice.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION))
    assert sorted(message.text for message in history.messages) == ["waiting 0", "waiting 1"]
    # Once the queue has drained, sending works again.
    assert (await alice.send(SESSION, "after the rush")).sequence > 0


async def test_on_a_stream_an_overloaded_send_is_an_error_event_and_the_stream_stays_open(server, alice):
    stream = alice.stream(SESSION)
    await stream.next("stream_started")
    async with server.database.lock(SESSION):
        waiting = [asyncio.ensure_future(alice.send(SESSION, f"waiting {n}")) for n in range(LIMIT)]
        await wait_until(lambda: server.service.sending.sends_in_flight(SESSION) == LIMIT)
        request_id = stream.act(send_message=pb.SendMessageAction(text="one too many"))
        reply = await stream.reply_to(request_id)
    assert reply.WhichOneof("kind") == "error"
    assert CODE[reply.error.code] == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert reply.error.retry_delay.ToTimedelta().total_seconds() == pytest.approx(1.0)
    await asyncio.gather(*waiting)

    request_id = stream.act(send_message=pb.SendMessageAction(text="later"))
    accepted = await stream.reply_to(request_id)
    assert accepted.WhichOneof("kind") == "action_accepted"
    stream.cancel()


async def test_a_stream_pipelines_its_messages_and_they_are_stored_in_the_order_sent(server, alice, bob):
    """While earlier messages wait for the database, the stream reads and queues the next ones."""
    reader = bob.subscribe(SESSION)
    await reader.next("stream_started")
    stream = alice.stream(SESSION)
    await stream.next("stream_started")
    server.settings.max_sends_in_flight = 100
    async with server.database.lock(SESSION):
        request_ids = [stream.act(send_message=pb.SendMessageAction(text=f"pipelined {n}")) for n in range(5)]
        # All five are queued at once: the stream did not wait for one commit per message.
        await wait_until(lambda: server.service.sending.sends_in_flight(SESSION) == 5)
    answers = [await stream.reply_to(request_id) for request_id in request_ids]
    assert [answer.WhichOneof("kind") for answer in answers] == ["action_accepted"] * 5
    sequences = [answer.action_accepted.sequence for answer in answers]
    assert sequences == sorted(sequences)
    seen = [(await reader.next("message_posted")).message_posted.text for _ in range(5)]
    assert seen == [f"pipelined {n}" for n in range(5)]
    stream.cancel()
    reader.cancel()
