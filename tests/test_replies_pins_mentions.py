"""Replies (with excerpts, private stays private), pins (instructors), @mentions (events to the mentioned only)."""

from __future__ import annotations

import grpc
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import Client, refused
from tests.support.streams import SESSION, opened

BOTH_BACKENDS = True  # SQLite and PostgreSQL (see conftest)


async def history(client: Client) -> list[pb.ChatMessage]:
    return list((await client.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION))).messages)


async def pin(client: Client, message_id: str) -> pb.ChatMessage:
    return (await client.call("PinMessage", pb.PinMessageRequest(session_id=SESSION, message_id=message_id))).message


async def unpin(client: Client, message_id: str) -> None:
    await client.call("UnpinMessage", pb.UnpinMessageRequest(session_id=SESSION, message_id=message_id))


async def pinned(client: Client) -> list[pb.ChatMessage]:
    return list((await client.call("ListPinnedMessages", pb.ListPinnedMessagesRequest(session_id=SESSION))).messages)


def close(*streams) -> None:
    for stream in streams:
        stream.cancel()


class TestReplies:
    async def test_a_reply_carries_the_originals_id_and_an_excerpt(self, alice, bob, carol):
        watcher, replier = await opened(carol, bob)
        original = await alice.send(SESSION, "Rivers: " + "erosion and deposition " * 10)
        request_id = replier.act(send_message=pb.SendMessageAction(text="Does this include deltas?", reply_to_message_id=original.message_id))
        accepted = (await replier.reply_to(request_id)).action_accepted
        by_unary = await carol.send(SESSION, "Me too", reply_to_message_id=original.message_id)

        await watcher.next("message_posted")
        reply = (await watcher.next("message_posted")).message_posted
        assert reply.message_id == accepted.message_id
        assert reply.reply_to.message_id == original.message_id and reply.reply_to.sender_id == "alice"
        assert reply.reply_to.excerpt == original.text[:80] and len(original.text) > 80
        assert by_unary.reply_to == reply.reply_to
        assert [m.reply_to for m in await history(alice)][:2] == [by_unary.reply_to, reply.reply_to]
        close(watcher, replier)

    async def test_a_reply_to_a_private_message_stays_between_the_same_two(self, alice, bob, carol):
        teacher, participant, bystander = await opened(alice, bob, carol)
        private = await alice.send(SESSION, "Your essay needs sources", recipient_id="bob")
        reply = await bob.send(SESSION, "Which ones?", reply_to_message_id=private.message_id)
        assert reply.recipient_id == "alice" and reply.reply_to.excerpt == "Your essay needs sources"

        for stream in (teacher, participant):
            await stream.next("private_message_posted")
            posted = (await stream.next("private_message_posted")).private_message_posted
            assert posted.message_id == reply.message_id and posted.reply_to.message_id == private.message_id
        await alice.send(SESSION, "marker")
        await bystander.next("message_posted")
        assert "private_message_posted" not in bystander.kinds()
        assert [m.text for m in await history(carol)] == ["marker"]
        error = await refused(
            grpc.StatusCode.INVALID_ARGUMENT,
            alice.send(SESSION, "to carol?", reply_to_message_id=private.message_id, recipient_id="carol"),
        )
        assert "other party" in error.details()
        close(teacher, participant, bystander)

    async def test_replying_to_what_you_cannot_see_is_not_found(self, alice, bob, carol):
        await opened(alice, bob, carol)
        private = await alice.send(SESSION, "for bob only", recipient_id="bob")
        elsewhere = await alice.send("other-class", "other session")
        await refused(grpc.StatusCode.NOT_FOUND, carol.send(SESSION, "peek", reply_to_message_id=private.message_id))
        await refused(grpc.StatusCode.NOT_FOUND, carol.send(SESSION, "cross", reply_to_message_id=elsewhere.message_id))
        assert [m.text for m in await history(carol)] == []

    async def test_replying_to_a_deleted_message_is_not_found_on_both_paths(self, alice, bob):
        gone = await bob.send(SESSION, "never mind")
        await alice.call("DeleteMessage", pb.DeleteMessageRequest(session_id=SESSION, message_id=gone.message_id))
        error = await refused(grpc.StatusCode.NOT_FOUND, alice.send(SESSION, "what was it?", reply_to_message_id=gone.message_id))
        assert "deleted" in error.details()
        [stream] = await opened(bob)
        bad = stream.act(send_message=pb.SendMessageAction(text="re", reply_to_message_id=gone.message_id))
        assert (await stream.reply_to(bad)).error.code == grpc.StatusCode.NOT_FOUND.value[0]
        assert [m.message_id for m in await history(alice)] == [gone.message_id]
        stream.cancel()


class TestPins:
    async def test_instructors_pin_and_everyone_sees_it(self, alice, bob, carol):
        teacher, watcher = await opened(alice, carol)
        first = await alice.send(SESSION, "Exam on the 12th")
        second = await bob.send(SESSION, "Notes are on the wiki")
        await carol.call("AddReaction", pb.AddReactionRequest(session_id=SESSION, message_id=second.message_id, emoji="👍"))

        request_id = teacher.act(pin_message=pb.MessageAction(message_id=second.message_id))
        accepted = (await teacher.reply_to(request_id)).action_accepted
        assert accepted.sequence > 0
        pinned_first = await pin(alice, first.message_id)
        assert pinned_first.pinned and pinned_first.message_id == first.message_id

        for stream in (teacher, watcher):
            event = await stream.next("message_pinned")
            assert event.sequence == accepted.sequence
            assert event.message_pinned.pinned_by == "alice" and event.message_pinned.message.pinned
            assert event.message_pinned.message.text == "Notes are on the wiki"
            assert [(r.emoji, r.count) for r in event.message_pinned.message.reactions] == [("👍", 1)]
            assert (await stream.next("message_pinned")).message_pinned.message.message_id == first.message_id

        # In pin order, with the viewer's reaction flags.
        listed = await pinned(carol)
        assert [m.message_id for m in listed] == [second.message_id, first.message_id]
        assert listed[0].reactions[0].reacted_by_me
        assert all(m.pinned for m in await history(bob) if m.message_id in (first.message_id, second.message_id))
        late = bob.subscribe(SESSION)
        snapshot = (await late.next("stream_started")).stream_started.snapshot
        assert [m.message_id for m in snapshot.pinned_messages] == [second.message_id, first.message_id]
        close(teacher, watcher, late)

    async def test_unpin_and_repeats_are_harmless(self, alice, bob):
        [watcher] = await opened(bob)
        message = await alice.send(SESSION, "Bring a calculator")
        await pin(alice, message.message_id)
        assert (await pin(alice, message.message_id)).pinned  # again: no second event
        teacher = alice.stream(SESSION)
        await teacher.next("stream_started")
        request_id = teacher.act(unpin_message=pb.MessageAction(message_id=message.message_id))
        assert (await teacher.reply_to(request_id)).action_accepted.sequence > 0
        await unpin(alice, message.message_id)  # not pinned any more: harmless
        await alice.send(SESSION, "marker")

        await watcher.next("message_pinned")
        unpinned = (await watcher.next("message_unpinned")).message_unpinned
        assert (unpinned.message_id, unpinned.unpinned_by) == (message.message_id, "alice")
        await watcher.next("message_posted")
        assert watcher.kinds().count("message_pinned") == 1 and watcher.kinds().count("message_unpinned") == 1
        assert await pinned(bob) == []
        close(watcher, teacher)

    async def test_participants_may_not_pin_or_unpin(self, alice, bob):
        message = await alice.send(SESSION, "pin me?")
        error = await refused(grpc.StatusCode.PERMISSION_DENIED, pin(bob, message.message_id))
        assert "only instructors" in error.details()
        await pin(alice, message.message_id)
        await refused(grpc.StatusCode.PERMISSION_DENIED, unpin(bob, message.message_id))
        [stream] = await opened(bob)
        bad = stream.act(pin_message=pb.MessageAction(message_id=message.message_id))
        assert (await stream.reply_to(bad)).error.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
        assert [m.message_id for m in await pinned(bob)] == [message.message_id]
        stream.cancel()

    async def test_missing_deleted_or_unseen_messages_cannot_be_pinned(self, alice, bob, connect):
        await refused(grpc.StatusCode.NOT_FOUND, pin(alice, "f" * 32))
        await refused(grpc.StatusCode.INVALID_ARGUMENT, pin(alice, ""))
        message = await bob.send(SESSION, "spam")
        await alice.call("DeleteMessage", pb.DeleteMessageRequest(session_id=SESSION, message_id=message.message_id))
        await refused(grpc.StatusCode.NOT_FOUND, pin(alice, message.message_id))
        await opened(alice, bob)
        private = await bob.send(SESSION, "to alice only", recipient_id="alice")
        other_instructor = connect("dave", "instructor")
        await refused(grpc.StatusCode.NOT_FOUND, pin(other_instructor, private.message_id))
        assert await pinned(alice) == []


class TestMentions:
    async def test_mentioned_users_get_a_mention_event_and_nobody_else(self, alice, bob, carol, connect):
        dave = connect("dave", name="Dave")
        teacher, mentioned_1, mentioned_2, bystander = await opened(alice, bob, carol, dave)
        request_id = teacher.act(send_message=pb.SendMessageAction(text="@bob and @Carol: present next, thanks @bob!"))
        message_id = (await teacher.reply_to(request_id)).action_accepted.message_id

        posted = (await bystander.next("message_posted")).message_posted
        assert list(posted.mentioned_user_ids) == ["bob", "carol"]
        for stream in (mentioned_1, mentioned_2):
            await stream.next("message_posted")
            mention = await stream.next("mentioned")
            assert mention.sequence > 0 and mention.mentioned.message.message_id == message_id
            assert list(mention.mentioned.message.mentioned_user_ids) == ["bob", "carol"]
        await alice.send(SESSION, "marker")
        for stream in (teacher, bystander):
            await stream.next("message_posted")
            assert "mentioned" not in stream.kinds()
        assert mentioned_1.kinds().count("mentioned") == 1
        [stored] = [m for m in await history(dave) if m.message_id == message_id]
        assert list(stored.mentioned_user_ids) == ["bob", "carol"]
        close(teacher, mentioned_1, mentioned_2, bystander)

    async def test_names_with_spaces_whole_words_only_and_never_email_addresses(self, alice, connect):
        dan = connect("dan", name="Dan Brown")
        bobby = connect("bobby", name="Robert")
        await opened(dan, bobby, alice)
        mentioned = await alice.send(SESSION, "@dan brown, see @Robert. Not @danny, not x@dan.org, not @ghost")
        assert list(mentioned.mentioned_user_ids) == ["dan", "bobby"]
        assert list((await alice.send(SESSION, "@alice talking to myself")).mentioned_user_ids) == []

    async def test_a_mention_reaches_a_user_who_was_away_when_they_resume(self, alice, bob):
        [away] = await opened(bob)
        await alice.send(SESSION, "before")
        last_seen = await away.next("message_posted")
        away.cancel()
        for n in range(3):
            await alice.send(SESSION, f"filler {n}")
        message = await alice.send(SESSION, "@Bob please answer question 2")

        resumed = bob.subscribe(SESSION, last_sequence=last_seen.sequence)
        assert (await resumed.next("stream_started")).stream_started.recovered
        mention = await resumed.next("mentioned")
        assert mention.mentioned.message.message_id == message.message_id
        resumed.cancel()

    async def test_in_a_private_message_only_the_other_party_can_be_mentioned(self, alice, bob, carol):
        teacher, participant, bystander = await opened(alice, bob, carol)
        message = await alice.send(SESSION, "@bob, do not tell @carol", recipient_id="bob")
        assert list(message.mentioned_user_ids) == ["bob"]
        assert (await participant.next("mentioned")).mentioned.message.recipient_id == "bob"
        await alice.send(SESSION, "marker")
        await bystander.next("message_posted")
        assert "mentioned" not in bystander.kinds() and "private_message_posted" not in bystander.kinds()
        close(teacher, participant, bystander)
