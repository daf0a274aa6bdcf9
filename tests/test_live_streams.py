"""Live streams: StreamEvents (bidi) and Subscribe side by side, joins, resumes."""

from __future__ import annotations

import asyncio

import grpc
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import Client
from tests.support.streams import SESSION

# Every test here runs on SQLite and on PostgreSQL.
BOTH_BACKENDS = True


async def test_bidi_and_subscribe_clients_receive_each_others_messages_in_order(alice: Client, bob: Client, carol: Client):
    teacher = alice.stream(SESSION)
    listener = bob.subscribe(SESSION)
    talker = carol.stream(SESSION)
    for stream in (teacher, listener, talker):
        assert (await stream.next("stream_started")).stream_started.you.user_id

    request_id = talker.act(send_message=pb.SendMessageAction(text="hello from the bidi stream"))
    accepted = await talker.reply_to(request_id)
    assert accepted.action_accepted.message_id
    await alice.send(SESSION, "hello from a unary call")

    for stream in (teacher, listener, talker):
        first = await stream.next("message_posted")
        second = await stream.next("message_posted")
        assert first.message_posted.text == "hello from the bidi stream"
        assert first.message_posted.sender_id == "carol"
        assert first.message_posted.message_id == accepted.action_accepted.message_id
        assert second.message_posted.text == "hello from a unary call"
        assert second.sequence == first.sequence + 1
        assert second.session_id == SESSION and second.time.seconds > 0
    for stream in (teacher, listener, talker):
        stream.cancel()


async def test_another_session_sees_nothing(alice: Client, bob: Client, carol: Client):
    elsewhere = carol.subscribe("chemistry-201")
    await elsewhere.next("stream_started")
    here = bob.subscribe(SESSION)
    await here.next("stream_started")

    await alice.send(SESSION, "only for physics")
    await here.next("message_posted")
    await alice.send("chemistry-201", "only for chemistry")

    posted = await elsewhere.next("message_posted")
    assert posted.message_posted.text == "only for chemistry"
    assert all(event.session_id == "chemistry-201" for event in elsewhere.events)
    assert "only for physics" not in str(elsewhere.events)
    here.cancel()
    elsewhere.cancel()


async def test_join_snapshot_has_online_users_recent_history_and_policy(alice: Client, bob: Client):
    teacher = alice.stream(SESSION)
    await teacher.next("stream_started")
    for number in range(3):
        await alice.send(SESSION, f"message {number}")

    joined = bob.subscribe(SESSION)
    started = (await joined.next("stream_started")).stream_started
    assert not started.recovered
    snapshot = started.snapshot
    assert [m.text for m in snapshot.recent_messages] == ["message 0", "message 1", "message 2"]
    assert snapshot.as_of_sequence == snapshot.recent_messages[-1].sequence + 1  # bob's own join follows
    online = {p.user_id: p.role for p in snapshot.online}
    assert online == {"alice": pb.ROLE_INSTRUCTOR, "bob": pb.ROLE_PARTICIPANT}
    assert snapshot.policy.public_chat == pb.PUBLIC_CHAT_EVERYONE
    assert started.you.user_id == "bob" and started.you.role == pb.ROLE_PARTICIPANT
    # Nothing already in the snapshot comes again: the first live event is newer.
    await alice.send(SESSION, "after the snapshot")
    live = await joined.next("message_posted")
    assert live.message_posted.text == "after the snapshot"
    assert live.sequence > snapshot.as_of_sequence
    joined.cancel()
    teacher.cancel()


async def test_join_and_leave_are_events_and_change_who_is_online(alice: Client, bob: Client):
    teacher = alice.stream(SESSION)
    await teacher.next("stream_started")
    participant = bob.subscribe(SESSION)
    joined = await teacher.next("user_joined")
    assert joined.user_joined.participant.user_id == "bob"

    online = await alice.call("ListParticipants", pb.ListParticipantsRequest(session_id=SESSION))
    assert {p.user_id for p in online.participants} == {"alice", "bob"}

    participant.cancel()
    left = await teacher.next("user_left")
    assert left.user_left.participant.user_id == "bob"
    assert left.sequence == joined.sequence + 1
    online = await alice.call("ListParticipants", pb.ListParticipantsRequest(session_id=SESSION))
    assert [p.user_id for p in online.participants] == ["alice"]
    everyone = await alice.call("ListParticipants", pb.ListParticipantsRequest(session_id=SESSION, include_offline=True))
    assert {(p.user_id, p.online) for p in everyone.participants} == {("alice", True), ("bob", False)}
    teacher.cancel()


async def test_second_stream_of_the_same_user_does_not_join_twice(alice: Client, bob: Client):
    teacher = alice.stream(SESSION)
    await teacher.next("stream_started")
    first = bob.subscribe(SESSION)
    await first.next("stream_started")
    second = bob.stream(SESSION)
    await second.next("stream_started")
    second.cancel()
    await alice.send(SESSION, "marker")
    await teacher.next("user_joined")
    after = await teacher.next()
    assert after.WhichOneof("kind") == "message_posted", "closing one of two streams must not make bob leave"
    first.cancel()


async def test_rejected_action_is_an_error_event_and_the_stream_stays_open(bob: Client):
    stream = bob.stream(SESSION)
    await stream.next("stream_started")
    bad = stream.act(send_message=pb.SendMessageAction(text="   "))
    error = (await stream.reply_to(bad)).error
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert error.message == "message text is empty"
    unknown = stream.act(send_message=pb.SendMessageAction(text="psst", recipient_id="nobody"))
    assert (await stream.reply_to(unknown)).error.code == grpc.StatusCode.NOT_FOUND.value[0]
    again = stream.act(join=pb.JoinSession(session_id=SESSION))
    assert (await stream.reply_to(again)).error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]

    good = stream.act(send_message=pb.SendMessageAction(text="still here"))
    assert (await stream.reply_to(good)).action_accepted.sequence > 0
    assert (await stream.next("message_posted")).message_posted.text == "still here"
    stream.cancel()


async def test_a_stream_must_join_first_and_may_retry_its_join(bob: Client):
    stream = bob.stream(None)
    early = stream.act(send_message=pb.SendMessageAction(text="too early"))
    error = (await stream.reply_to(early)).error
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "first request" in error.message
    bad_join = stream.act(join=pb.JoinSession(session_id="no spaces allowed"))
    assert (await stream.reply_to(bad_join)).error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    stream.act(join=pb.JoinSession(session_id=SESSION))
    assert (await stream.next("stream_started")).stream_started.you.user_id == "bob"
    stream.cancel()


async def test_resume_replays_exactly_the_missed_events_then_goes_live(alice: Client, bob: Client):
    teacher = alice.stream(SESSION)
    await teacher.next("stream_started")
    first = bob.subscribe(SESSION)
    await first.next("stream_started")
    await alice.send(SESSION, "before the drop")
    seen = await first.next("message_posted")
    first.cancel()
    await teacher.next("user_left")

    missed = [await alice.send(SESSION, f"missed {n}") for n in range(3)]

    resumed = bob.subscribe(SESSION, last_sequence=seen.sequence)
    started = (await resumed.next("stream_started")).stream_started
    assert started.recovered and not started.HasField("snapshot")
    assert started.resume_from_sequence == seen.sequence
    replayed = [await resumed.next() for _ in range(5)]
    assert [event.sequence for event in replayed] == list(range(seen.sequence + 1, seen.sequence + 6))
    assert [event.WhichOneof("kind") for event in replayed] == [
        "user_left",  # bob's own drop
        "message_posted",
        "message_posted",
        "message_posted",
        "user_joined",  # this very reconnection, live
    ]
    assert [event.message_posted.text for event in replayed[1:4]] == [m.text for m in missed]
    await alice.send(SESSION, "live again")
    live = await resumed.next("message_posted")
    assert live.message_posted.text == "live again" and live.sequence == seen.sequence + 6
    assert len(resumed.events) == 7, "nothing may arrive twice"
    resumed.cancel()
    teacher.cancel()


async def test_resume_beyond_what_is_kept_says_not_recovered_and_sends_a_fresh_snapshot(alice: Client, bob: Client, server):
    server.settings.replay_limit = 3
    await alice.send(SESSION, "old")
    for n in range(5):
        await alice.send(SESSION, f"new {n}")

    resumed = bob.subscribe(SESSION, last_sequence=1)
    started = (await resumed.next("stream_started")).stream_started
    assert not started.recovered
    assert [m.text for m in started.snapshot.recent_messages][-5:] == [f"new {n}" for n in range(5)]
    assert started.resume_from_sequence == started.snapshot.as_of_sequence
    resumed.cancel()


async def test_resume_from_a_sequence_the_server_never_had_gets_a_fresh_snapshot(alice: Client, bob: Client):
    await alice.send(SESSION, "only one")
    resumed = bob.subscribe(SESSION, last_sequence=999)
    started = (await resumed.next("stream_started")).stream_started
    assert not started.recovered
    assert [m.text for m in started.snapshot.recent_messages] == ["only one"]
    resumed.cancel()


async def test_joining_while_messages_are_posted_loses_and_repeats_nothing(alice: Client, connect):
    """Joins read their snapshot beside the writers: each joiner still gets every message once
    (in its snapshot or live, in order) and ends up seeing everyone who joined as online."""
    teacher = alice.stream(SESSION)
    await teacher.next("stream_started")
    publishing = asyncio.gather(*(alice.send(SESSION, f"busy {n}") for n in range(40)))
    joiners = [connect(f"p{n}").subscribe(SESSION) for n in range(5)]
    starts = [(await joiner.next("stream_started")).stream_started for joiner in joiners]
    sent = await publishing
    joined = [await teacher.find(lambda e, n=n: e.user_joined.participant.user_id == f"p{n}") for n in range(5)]
    through = max([message.sequence for message in sent] + [event.sequence for event in joined])

    for joiner, start in zip(joiners, starts, strict=False):
        snapshot = start.snapshot
        if snapshot.as_of_sequence < through:  # (its own join may be the newest event, in its snapshot)
            await joiner.find(lambda event: event.sequence == through)
        live = [event for event in joiner.events if 0 < event.sequence <= through]
        assert [event.sequence for event in live] == list(range(snapshot.as_of_sequence + 1, through + 1))
        texts = [m.text for m in snapshot.recent_messages] + [e.message_posted.text for e in live if e.HasField("message_posted")]
        assert sorted(texts) == sorted(message.text for message in sent)
        online = {person.user_id for person in snapshot.online}
        for event in live:
            if event.HasField("user_joined"):
                online.add(event.user_joined.participant.user_id)
            elif event.HasField("user_left"):
                online.discard(event.user_left.participant.user_id)
        assert online == {"alice", "p0", "p1", "p2", "p3", "p4"}
        joiner.cancel()
    teacher.cancel()
