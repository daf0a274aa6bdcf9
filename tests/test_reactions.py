"""Reactions: the allowed list, once per user, counts in events and messages, who reacted, refusals."""

from __future__ import annotations

import grpc
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import Client, refused
from tests.support.streams import SESSION, started, subscribed

BOTH_BACKENDS = True  # SQLite and PostgreSQL (see conftest)
THUMBS, CLAP, HEART, FIRE = "👍", "👏", "❤️", "🔥"


async def react(client: Client, message_id: str, emoji: str, session: str = SESSION) -> int:
    response = await client.call("AddReaction", pb.AddReactionRequest(session_id=session, message_id=message_id, emoji=emoji))
    return response.count


async def unreact(client: Client, message_id: str, emoji: str) -> int:
    response = await client.call("RemoveReaction", pb.RemoveReactionRequest(session_id=SESSION, message_id=message_id, emoji=emoji))
    return response.count


def counts(message: pb.ChatMessage) -> list[tuple[str, int, bool]]:
    return [(r.emoji, r.count, r.reacted_by_me) for r in message.reactions]


async def test_reaction_events_carry_the_new_count_to_everyone(alice, bob, carol):
    teacher, watcher = await subscribed(alice, carol)
    reactor = bob.stream(SESSION)
    await reactor.next("stream_started")
    message = await alice.send(SESSION, "Photosynthesis quiz tomorrow")

    request_id = reactor.act(add_reaction=pb.ReactionAction(message_id=message.message_id, emoji=THUMBS))
    accepted = (await reactor.reply_to(request_id)).action_accepted
    assert accepted.sequence > 0 and accepted.message_id == message.message_id
    assert await react(carol, message.message_id, THUMBS) == 2

    for stream in (teacher, watcher, reactor):
        first = await stream.next("reaction_added")
        second = await stream.next("reaction_added")
        assert first.sequence == accepted.sequence and second.sequence == accepted.sequence + 1
        assert (first.reaction_added.user_id, first.reaction_added.emoji, first.reaction_added.count) == ("bob", THUMBS, 1)
        assert (second.reaction_added.user_id, second.reaction_added.count) == ("carol", 2)
        assert second.reaction_added.message_id == message.message_id
    for stream in (teacher, watcher, reactor):
        stream.cancel()


async def test_adding_twice_is_harmless_and_remove_takes_it_back(alice, bob):
    [teacher] = await subscribed(alice)
    reactor = bob.stream(SESSION)
    await reactor.next("stream_started")
    message = await alice.send(SESSION, "Read chapter 4")

    assert await react(bob, message.message_id, FIRE) == 1
    assert await react(bob, message.message_id, FIRE) == 1
    again = reactor.act(add_reaction=pb.ReactionAction(message_id=message.message_id, emoji=FIRE))
    assert (await reactor.reply_to(again)).action_accepted.sequence == 0

    removal = reactor.act(remove_reaction=pb.ReactionAction(message_id=message.message_id, emoji=FIRE))
    assert (await reactor.reply_to(removal)).action_accepted.sequence > 0
    assert await unreact(bob, message.message_id, FIRE) == 0  # nothing left to remove: harmless
    await alice.send(SESSION, "marker")

    added = await teacher.next("reaction_added")
    removed = await teacher.next()
    assert removed.WhichOneof("kind") == "reaction_removed"
    assert (removed.reaction_removed.user_id, removed.reaction_removed.emoji, removed.reaction_removed.count) == ("bob", FIRE, 0)
    assert (await teacher.next()).message_posted.text == "marker"
    assert teacher.kinds().count("reaction_added") == 1 and teacher.kinds().count("reaction_removed") == 1
    assert added.reaction_added.count == 1
    [stored] = [m for m in (await alice.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION))).messages if m.message_id == message.message_id]
    assert list(stored.reactions) == []
    teacher.cancel()
    reactor.cancel()


async def test_messages_carry_counts_and_whether_the_viewer_reacted(alice, bob, carol):
    message = await alice.send(SESSION, "Which topic next?")
    await react(carol, message.message_id, FIRE)
    await react(bob, message.message_id, THUMBS)
    await react(carol, message.message_id, THUMBS)

    async def seen_by(client: Client) -> pb.ChatMessage:
        [stored] = (await client.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION))).messages
        return stored

    # The configured order (👍 before 🔥), whatever came first.
    assert counts(await seen_by(bob)) == [(THUMBS, 2, True), (FIRE, 1, False)]
    assert counts(await seen_by(carol)) == [(THUMBS, 2, True), (FIRE, 1, True)]
    assert counts(await seen_by(alice)) == [(THUMBS, 2, False), (FIRE, 1, False)]

    stream = bob.stream(SESSION)
    snapshot = (await stream.next("stream_started")).stream_started.snapshot
    assert counts(snapshot.recent_messages[0]) == [(THUMBS, 2, True), (FIRE, 1, False)]
    stream.cancel()


async def test_list_reactions_says_who_reacted_with_what(alice, bob, carol):
    message = await alice.send(SESSION, "Lab report due Friday")
    await react(bob, message.message_id, CLAP)
    await react(carol, message.message_id, HEART)
    await react(bob, message.message_id, HEART)

    listed = (await carol.call("ListReactions", pb.ListReactionsRequest(session_id=SESSION, message_id=message.message_id))).reactions
    assert [(r.user_id, r.display_name, r.emoji) for r in listed] == [("bob", "Bob", CLAP), ("carol", "Carol", HEART), ("bob", "Bob", HEART)]
    assert all(r.time.seconds > 0 for r in listed)


async def test_a_heart_without_its_variation_selector_is_the_same_reaction(alice, bob, carol):
    message = await alice.send(SESSION, "Great work everyone")
    assert await react(bob, message.message_id, "\u2764") == 1
    assert await react(carol, message.message_id, HEART) == 2
    listed = (await alice.call("ListReactions", pb.ListReactionsRequest(session_id=SESSION, message_id=message.message_id))).reactions
    assert {r.emoji for r in listed} == {HEART}


async def test_unknown_or_missing_emoji_and_missing_message_id_are_invalid_on_both_paths(alice, bob):
    message = await alice.send(SESSION, "hello")
    error = await refused(grpc.StatusCode.INVALID_ARGUMENT, react(bob, message.message_id, "😀"))
    assert "not an allowed reaction" in error.details() and THUMBS in error.details()
    await refused(grpc.StatusCode.INVALID_ARGUMENT, react(bob, message.message_id, ""))
    await refused(grpc.StatusCode.INVALID_ARGUMENT, react(bob, "", THUMBS))

    stream = bob.stream(SESSION)
    await stream.next("stream_started")
    bad = stream.act(add_reaction=pb.ReactionAction(message_id=message.message_id, emoji="🤡"))
    error_event = (await stream.reply_to(bad)).error
    assert error_event.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] and "not an allowed reaction" in error_event.message
    listed = (await alice.call("ListReactions", pb.ListReactionsRequest(session_id=SESSION, message_id=message.message_id))).reactions
    assert list(listed) == []
    stream.cancel()


async def test_the_reaction_list_is_configurable(server, alice, bob):
    server.settings.reactions = ("🎉", THUMBS)
    message = await alice.send(SESSION, "We won the science fair")
    assert await react(bob, message.message_id, "🎉") == 1
    error = await refused(grpc.StatusCode.INVALID_ARGUMENT, react(bob, message.message_id, FIRE))
    assert "🎉 👍" in error.details()


async def test_missing_and_deleted_messages_are_not_found(alice, bob):
    await refused(grpc.StatusCode.NOT_FOUND, react(bob, "0" * 32, THUMBS))
    message = await alice.send(SESSION, "oops, wrong chat")
    elsewhere = await alice.send("other-session", "elsewhere")
    await refused(grpc.StatusCode.NOT_FOUND, react(bob, elsewhere.message_id, THUMBS))
    await react(bob, message.message_id, THUMBS)
    await alice.call("DeleteMessage", pb.DeleteMessageRequest(session_id=SESSION, message_id=message.message_id))

    error = await refused(grpc.StatusCode.NOT_FOUND, react(bob, message.message_id, FIRE))
    assert "deleted" in error.details()
    await refused(grpc.StatusCode.NOT_FOUND, unreact(bob, message.message_id, THUMBS))
    await refused(
        grpc.StatusCode.NOT_FOUND,
        bob.call("ListReactions", pb.ListReactionsRequest(session_id=SESSION, message_id=message.message_id)),
    )
    stream = bob.stream(SESSION)
    await stream.next("stream_started")
    bad = stream.act(add_reaction=pb.ReactionAction(message_id=message.message_id, emoji=FIRE))
    assert (await stream.reply_to(bad)).error.code == grpc.StatusCode.NOT_FOUND.value[0]
    stream.cancel()


async def test_on_a_private_message_only_its_parties_react_and_see_the_events(alice, bob, carol):
    teacher, participant, bystander = await subscribed(alice, bob, carol)
    private = await bob.send(SESSION, "Can I hand in late?", recipient_id="alice")

    await refused(grpc.StatusCode.NOT_FOUND, react(carol, private.message_id, THUMBS))
    assert await react(alice, private.message_id, THUMBS) == 1
    await alice.send(SESSION, "marker")

    for stream in (teacher, participant):
        event = await stream.next("reaction_added")
        assert event.reaction_added.message_id == private.message_id and event.reaction_added.user_id == "alice"
    await bystander.next("message_posted")
    assert "reaction_added" not in bystander.kinds()
    await refused(
        grpc.StatusCode.NOT_FOUND,
        carol.call("ListReactions", pb.ListReactionsRequest(session_id=SESSION, message_id=private.message_id)),
    )
    for stream in (teacher, participant, bystander):
        stream.cancel()


async def test_a_resumed_stream_replays_missed_reactions(alice, bob):
    message = await alice.send(SESSION, "Before the drop")
    first = bob.subscribe(SESSION)
    await first.next("stream_started")
    await alice.send(SESSION, "seen")
    seen = await first.next("message_posted")
    first.cancel()
    await react(alice, message.message_id, CLAP)

    resumed = bob.subscribe(SESSION, last_sequence=seen.sequence)
    assert (await resumed.next("stream_started")).stream_started.recovered
    replayed = await resumed.next("reaction_added")
    assert (replayed.reaction_added.emoji, replayed.reaction_added.count) == (CLAP, 1)
    resumed.cancel()


def test_reactions_and_the_typing_timeout_come_from_the_environment():
    from chatsvc.config import Settings

    settings = Settings.from_env({"CHATSVC_REACTIONS": "🎉, 👍", "CHATSVC_TYPING_TIMEOUT_SECONDS": "2.5"})
    assert settings.reactions == ("🎉", THUMBS) and settings.typing_timeout_seconds == 2.5
    defaults = Settings.from_env({})
    assert defaults.reactions == (THUMBS, CLAP, HEART, FIRE) and defaults.typing_timeout_seconds == 5.0


async def test_every_stream_start_names_the_configured_reactions_in_order(alice, bob):
    """A client offers the server's reactions (CHATSVC_REACTIONS), on a fresh join and on a resume."""
    (stream,) = await subscribed(bob)
    assert list(stream.events[0].stream_started.reactions) == [THUMBS, CLAP, HEART, FIRE]
    await alice.call("SendMessage", pb.SendMessageRequest(session_id=SESSION, text="hello", client_message_id="m1"))
    posted = await stream.next("message_posted")
    resumed = await started(bob.subscribe(SESSION, last_sequence=posted.sequence))
    assert resumed.events[0].stream_started.recovered
    assert list(resumed.events[0].stream_started.reactions) == [THUMBS, CLAP, HEART, FIRE]
