"""Joins that arrive together are handled as a batch (one transaction for their `user_joined`
events, one read for their snapshots): each joiner still gets exactly what is theirs."""

from __future__ import annotations

import asyncio

from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import Client
from tests.support.streams import SESSION

BOTH_BACKENDS = True

CROWD = 40


async def online_at_the_end(stream, marker: str) -> set[str]:
    """Who the stream believes is online once `marker` arrives: its snapshot, then joins and leaves."""
    await stream.find(lambda event: event.WhichOneof("kind") == "stream_started")
    online = {person.user_id for person in stream.events[0].stream_started.snapshot.online}
    await stream.find(lambda event: event.WhichOneof("kind") == "message_posted" and event.message_posted.text == marker)
    for event in stream.events:
        kind = event.WhichOneof("kind")
        if kind == "user_joined":
            online.add(event.user_joined.participant.user_id)
        elif kind == "user_left":
            online.discard(event.user_left.participant.user_id)
    return online


async def test_a_crowd_joining_at_once_gets_each_viewer_its_own_snapshot(alice: Client, bob: Client, connect):
    dave, erin = connect("dave", name="Dave"), connect("erin", name="Erin")
    teacher = alice.stream(SESSION)
    await teacher.next("stream_started")
    for who in (bob, dave, erin):
        first = who.subscribe(SESSION)
        await first.next("stream_started")
        first.cancel()
    posted = [await alice.send(SESSION, f"public {n}") for n in range(3)]
    private = await bob.send(SESSION, "for the instructor only", recipient_id="alice")
    await dave.call("AddReaction", pb.AddReactionRequest(session_id=SESSION, message_id=posted[1].message_id, emoji="👍"))
    await alice.call("MuteUser", pb.MuteUserRequest(session_id=SESSION, user_id="erin", duration_minutes=10, reason="shouting"))

    crowd = [connect(f"p{n:02d}") for n in range(CROWD)]
    everyone = [bob, dave, erin, *crowd]
    streams = [client.subscribe(SESSION) for client in everyone]
    starts = await asyncio.gather(*(stream.next("stream_started") for stream in streams))
    snapshots = {client.user_id: event.stream_started.snapshot for client, event in zip(everyone, starts, strict=True)}

    public = ["public 0", "public 1", "public 2"]
    for user_id, snapshot in snapshots.items():
        texts = [message.text for message in snapshot.recent_messages]
        assert texts == (public + ["for the instructor only"] if user_id == "bob" else public), user_id
        liked = {count.emoji: count.reacted_by_me for count in snapshot.recent_messages[1].reactions}
        assert liked == {"👍": user_id == "dave"}, user_id
        assert [mute.user_id for mute in snapshot.active_mutes] == (["erin"] if user_id == "erin" else []), user_id
        assert snapshot.HasField("my_mute") == (user_id == "erin"), user_id
        assert {"alice", user_id} <= {person.user_id for person in snapshot.online}
    assert private.message_id not in {m.message_id for s in snapshots.values() if s is not snapshots["bob"] for m in s.recent_messages}

    late_teacher = connect("zoe", "instructor", name="Zoe")
    instructor_view = late_teacher.subscribe(SESSION)
    zoe = (await instructor_view.next("stream_started")).stream_started.snapshot
    assert [mute.user_id for mute in zoe.active_mutes] == ["erin"], "instructors see every mute"

    marker = "everyone is here"
    await alice.send(SESSION, marker)
    expected = {"alice", "zoe", *(client.user_id for client in everyone)}
    for stream in (*streams, instructor_view):
        assert await online_at_the_end(stream, marker) == expected
    for stream in (teacher, *streams, instructor_view):
        stream.cancel()


async def test_streams_resuming_together_each_get_exactly_what_they_missed(alice: Client, bob: Client, carol: Client, connect):
    teacher = alice.stream(SESSION)
    await teacher.next("stream_started")
    watchers = {client.user_id: client.subscribe(SESSION) for client in (bob, carol)}
    last = {}
    for user_id, stream in watchers.items():
        last[user_id] = (await stream.next("stream_started")).stream_started.resume_from_sequence
    await alice.send(SESSION, "seen live by both")
    for user_id, stream in watchers.items():
        last[user_id] = (await stream.next("message_posted")).sequence
    watchers["carol"].cancel()  # carol drops here; bob stays a little longer
    await alice.send(SESSION, "missed by carol")
    last["bob"] = (await watchers["bob"].next("message_posted")).sequence
    watchers["bob"].cancel()
    await alice.send(SESSION, "missed by both")
    await alice.send(SESSION, "to carol alone", recipient_id="carol")
    await alice.send(SESSION, "to bob alone", recipient_id="bob")

    crowd = [connect(f"q{n:02d}") for n in range(10)]
    resumed = {"bob": bob.subscribe(SESSION, last["bob"]), "carol": carol.subscribe(SESSION, last["carol"])}
    fresh = [client.subscribe(SESSION) for client in crowd]
    await asyncio.gather(*(stream.next("stream_started") for stream in (*resumed.values(), *fresh)))
    await alice.send(SESSION, "the end")
    wanted = {
        "bob": ["missed by both", "to bob alone", "the end"],
        "carol": ["missed by carol", "missed by both", "to carol alone", "the end"],
    }
    for user_id, stream in resumed.items():
        assert stream.events[0].stream_started.recovered, user_id
        await stream.find(lambda event: event.message_posted.text == "the end")
        texts = [
            (event.message_posted.text or event.private_message_posted.text)
            for event in stream.events
            if event.WhichOneof("kind") in ("message_posted", "private_message_posted")
        ]
        assert texts == wanted[user_id]
        sequences = [event.sequence for event in stream.events if event.sequence]
        assert sequences == sorted(set(sequences)), "in order, none twice"
    for stream in (teacher, *resumed.values(), *fresh):
        stream.cancel()


async def test_a_batch_of_joiners_is_recorded_as_members_with_their_current_names(alice: Client, connect):
    # Bob took part before under another name (a message, no stream); the crowd is new. They all join at once.
    await connect("bob", name="Bobby").send(SESSION, "hello")
    everyone = [connect("bob", name="Robert"), *(connect(f"m{n:02d}", name=f"Member {n}") for n in range(CROWD))]
    streams = [client.subscribe(SESSION) for client in everyone]
    await asyncio.gather(*(stream.next("stream_started") for stream in streams))

    listed = await alice.call("ListParticipants", pb.ListParticipantsRequest(session_id=SESSION, include_offline=True, page_size=100))
    names = {person.user_id: person.display_name for person in listed.participants}
    assert names["bob"] == "Robert"  # the name as of the latest join, one row per user
    assert all(names[f"m{n:02d}"] == f"Member {n}" for n in range(CROWD))
    assert len(listed.participants) == len(names) == CROWD + 1 + ("alice" in names)
    for stream in streams:
        stream.cancel()
