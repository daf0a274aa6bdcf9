"""previous_sequence: every stream response says which sequence came before it, so a client can
tell a sequence it may not see (someone else's private message) from one it lost."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.fanout.codec import frame, sequence_of
from chatsvc.fanout.hub import EVERYONE, Audience, Hub, StoredEvent, Subscriber
from tests.helpers import EVENT_TIMEOUT
from tests.support.streams import SESSION
from tests.test_slow_consumers import LONG_TEXT, stalled_subscription


def payload(sequence: int, text: str = "hi") -> bytes:
    message = pb.ChatMessage(message_id=f"m{sequence}", session_id=SESSION, sequence=sequence, text=text)
    return pb.Event(session_id=SESSION, sequence=sequence, message_posted=message).SerializeToString()


def notice() -> bytes:
    return pb.Event(session_id=SESSION, action_accepted=pb.ActionAccepted(request_id="r1")).SerializeToString()


def parsed(response: bytes) -> pb.SubscribeResponse:
    return pb.SubscribeResponse.FromString(response)


@pytest.mark.parametrize("sequence", [0, 1, 127, 128, 300, 2**31, 2**62])
@pytest.mark.parametrize("session_id", ["s", "x" * 200])
def test_the_sequence_read_from_a_framed_event_is_the_one_protobuf_reads(sequence, session_id):
    event = pb.Event(session_id=session_id, sequence=sequence, typing_started=pb.TypingChanged())
    event.time.FromSeconds(1_700_000_000)
    assert sequence_of(frame(event.SerializeToString())) == sequence


def test_a_stream_start_and_its_missed_events_carry_the_chain_from_where_the_client_resumed():
    member = Subscriber(SESSION, "bob", False, max_pending=100, batch_bytes=300)
    member.start_after(9, position=4)  # resuming from 4; 5..9 were missed and follow the start
    started = pb.Event(session_id=SESSION, stream_started=pb.StreamStarted(recovered=True, resume_from_sequence=4))
    initial = [frame(started.SerializeToString())] + [frame(payload(n, "y" * 100)) for n in (5, 7, 9)]
    responses = [parsed(r) for r in member.initial_responses(initial)]
    assert len(responses) > 1, "small batches: the start is split into several responses"
    assert responses[0].previous_sequence == 0  # nothing came before the first response
    assert_chain_intact(responses)
    assert [e.sequence for r in responses for e in r.events] == [0, 5, 7, 9]


async def test_live_batches_name_the_last_sequence_sent_before_them_and_notices_do_not_move_it():
    hub = Hub()
    member = Subscriber(SESSION, "bob", False, max_pending=100, batch_bytes=64 * 1024)
    hub.add(member)
    member.start_after(3)
    list(member.initial_responses([frame(notice())]))
    private = Audience(everyone=False, instructors=False, parties=("carol",))
    hub.deliver(StoredEvent(SESSION, 4, EVERYONE, payload(4)))
    first = parsed(await member.next_batch())
    hub.deliver(StoredEvent(SESSION, 5, private, payload(5)))  # not bob's to see
    member.deliver(0, frame(notice()))
    second = parsed(await member.next_batch())
    hub.deliver(StoredEvent(SESSION, 6, EVERYONE, payload(6)))
    third = parsed(await member.next_batch())
    assert (first.previous_sequence, [e.sequence for e in first.events]) == (3, [4])
    assert (second.previous_sequence, [e.sequence for e in second.events]) == (4, [0])
    assert (third.previous_sequence, [e.sequence for e in third.events]) == (4, [6])


async def test_a_backlog_split_over_several_responses_chains_them():
    member = Subscriber(SESSION, "bob", False, max_pending=100, batch_bytes=250)
    member.start_after(0)
    for sequence in range(1, 11):
        member.deliver(sequence, frame(payload(sequence, "z" * 60)))
    position, seen = 0, []
    while member.pending:
        response = parsed(await member.next_batch())
        assert response.previous_sequence == position
        seen += [e.sequence for e in response.events]
        position = seen[-1]
    assert seen == list(range(1, 11)) and position == 10


# ---------------------------------------------------------------- end to end


class Responses:
    """Every response of a live stream, as it arrives."""

    def __init__(self, call) -> None:
        self.call = call
        self.items: list[pb.SubscribeResponse] = []
        self.error: grpc.aio.AioRpcError | None = None
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for response in self.call:
                self.items.append(response)
                self._changed.set()
        except grpc.aio.AioRpcError as error:
            self.error = error
        self._changed.set()

    def events(self) -> list[pb.Event]:
        return [event for response in self.items for event in response.events]

    def texts(self) -> list[str]:
        """The texts of the public messages received, in order."""
        return [e.message_posted.text for e in self.events() if e.WhichOneof("kind") == "message_posted"]

    async def wait_for(self, predicate) -> None:
        async def until() -> None:
            while not predicate(self):
                self._changed.clear()
                if self._task.done():
                    raise AssertionError(f"the stream ended: {self.error!r}")
                await self._changed.wait()

        await asyncio.wait_for(until(), EVENT_TIMEOUT)


def assert_chain_intact(responses: list[pb.SubscribeResponse]) -> None:
    """Each response's previous_sequence is the last sequence the client held before it."""
    assert responses[0].events[0].WhichOneof("kind") == "stream_started"
    position = responses[0].events[0].stream_started.resume_from_sequence
    for index, response in enumerate(responses):
        if index:
            assert response.previous_sequence == position, (index, response)
        for event in response.events:
            if event.sequence:
                position = event.sequence


async def test_a_viewer_who_skips_others_private_messages_sees_an_intact_chain_on_both_stream_kinds(alice, bob, carol, connect):
    dave = connect("dave")
    subscribed = Responses(bob.stub.Subscribe(pb.SubscribeRequest(session_id=SESSION), metadata=bob.metadata))
    streamed = carol.stream(SESSION)
    await streamed.next("stream_started")
    await subscribed.wait_for(lambda r: r.items)
    await dave.send(SESSION, "dave is here")  # dave joins, so he may be written to
    expected = []
    for n in range(12):
        if n % 3 == 1:
            await carol.send(SESSION, f"private {n}", recipient_id="alice")  # bob never sees these
        elif n % 3 == 2:
            await alice.send(SESSION, f"to dave {n}", recipient_id="dave")
        else:
            expected.append((await alice.send(SESSION, f"public {n}")).text)
    await subscribed.wait_for(lambda r: r.texts()[-1:] == [expected[-1]])
    assert [t for t in subscribed.texts() if t.startswith("public")] == expected
    sequences = [e.sequence for e in subscribed.events() if e.sequence]
    assert any(b - a > 1 for a, b in zip(sequences, sequences[1:], strict=False)), "bob's sequences jump over others' private messages"
    assert_chain_intact(subscribed.items)

    # The bidi stream's responses carry it too (carol sees her own private messages).
    await streamed.find(lambda e: e.message_posted.text == expected[-1])
    subscribed.call.cancel()
    streamed.cancel()


@pytest.fixture
def settings(settings):
    settings.subscriber_buffer = 20
    return settings


async def test_a_stream_ended_for_falling_behind_resumes_from_its_chain_and_loses_nothing(server, alice, bob):
    channel, stalled = stalled_subscription(f"127.0.0.1:{server.port}", bob)
    await stalled.initial_metadata()
    texts = [(await alice.send(SESSION, f"{n} {LONG_TEXT}")).text for n in range(60)]
    first = Responses(stalled)
    await first.wait_for(lambda r: r._task.done())
    assert first.error is not None and first.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert_chain_intact(first.items)
    last = max(e.sequence for e in first.events())
    await channel.close()

    resumed = Responses(bob.stub.Subscribe(pb.SubscribeRequest(session_id=SESSION, last_sequence=last), metadata=bob.metadata))
    await resumed.wait_for(lambda r: r.texts()[-1:] == [texts[-1]])
    assert resumed.items[0].events[0].stream_started.recovered
    assert_chain_intact(resumed.items)
    assert first.texts() + resumed.texts() == texts, "every message once, in order"
    resumed.call.cancel()
