"""A user whose last stream ends stays online for the presence grace: a stream that drops and
comes back within it announces nothing; one that does not come back leaves when it ends; a
server that stops records the pending departures before it exits."""

from __future__ import annotations

import dataclasses

import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.config import Settings
from chatsvc.transport.server import ChatServer
from tests.helpers import Client
from tests.support.streams import SESSION


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, presence_grace_seconds=0.5)


async def test_a_stream_that_drops_and_comes_back_within_the_grace_announces_nothing(alice: Client, bob: Client, carol: Client):
    teacher = alice.stream(SESSION)
    await teacher.next("stream_started")
    first = bob.subscribe(SESSION)
    await first.next("stream_started")
    await teacher.next("user_joined")
    first.cancel()
    again = bob.subscribe(SESSION)  # back at once: a blip
    await again.next("stream_started")
    people = await alice.call("ListParticipants", pb.ListParticipantsRequest(session_id=SESSION))
    assert [p.user_id for p in people.participants] == ["alice", "bob"]

    # carol leaves for good: her user_left comes after the grace, and bob's blip made no event.
    gone = carol.subscribe(SESSION)
    await gone.next("stream_started")
    gone.cancel()
    left = await teacher.next("user_left")
    assert left.user_left.participant.user_id == "carol"
    kinds = [(e.WhichOneof("kind"), e.user_joined.participant.user_id or e.user_left.participant.user_id) for e in teacher.events]
    assert kinds.count(("user_joined", "bob")) == 1 and ("user_left", "bob") not in kinds
    teacher.cancel()
    again.cancel()


async def test_a_stopping_server_records_the_departures_still_in_their_grace(settings: Settings):
    patient = dataclasses.replace(settings, presence_grace_seconds=60)
    first = ChatServer(patient)
    port = await first.start()
    alice = Client(f"127.0.0.1:{port}", "alice", "instructor")
    clients = [Client(f"127.0.0.1:{port}", user) for user in ("bob", "carol")]
    teacher = alice.stream(SESSION)
    last = (await teacher.next("stream_started")).stream_started.resume_from_sequence
    for client in clients:
        stream = client.subscribe(SESSION)
        await stream.next("stream_started")
        last = (await teacher.next("user_joined")).sequence
        stream.cancel()
    teacher.cancel()
    await first.stop(grace=1)  # bob and carol are still in their 60 s grace: recorded now
    for client in (alice, *clients):
        await client.close()

    second = ChatServer(patient)
    port = await second.start()
    alice = Client(f"127.0.0.1:{port}", "alice", "instructor")
    try:
        resumed = alice.subscribe(SESSION, last_sequence=last)
        assert (await resumed.next("stream_started")).stream_started.recovered
        left = [await resumed.next("user_left") for _ in range(3)]  # bob, carol and alice's own stream
        assert sorted(event.user_left.participant.user_id for event in left) == ["alice", "bob", "carol"]
        resumed.cancel()
    finally:
        await alice.close()
        await second.stop(grace=1)
