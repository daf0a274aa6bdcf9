"""Deleted text never reaches a participant again: not by replay, snapshot, history, replies,
pins, mentions, reactions or export. Instructors see it only in an export that asks for it."""

from __future__ import annotations

from datetime import UTC

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import Client, refused
from tests.support.streams import SESSION

BOTH_BACKENDS = True  # SQLite and PostgreSQL (see conftest)
SECRET = "SECRET-home-address-221b"
PRIVATE_SECRET = "PRIVATE-SECRET-phone-555"


def leaks(message) -> bool:
    """Whether a protobuf message carries either deleted text anywhere (any field, any depth)."""
    data = message.SerializeToString()
    return SECRET.encode() in data or PRIVATE_SECRET.encode() in data


@pytest.fixture
async def deleted_after_use(alice, bob, carol):
    """Carol leaves at sequence `last_seen`; then bob's message with the secret is mentioned,
    replied to, reacted to and pinned, bob writes another secret privately to alice, and
    alice deletes both. A public marker message closes the story."""
    await alice.send(SESSION, "welcome")  # alice joins the session
    watching = carol.stream(SESSION)
    started = await watching.next("stream_started")
    last_seen = started.stream_started.resume_from_sequence
    watching.cancel()

    secret = await bob.send(SESSION, f"{SECRET} @carol")
    assert list(secret.mentioned_user_ids) == ["carol"]
    reply = await carol.send(SESSION, "thanks, noted", reply_to_message_id=secret.message_id)
    assert SECRET in reply.reply_to.excerpt  # while it lives, the excerpt shows it
    await carol.call("AddReaction", pb.AddReactionRequest(session_id=SESSION, message_id=secret.message_id, emoji="👍"))
    await alice.call("PinMessage", pb.PinMessageRequest(session_id=SESSION, message_id=secret.message_id))
    private = await bob.send(SESSION, PRIVATE_SECRET, recipient_id="alice")
    for message in (secret, private):
        await alice.call("DeleteMessage", pb.DeleteMessageRequest(session_id=SESSION, message_id=message.message_id))
    marker = await alice.send(SESSION, "marker: the end")
    return {"last_seen": last_seen, "secret": secret, "reply": reply, "private": private, "marker": marker}


async def replayed(stream, marker: pb.ChatMessage) -> list[pb.Event]:
    """The events a resumed stream replays, up to the marker message."""
    assert (await stream.next("stream_started")).stream_started.recovered
    await stream.find(lambda e: e.WhichOneof("kind") == "message_posted" and e.message_posted.message_id == marker.message_id)
    events = list(stream.events)
    stream.cancel()
    return events


class TestReplayOnResume:
    @pytest.mark.parametrize("shape", ["subscribe", "stream_events"])
    async def test_a_participant_resuming_from_before_the_delete_never_receives_the_text(self, carol, deleted_after_use, shape):
        story = deleted_after_use
        open_stream = carol.subscribe if shape == "subscribe" else carol.stream
        events = await replayed(open_stream(SESSION, last_sequence=story["last_seen"]), story["marker"])
        kinds = [event.WhichOneof("kind") for event in events]
        assert {"message_posted", "mentioned", "message_pinned", "message_deleted"} <= set(kinds)
        assert [event for event in events if leaks(event)] == []
        posted = next(e.message_posted for e in events if e.WhichOneof("kind") == "message_posted"
                      and e.message_posted.message_id == story["secret"].message_id)
        assert posted.deleted and posted.text == "" and posted.delete_time.seconds > 0
        pinned = next(e.message_pinned.message for e in events if e.WhichOneof("kind") == "message_pinned")
        assert pinned.deleted and pinned.text == ""
        mention = next(e.mentioned.message for e in events if e.WhichOneof("kind") == "mentioned")
        assert mention.deleted and mention.text == ""
        reply = next(e.message_posted for e in events if e.WhichOneof("kind") == "message_posted"
                     and e.message_posted.message_id == story["reply"].message_id)
        assert reply.text == "thanks, noted" and reply.reply_to.message_id == story["secret"].message_id
        assert reply.reply_to.excerpt == ""

    async def test_the_author_of_a_deleted_private_message_does_not_get_it_back_on_resume(self, bob, deleted_after_use):
        story = deleted_after_use
        events = await replayed(bob.subscribe(SESSION, last_sequence=story["last_seen"]), story["marker"])
        private = [e for e in events if e.WhichOneof("kind") == "private_message_posted"]
        assert [e.private_message_posted.message_id for e in private] == [story["private"].message_id]
        assert private[0].private_message_posted.deleted
        assert [event for event in events if leaks(event)] == []

    async def test_a_replay_with_nothing_deleted_is_unchanged(self, alice, carol):
        watching = carol.stream(SESSION)
        last_seen = (await watching.next("stream_started")).stream_started.resume_from_sequence
        watching.cancel()
        sent = await alice.send(SESSION, "nothing to hide")
        events = await replayed(carol.subscribe(SESSION, last_sequence=last_seen), sent)
        [posted] = [e.message_posted for e in events if e.WhichOneof("kind") == "message_posted"]
        assert posted == sent


class TestEveryOtherPath:
    async def test_a_fresh_join_snapshot_has_no_deleted_text(self, bob, carol, deleted_after_use):
        for client in (bob, carol):
            stream = client.subscribe(SESSION)
            started = await stream.next("stream_started")
            stream.cancel()
            assert not leaks(started)
            recent = {m.message_id: m for m in started.stream_started.snapshot.recent_messages}
            assert recent[deleted_after_use["secret"].message_id].deleted
            assert recent[deleted_after_use["reply"].message_id].reply_to.excerpt == ""

    async def test_history_pins_and_reactions_have_no_deleted_text(self, bob, carol, deleted_after_use):
        story = deleted_after_use
        for client in (bob, carol):
            history = await client.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION))
            assert not leaks(history) and len(history.messages) >= 3
            newer = await client.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION, after_sequence=1))
            assert not leaks(newer)
            assert not leaks(await client.call("ListPinnedMessages", pb.ListPinnedMessagesRequest(session_id=SESSION)))
            await refused(
                grpc.StatusCode.NOT_FOUND,
                client.call("ListReactions", pb.ListReactionsRequest(session_id=SESSION, message_id=story["secret"].message_id)),
            )

    async def test_participants_cannot_export_and_instructors_get_the_text_only_when_they_ask(self, alice, carol, deleted_after_use):
        async def export(client: Client, **options) -> bytes:
            request = pb.ExportChatRequest(session_id=SESSION, format=pb.EXPORT_FORMAT_JSON, include_private=True, **options)
            return b"".join([r.data async for r in client.stub.ExportChat(request, metadata=client.metadata)])

        await refused(grpc.StatusCode.PERMISSION_DENIED, export(carol))
        plain = await export(alice)
        assert SECRET.encode() not in plain and PRIVATE_SECRET.encode() not in plain
        asked = await export(alice, include_deleted_text=True)
        assert SECRET.encode() in asked and PRIVATE_SECRET.encode() in asked


def test_events_that_mention_no_deleted_message_are_passed_on_as_stored_bytes():
    from datetime import datetime

    from chatsvc.domain.deleted_text import without_deleted_text

    kept = pb.Event(sequence=1, message_posted=pb.ChatMessage(message_id="a" * 32, text="fine")).SerializeToString()
    gone = pb.Event(sequence=2, message_posted=pb.ChatMessage(message_id="b" * 32, text=SECRET)).SerializeToString()
    assert without_deleted_text([kept, gone], {})[1] is gone  # nothing deleted: nothing decoded
    when = datetime(2026, 1, 1, tzinfo=UTC)
    few = {"b" * 32: when}  # searched for in the bytes
    many = {**few, **{f"{n}" * 32: when for n in range(8)}}  # each event decoded instead
    for deleted in (few, many):
        first, second = without_deleted_text([kept, gone], deleted)
        assert first is kept
        redacted = pb.Event.FromString(second).message_posted
        assert redacted.deleted and redacted.text == "" and redacted.delete_time.seconds > 0
