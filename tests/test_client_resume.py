"""chatsvc.client notices an event lost on the way (previous_sequence) and resumes to get exactly it."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.client import ChatClient, StreamPosition
from tests.helpers import EVENT_TIMEOUT
from tests.support.streams import SESSION


@pytest.fixture
def settings(settings):
    settings.message_rate_limit = 100  # carol writes privately more often than a person would
    return settings


def texts(response: pb.SubscribeResponse) -> list[str]:
    return [event.message_posted.text for event in response.events if event.WhichOneof("kind") == "message_posted"]


class LosesOneResponse(grpc.aio.UnaryStreamClientInterceptor):
    """A lossy hop between server and client: drops the first response holding `text`, once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.dropped: list[pb.SubscribeResponse] = []

    async def intercept_unary_stream(self, continuation, client_call_details, request):
        call = await continuation(client_call_details, request)

        async def responses():
            async for response in call:
                if not self.dropped and self.text in texts(response):
                    self.dropped.append(response)
                    continue
                yield response

        return responses()


async def test_the_position_check_passes_a_real_stream_and_catches_a_response_taken_out_of_it(alice, bob, carol):
    call = bob.stub.Subscribe(pb.SubscribeRequest(session_id=SESSION), metadata=bob.metadata)
    stream = aiter(call)
    responses = [await anext(stream)]
    for n in range(4):
        await alice.send(SESSION, f"m{n}")
        await carol.send(SESSION, f"to alice {n}", recipient_id="alice")  # bob skips these sequences
        while f"m{n}" not in texts(responses[-1]):
            responses.append(await asyncio.wait_for(anext(stream), EVENT_TIMEOUT))
    call.cancel()

    whole = StreamPosition()
    for response in responses:
        assert whole.intact(response)
        for event in response.events:
            whole.advance(event)

    missing = next(index for index, response in enumerate(responses) if texts(response) == ["m1"])
    lossy = StreamPosition()
    verdicts = []
    for response in responses[:missing] + responses[missing + 1 :]:
        verdicts.append(lossy.intact(response))
        for event in response.events:
            lossy.advance(event)
    assert verdicts.count(False) == 1, "the response after the missing one shows the loss"


async def test_a_client_that_loses_an_event_on_the_way_resumes_and_gets_exactly_the_missed_events(server, alice, bob, carol):
    lossy = LosesOneResponse("m3")
    client = ChatClient(f"127.0.0.1:{server.port}", bob.token, interceptors=[lossy])
    received: list[pb.Event] = []
    arrived = asyncio.Event()

    async def consume() -> None:
        async for event in client.events(SESSION):
            received.append(event)
            arrived.set()

    consumer = asyncio.create_task(consume())

    async def until(predicate) -> None:
        while not predicate():
            arrived.clear()
            await arrived.wait()

    await asyncio.wait_for(until(lambda: received), EVENT_TIMEOUT)
    for n in range(8):
        await alice.send(SESSION, f"m{n}")
        await carol.send(SESSION, f"to alice {n}", recipient_id="alice")
        if n != 3:  # m3 is lost on the way; the response after it shows the loss
            await asyncio.wait_for(until(lambda n=n: any(e.message_posted.text == f"m{n}" for e in received)), EVENT_TIMEOUT)

    assert lossy.dropped, "the lossy hop dropped a response"
    assert client.losses == 1
    messages = [e.message_posted.text for e in received if e.WhichOneof("kind") == "message_posted"]
    assert messages == [f"m{n}" for n in range(8)], "every message once, in order"
    sequences = [e.sequence for e in received if e.sequence]
    assert sequences == sorted(set(sequences))
    consumer.cancel()
    await asyncio.gather(consumer, return_exceptions=True)
    await client.close()
