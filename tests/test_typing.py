"""Typing indicators: start/stop, private typing, expiry on a short timeout, never persisted."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import Client, refused
from tests.support.streams import SESSION, opened

TYPING = ("typing_started", "typing_stopped")


async def set_typing(client: Client, typing: bool, recipient_id: str = "") -> None:
    await client.call("SetTyping", pb.SetTypingRequest(session_id=SESSION, typing=typing, recipient_id=recipient_id))


def typing_events(stream) -> list[tuple[str, str, str]]:
    return [
        (kind, getattr(event, kind).user_id, getattr(event, kind).recipient_id)
        for event in stream.events
        if (kind := event.WhichOneof("kind")) in TYPING
    ]


@pytest.fixture
def long_typing(server):
    """A timeout that never fires during a test: every typing_stopped seen comes from something else."""
    server.settings.typing_timeout_seconds = 60


async def test_public_typing_starts_once_and_stops_for_everyone(alice, bob, carol, long_typing):
    teacher, typist, watcher = await opened(alice, bob, carol)
    start = typist.act(set_typing=pb.TypingAction(typing=True))
    accepted = (await typist.reply_to(start)).action_accepted
    assert accepted.sequence == 0  # a notice, not a persisted event
    await set_typing(bob, True)  # a refresh: no second announcement

    for stream in (teacher, watcher):
        started = await stream.next("typing_started")
        assert started.sequence == 0
        assert (started.typing_started.user_id, started.typing_started.display_name, started.typing_started.recipient_id) == ("bob", "Bob", "")

    await set_typing(bob, False)
    for stream in (teacher, watcher):
        assert (await stream.next("typing_stopped")).typing_stopped.user_id == "bob"
    await set_typing(bob, False)  # not typing any more: harmless
    await alice.send(SESSION, "marker")
    await watcher.next("message_posted")
    assert typing_events(watcher) == [("typing_started", "bob", ""), ("typing_stopped", "bob", "")]
    for stream in (teacher, typist, watcher):
        stream.cancel()


async def test_private_typing_is_seen_only_by_the_other_party(alice, bob, carol, connect, long_typing):
    other_instructor = connect("dave", "instructor")
    teacher, typist, bystander, colleague = await opened(alice, bob, carol, other_instructor)
    request_id = typist.act(set_typing=pb.TypingAction(typing=True, recipient_id="alice"))
    assert (await typist.reply_to(request_id)).WhichOneof("kind") == "action_accepted"

    started = await teacher.next("typing_started")
    assert (started.typing_started.user_id, started.typing_started.recipient_id) == ("bob", "alice")
    await set_typing(bob, False, "alice")
    assert (await teacher.next("typing_stopped")).typing_stopped.recipient_id == "alice"

    await alice.send(SESSION, "marker")
    for stream in (bystander, colleague, typist):
        await stream.next("message_posted")
        assert typing_events(stream) == []
    for stream in (teacher, typist, bystander, colleague):
        stream.cancel()


async def test_private_typing_follows_the_private_message_rules(alice, bob, carol):
    await opened(alice, bob, carol)
    error = await refused(grpc.StatusCode.PERMISSION_DENIED, set_typing(bob, True, "carol"))
    assert "only to instructors" in error.details()
    await refused(grpc.StatusCode.NOT_FOUND, set_typing(bob, True, "ghost"))
    await refused(grpc.StatusCode.INVALID_ARGUMENT, set_typing(bob, True, "bob"))
    await refused(grpc.StatusCode.INVALID_ARGUMENT, set_typing(bob, True, "x" * 129))
    stream = bob.stream(SESSION)
    await stream.next("stream_started")
    bad = stream.act(set_typing=pb.TypingAction(typing=True, recipient_id="carol"))
    assert (await stream.reply_to(bad)).error.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    stream.cancel()


async def test_typing_expires_after_the_configured_timeout(server, alice, bob):
    server.settings.typing_timeout_seconds = 0.2
    [watcher] = await opened(alice)
    began = time.monotonic()
    await set_typing(bob, True)
    await watcher.next("typing_started")
    stopped = await watcher.next("typing_stopped")  # sent by the server itself
    elapsed = time.monotonic() - began
    assert stopped.typing_stopped.user_id == "bob" and stopped.sequence == 0
    assert elapsed >= 0.19
    watcher.cancel()


async def test_a_refresh_pushes_the_expiry_back(server, alice, bob):
    timeout = 0.3
    server.settings.typing_timeout_seconds = timeout
    [watcher] = await opened(alice)
    await set_typing(bob, True)
    await watcher.next("typing_started")
    await asyncio.sleep(timeout / 2)  # a delay, not an assertion: type on for a while
    refreshed = time.monotonic()
    await set_typing(bob, True)
    await watcher.next("typing_stopped")
    assert time.monotonic() - refreshed >= timeout * 0.95, "the refresh must restart the timeout"
    assert [kind for kind, *_ in typing_events(watcher)] == ["typing_started", "typing_stopped"]
    watcher.cancel()


async def test_sending_a_message_stops_the_senders_typing(alice, bob, carol, long_typing):
    teacher, typist = await opened(alice, bob)
    await set_typing(bob, True)
    await teacher.next("typing_started")
    sent = typist.act(send_message=pb.SendMessageAction(text="my answer is 42"))
    assert (await typist.reply_to(sent)).action_accepted.sequence > 0
    assert (await teacher.next("message_posted")).message_posted.text == "my answer is 42"
    assert (await teacher.next("typing_stopped")).typing_stopped.user_id == "bob"

    # A private message stops the typing in that private conversation.
    await set_typing(bob, True, "alice")
    await teacher.next("typing_started")
    await bob.send(SESSION, "psst", recipient_id="alice")
    stopped = await teacher.next("typing_stopped")
    assert (stopped.typing_stopped.user_id, stopped.typing_stopped.recipient_id) == ("bob", "alice")
    teacher.cancel()
    typist.cancel()


async def test_leaving_the_session_stops_typing(alice, bob, long_typing):
    teacher, typist = await opened(alice, bob)
    await set_typing(bob, True)
    await teacher.next("typing_started")
    typist.cancel()
    await teacher.next("user_left")
    assert (await teacher.next("typing_stopped")).typing_stopped.user_id == "bob"
    teacher.cancel()


async def test_typing_is_never_persisted(alice, bob, long_typing):
    [watcher] = await opened(alice)
    await alice.send(SESSION, "before")
    before = await watcher.next("message_posted")
    await set_typing(bob, True)
    await set_typing(bob, False)
    await alice.send(SESSION, "after")
    after = await watcher.next("message_posted")
    assert after.sequence == before.sequence + 1, "typing takes no sequence number"

    resumed = alice.subscribe(SESSION, last_sequence=before.sequence)
    assert (await resumed.next("stream_started")).stream_started.recovered
    assert (await resumed.next("message_posted")).message_posted.text == "after"
    assert typing_events(resumed) == []
    history = await alice.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION))
    assert [m.text for m in history.messages] == ["after", "before"]
    watcher.cancel()
    resumed.cancel()
