"""A user whose last stream ends stays online for the presence grace: a stream that drops and
comes back within it announces nothing; one that does not come back leaves when it ends; a
server that stops leaves its users' grace to the next one to start (without Redis), or records
their departures before it exits (with Redis, where other processes serve the session)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.config import Settings
from chatsvc.transport.server import ChatServer
from tests.helpers import Client
from tests.support.streams import SESSION

BOTH_BACKENDS = True

# The grace after a restart: long enough for two users to resume and list who is online before
# it ends (a CI machine took over 0.5 s), short enough to wait for the third user's leave.
AFTER_RESTART = 3.0


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


def presence_events(events: list[pb.Event]) -> list[tuple[str, str]]:
    return [
        (event.WhichOneof("kind"), event.user_joined.participant.user_id or event.user_left.participant.user_id)
        for event in events
        if event.WhichOneof("kind") in ("user_joined", "user_left")
    ]


async def join_everyone(port: int, session: str) -> tuple[int, list[Client], list]:
    """alice (instructor), bob and carol join; the sequence of the last user_joined alice saw."""
    alice = Client(f"127.0.0.1:{port}", "alice", "instructor")
    others = [Client(f"127.0.0.1:{port}", user) for user in ("bob", "carol")]
    teacher = alice.stream(session)
    last = (await teacher.next("stream_started")).stream_started.resume_from_sequence
    streams = []
    for client in others:
        stream = client.subscribe(session)
        streams.append(stream)
        await stream.next("stream_started")
        last = (await teacher.next("user_joined")).sequence
    return last, [alice, *others], [teacher, *streams]


async def two_come_back_one_does_not(port: int, session: str, last: int) -> None:
    """alice and bob resume on the server at `port`: nothing announces them; carol, who does not
    come back, is online until her grace has passed, then leaves, once."""
    alice, bob = Client(f"127.0.0.1:{port}", "alice", "instructor"), Client(f"127.0.0.1:{port}", "bob")
    try:
        resumed = alice.stream(session, last_sequence=last)
        assert (await resumed.next("stream_started")).stream_started.recovered
        back = bob.subscribe(session, last_sequence=last)
        assert (await back.next("stream_started")).stream_started.recovered
        people = await alice.call("ListParticipants", pb.ListParticipantsRequest(session_id=session))
        assert [p.user_id for p in people.participants] == ["alice", "bob", "carol"]  # carol: still in her grace

        left = await back.next("user_left")  # carol did not come back: she leaves when the grace ends
        assert left.user_left.participant.user_id == "carol"
        await alice.call("SendMessage", pb.SendMessageRequest(session_id=session, text="still here"))
        await back.next("message_posted")  # everything before it has been delivered
        assert presence_events(back.events) == [("user_left", "carol")]  # alice and bob: nothing
        people = await alice.call("ListParticipants", pb.ListParticipantsRequest(session_id=session))
        assert [p.user_id for p in people.participants] == ["alice", "bob"]
        resumed.cancel()
        back.cancel()
    finally:
        await alice.close()
        await bob.close()


async def test_a_restart_carries_the_grace_over_who_comes_back_announces_nothing_who_does_not_leaves_after_it(settings: Settings):
    """Without Redis the stopping server leaves its users' grace to the next one: a deploy under
    a class announces no leave and join of everyone."""
    first = ChatServer(dataclasses.replace(settings, presence_grace_seconds=60))
    last, clients, _ = await join_everyone(await first.start(), SESSION)
    await first.stop(grace=1)  # ends all three streams: everyone is in their grace
    for client in clients:
        await client.close()

    second = ChatServer(dataclasses.replace(settings, presence_grace_seconds=AFTER_RESTART))
    try:
        await two_come_back_one_does_not(await second.start(), SESSION, last)
    finally:
        await second.stop(grace=1)


async def test_users_still_in_a_carried_grace_are_carried_again_by_a_second_quick_restart(settings: Settings):
    first = ChatServer(dataclasses.replace(settings, presence_grace_seconds=60))
    last, clients, _ = await join_everyone(await first.start(), SESSION)
    await first.stop(grace=1)
    for client in clients:
        await client.close()
    second = ChatServer(dataclasses.replace(settings, presence_grace_seconds=60))
    await second.start()
    await second.stop(grace=1)  # restarted again before anyone came back

    third = ChatServer(dataclasses.replace(settings, presence_grace_seconds=AFTER_RESTART))
    port = await third.start()
    alice = Client(f"127.0.0.1:{port}", "alice", "instructor")
    try:
        resumed = alice.subscribe(SESSION, last_sequence=last)
        assert (await resumed.next("stream_started")).stream_started.recovered
        people = await alice.call("ListParticipants", pb.ListParticipantsRequest(session_id=SESSION))
        assert [p.user_id for p in people.participants] == ["alice", "bob", "carol"]
        left = [await resumed.next("user_left") for _ in range(2)]  # bob and carol, once each
        assert sorted(event.user_left.participant.user_id for event in left) == ["bob", "carol"]
        await alice.call("SendMessage", pb.SendMessageRequest(session_id=SESSION, text="still here"))
        await resumed.next("message_posted")
        assert sorted(presence_events(resumed.events)) == [("user_left", "bob"), ("user_left", "carol")]
        resumed.cancel()
    finally:
        await alice.close()
        await third.stop(grace=1)


async def test_with_redis_a_stopping_server_leaves_its_users_present_for_the_grace_and_who_does_not_come_back_leaves(
    settings: Settings, redis_server
):
    """With Redis the users of a stopping process stay present there for their grace: those who
    reconnect (to another process, or to this one started again) announce nothing, and a process
    still running reaps the others once it has passed."""
    session = f"grace-{uuid.uuid4().hex[:8]}"
    shared = dataclasses.replace(settings, redis_url=redis_server.url, presence_ttl_seconds=0.6)
    first = ChatServer(dataclasses.replace(shared, presence_grace_seconds=AFTER_RESTART))
    last, clients, _ = await join_everyone(await first.start(), session)
    second = ChatServer(dataclasses.replace(shared, presence_grace_seconds=0.5))
    port = await second.start()  # a deploy: the new process is up before the old one stops
    await first.stop(grace=1)  # alice, bob and carol stay present in Redis for first's grace
    for client in clients:
        await client.close()
    try:
        await two_come_back_one_does_not(port, session, last)
    finally:
        await second.stop(grace=1)


async def test_a_class_leaving_at_once_is_announced_once_each(connect, alice: Client):
    """Thirty streams ending together: their departures come due together and are recorded
    together; the teacher sees each leave once, and only she stays online."""
    teacher = alice.stream(SESSION)
    await teacher.next("stream_started")
    students = [connect(f"student-{n:02d}") for n in range(30)]
    streams = []
    for student in students:
        streams.append(student.subscribe(SESSION))
        await streams[-1].next("stream_started")
    for _ in students:
        await teacher.next("user_joined")
    for stream in streams:
        stream.cancel()
    for _ in students:
        await teacher.next("user_left")
    await alice.call("SendMessage", pb.SendMessageRequest(session_id=SESSION, text="anyone?"))
    await teacher.next("message_posted")
    left = [user for kind, user in presence_events(teacher.events) if kind == "user_left"]
    assert sorted(left) == [f"student-{n:02d}" for n in range(30)]
    people = await alice.call("ListParticipants", pb.ListParticipantsRequest(session_id=SESSION))
    assert [p.user_id for p in people.participants] == ["alice"]
    teacher.cancel()
