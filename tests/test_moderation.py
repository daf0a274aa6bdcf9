"""Moderation: deletes, mutes and their expiry, the chat policy, and the audit log."""

from __future__ import annotations

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.clock import FakeClock
from tests.helpers import CODE, refused, retry_delay_seconds
from tests.support.streams import SESSION, opened

# Every test here runs on SQLite and on PostgreSQL.
BOTH_BACKENDS = True


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def close(*streams) -> None:
    for stream in streams:
        stream.cancel()


class TestDelete:
    async def test_instructor_deletes_softly_everyone_sees_the_event_and_history_hides_the_text(self, alice, bob, carol):
        teacher, author, reader = await opened(alice, bob, carol)
        message = await bob.send(SESSION, "oops, wrong chat")
        deleted = (await alice.call("DeleteMessage", pb.DeleteMessageRequest(session_id=SESSION, message_id=message.message_id))).message
        assert deleted.deleted and deleted.text == "" and deleted.delete_time.seconds > 0
        for stream in (teacher, author, reader):
            event = await stream.next("message_deleted")
            assert event.message_deleted.message_id == message.message_id
            assert event.message_deleted.deleted_by == "alice"
        [shown] = (await carol.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION))).messages
        assert shown.deleted and shown.text == "" and shown.message_id == message.message_id
        audit = (await alice.call("ListAuditEvents", pb.ListAuditEventsRequest(session_id=SESSION))).events
        assert [(a.action, a.actor_id, a.target_user_id, a.message_id) for a in audit] == [
            ("delete", "alice", "bob", message.message_id)
        ]
        close(teacher, author, reader)

    async def test_deleting_twice_is_harmless_and_sends_one_event(self, alice, bob):
        [teacher] = await opened(alice)
        message = await bob.send(SESSION, "twice")
        request = pb.DeleteMessageRequest(session_id=SESSION, message_id=message.message_id)
        await alice.call("DeleteMessage", request)
        again = await alice.call("DeleteMessage", request)
        assert again.message.deleted
        await alice.send(SESSION, "marker")
        await teacher.next("message_deleted")
        assert (await teacher.next()).WhichOneof("kind") == "message_posted"
        close(teacher)

    async def test_deleting_a_missing_message_is_not_found(self, alice):
        error = await refused(grpc.StatusCode.NOT_FOUND, alice.call("DeleteMessage", pb.DeleteMessageRequest(session_id=SESSION, message_id="nope")))
        assert "'nope'" in error.details()

    async def test_delete_on_the_stream(self, alice, bob):
        teacher, author = await opened(alice, bob)
        message = await bob.send(SESSION, "delete me")
        request_id = teacher.act(delete_message=pb.MessageAction(message_id=message.message_id))
        assert (await teacher.reply_to(request_id)).action_accepted.sequence > 0
        assert (await author.next("message_deleted")).message_deleted.message_id == message.message_id
        missing = teacher.act(delete_message=pb.MessageAction(message_id="missing"))
        assert CODE[(await teacher.reply_to(missing)).error.code] == grpc.StatusCode.NOT_FOUND
        close(teacher, author)


class TestMute:
    async def test_a_timed_mute_refuses_sends_says_until_when_and_ends_by_itself(self, alice, bob, carol, clock):
        teacher, muted, bystander = await opened(alice, bob, carol)
        mute = (await alice.call("MuteUser", pb.MuteUserRequest(session_id=SESSION, user_id="bob", duration_minutes=10, reason="spamming"))).mute
        assert mute.user_id == "bob" and mute.muted_by == "alice" and mute.reason == "spamming"
        assert mute.end_time.ToDatetime() - mute.start_time.ToDatetime() == __import__("datetime").timedelta(minutes=10)
        for stream in (teacher, muted):
            assert (await stream.next("user_muted")).user_muted.mute.user_id == "bob"

        error = await refused(grpc.StatusCode.FAILED_PRECONDITION, bob.send(SESSION, "let me talk"))
        assert "muted in this session until 2026-01-01 00:10:00 UTC" in error.details()
        on_stream = muted.act(send_message=pb.SendMessageAction(text="still muted?"))
        assert CODE[(await muted.reply_to(on_stream)).error.code] == grpc.StatusCode.FAILED_PRECONDITION

        clock.advance(minutes=10)
        assert (await bob.send(SESSION, "free again")).text == "free again"
        for stream in (teacher, muted):
            unmuted = (await stream.next("user_unmuted")).user_unmuted
            assert unmuted.user_id == "bob" and unmuted.expired and unmuted.unmuted_by == ""
        await carol.send(SESSION, "marker")
        assert (await bystander.next("message_posted")).message_posted.text == "free again"
        assert "user_muted" not in bystander.kinds() and "user_unmuted" not in bystander.kinds()
        close(teacher, muted, bystander)

    async def test_unmute_ends_the_mute_at_once(self, alice, bob):
        teacher, muted = await opened(alice, bob)
        await alice.call("MuteUser", pb.MuteUserRequest(session_id=SESSION, user_id="bob"))
        error = await refused(grpc.StatusCode.FAILED_PRECONDITION, bob.send(SESSION, "hello"))
        assert "until an instructor unmutes you" in error.details()
        assert [m.user_id for m in (await alice.call("ListMutes", pb.ListMutesRequest(session_id=SESSION))).mutes] == ["bob"]

        await alice.call("UnmuteUser", pb.UnmuteUserRequest(session_id=SESSION, user_id="bob"))
        unmuted = (await muted.next("user_unmuted")).user_unmuted
        assert unmuted.unmuted_by == "alice" and not unmuted.expired
        assert (await bob.send(SESSION, "hello")).text == "hello"
        assert (await alice.call("ListMutes", pb.ListMutesRequest(session_id=SESSION))).mutes == []
        # Unmuting someone who is not muted is harmless.
        await alice.call("UnmuteUser", pb.UnmuteUserRequest(session_id=SESSION, user_id="bob"))
        close(teacher, muted)

    async def test_expired_mutes_leave_the_list_and_the_session_learns_of_it(self, alice, bob, clock):
        [teacher] = await opened(alice)
        await bob.send(SESSION, "hi")
        await alice.call("MuteUser", pb.MuteUserRequest(session_id=SESSION, user_id="bob", duration_minutes=1))
        clock.advance(minutes=1, seconds=1)
        assert (await alice.call("ListMutes", pb.ListMutesRequest(session_id=SESSION))).mutes == []
        assert (await teacher.next("user_unmuted")).user_unmuted.expired
        close(teacher)

    async def test_mute_on_the_stream_and_the_muted_users_snapshot(self, alice, bob, connect):
        [teacher] = await opened(alice)
        await bob.send(SESSION, "hi")
        request_id = teacher.act(mute_user=pb.MuteAction(user_id="bob", duration_minutes=5, reason="calm down"))
        assert (await teacher.reply_to(request_id)).action_accepted.sequence > 0
        rejoined = bob.subscribe(SESSION)
        snapshot = (await rejoined.next("stream_started")).stream_started.snapshot
        assert snapshot.my_mute.reason == "calm down" and [m.user_id for m in snapshot.active_mutes] == ["bob"]
        unmute = teacher.act(unmute_user=pb.UnmuteAction(user_id="bob"))
        assert (await teacher.reply_to(unmute)).action_accepted.sequence > 0
        assert (await rejoined.next("user_unmuted")).user_unmuted.unmuted_by == "alice"
        close(teacher, rejoined)

    async def test_instructors_cannot_be_muted_and_unknown_users_are_not_found(self, alice, connect):
        other = connect("dave", "instructor")
        await other.send(SESSION, "hello")
        error = await refused(grpc.StatusCode.PERMISSION_DENIED, alice.call("MuteUser", pb.MuteUserRequest(session_id=SESSION, user_id="dave")))
        assert "instructors cannot be muted" in error.details()
        await refused(grpc.StatusCode.NOT_FOUND, alice.call("MuteUser", pb.MuteUserRequest(session_id=SESSION, user_id="ghost")))
        await refused(grpc.StatusCode.INVALID_ARGUMENT, alice.call("MuteUser", pb.MuteUserRequest(session_id=SESSION, user_id="dave", duration_minutes=-5)))
        await refused(grpc.StatusCode.INVALID_ARGUMENT, alice.call("MuteUser", pb.MuteUserRequest(session_id=SESSION)))


INSTRUCTOR_ONLY = [
    ("DeleteMessage", pb.DeleteMessageRequest(session_id=SESSION, message_id="x")),
    ("MuteUser", pb.MuteUserRequest(session_id=SESSION, user_id="carol")),
    ("UnmuteUser", pb.UnmuteUserRequest(session_id=SESSION, user_id="carol")),
    ("ListMutes", pb.ListMutesRequest(session_id=SESSION)),
    ("UpdateChatPolicy", pb.UpdateChatPolicyRequest(session_id=SESSION, policy=pb.ChatPolicy(public_chat=pb.PUBLIC_CHAT_EVERYONE))),
    ("ClearStrikes", pb.ClearStrikesRequest(session_id=SESSION, user_id="carol")),
    ("ListAuditEvents", pb.ListAuditEventsRequest(session_id=SESSION)),
]


@pytest.mark.parametrize(("method", "request_message"), INSTRUCTOR_ONLY, ids=[m for m, _ in INSTRUCTOR_ONLY])
async def test_participants_are_refused_every_instructor_action(bob, carol, method, request_message):
    await carol.send(SESSION, "hi")
    error = await refused(grpc.StatusCode.PERMISSION_DENIED, bob.call(method, request_message))
    assert "only instructors may" in error.details()


async def test_participants_are_refused_instructor_actions_on_the_stream(bob, carol):
    message = await carol.send(SESSION, "hi")
    [stream] = await opened(bob)
    actions = [
        {"delete_message": pb.MessageAction(message_id=message.message_id)},
        {"mute_user": pb.MuteAction(user_id="carol")},
        {"unmute_user": pb.UnmuteAction(user_id="carol")},
    ]
    for action in actions:
        error = (await stream.reply_to(stream.act(**action))).error
        assert CODE[error.code] == grpc.StatusCode.PERMISSION_DENIED
    [still_there] = (await bob.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION))).messages
    assert not still_there.deleted
    close(stream)


async def test_an_instructor_token_for_another_session_has_no_powers_here(connect, bob):
    elsewhere = connect("erin", "instructor", sessions=["other-class"])
    message = await bob.send(SESSION, "hi")
    request = pb.DeleteMessageRequest(session_id=SESSION, message_id=message.message_id)
    await refused(grpc.StatusCode.PERMISSION_DENIED, elsewhere.call("DeleteMessage", request))


class TestPolicy:
    async def policy(self, client, **fields):
        request = pb.UpdateChatPolicyRequest(session_id=SESSION, policy=pb.ChatPolicy(**fields))
        return (await client.call("UpdateChatPolicy", request)).policy

    async def test_instructors_only_public_chat(self, alice, bob):
        teacher, student = await opened(alice, bob)
        await self.policy(alice, public_chat=pb.PUBLIC_CHAT_INSTRUCTORS_ONLY, private_chat_enabled=True)
        changed = (await student.next("chat_policy_changed")).chat_policy_changed
        assert changed.policy.public_chat == pb.PUBLIC_CHAT_INSTRUCTORS_ONLY and changed.changed_by == "alice"
        error = await refused(grpc.StatusCode.PERMISSION_DENIED, bob.send(SESSION, "can I talk?"))
        assert "limited to instructors" in error.details()
        assert (await bob.send(SESSION, "privately then", recipient_id="alice")).recipient_id == "alice"
        assert (await alice.send(SESSION, "instructors may")).text == "instructors may"
        current = (await bob.call("GetChatPolicy", pb.GetChatPolicyRequest(session_id=SESSION))).policy
        assert current.public_chat == pb.PUBLIC_CHAT_INSTRUCTORS_ONLY
        late = bob.subscribe(SESSION)
        assert (await late.next("stream_started")).stream_started.snapshot.policy.public_chat == pb.PUBLIC_CHAT_INSTRUCTORS_ONLY
        close(teacher, student, late)

    async def test_private_chat_off_for_participants(self, alice, bob):
        streams = await opened(alice, bob)
        await self.policy(alice, public_chat=pb.PUBLIC_CHAT_EVERYONE, private_chat_enabled=False)
        error = await refused(grpc.StatusCode.PERMISSION_DENIED, bob.send(SESSION, "psst", recipient_id="alice"))
        assert "private chat is turned off" in error.details()
        assert (await alice.send(SESSION, "instructors still can", recipient_id="bob")).recipient_id == "bob"
        close(*streams)

    async def test_slow_mode_allows_one_message_per_interval(self, alice, bob, clock):
        await self.policy(alice, public_chat=pb.PUBLIC_CHAT_EVERYONE, private_chat_enabled=True, slow_mode_seconds=30)
        await bob.send(SESSION, "first")
        error = await refused(grpc.StatusCode.RESOURCE_EXHAUSTED, bob.send(SESSION, "second"))
        assert "slow mode" in error.details()
        assert retry_delay_seconds(error) == pytest.approx(30)
        clock.advance(seconds=30)
        assert (await bob.send(SESSION, "second")).text == "second"
        assert (await alice.send(SESSION, "a")).text and (await alice.send(SESSION, "b")).text  # instructors exempt

    async def test_policy_defaults_and_bad_values(self, alice, bob):
        policy = (await bob.call("GetChatPolicy", pb.GetChatPolicyRequest(session_id=SESSION))).policy
        assert policy.public_chat == pb.PUBLIC_CHAT_EVERYONE and policy.private_chat_enabled and policy.slow_mode_seconds == 0
        request = pb.UpdateChatPolicyRequest(session_id=SESSION, policy=pb.ChatPolicy(slow_mode_seconds=5))
        error = await refused(grpc.StatusCode.INVALID_ARGUMENT, alice.call("UpdateChatPolicy", request))
        assert "public_chat" in error.details()
        request.policy.public_chat = pb.PUBLIC_CHAT_EVERYONE
        request.policy.slow_mode_seconds = -1
        await refused(grpc.StatusCode.INVALID_ARGUMENT, alice.call("UpdateChatPolicy", request))
        audit = (await alice.call("ListAuditEvents", pb.ListAuditEventsRequest(session_id=SESSION))).events
        assert audit == []  # refused changes leave no trace


async def test_audit_log_pages_newest_first(alice, bob):
    await bob.send(SESSION, "hi")
    for minutes in (1, 2, 3):
        await alice.call("MuteUser", pb.MuteUserRequest(session_id=SESSION, user_id="bob", duration_minutes=minutes, reason=f"r{minutes}"))
    first = await alice.call("ListAuditEvents", pb.ListAuditEventsRequest(session_id=SESSION, page_size=2))
    second = await alice.call("ListAuditEvents", pb.ListAuditEventsRequest(session_id=SESSION, page_size=2, page_token=first.next_page_token))
    assert [e.reason for e in first.events] == ["r3", "r2"]
    assert [e.reason for e in second.events] == ["r1"] and second.next_page_token == ""
    assert all(e.action == "mute" and e.actor_id == "alice" and e.target_user_id == "bob" for e in first.events)


async def test_a_muted_user_cannot_react_either(alice, bob):
    await bob.send(SESSION, "hello")
    message = await alice.send(SESSION, "react to this")
    await alice.call("MuteUser", pb.MuteUserRequest(session_id=SESSION, user_id="bob", duration_minutes=5))
    reaction = pb.AddReactionRequest(session_id=SESSION, message_id=message.message_id, emoji="👍")
    error = await refused(grpc.StatusCode.FAILED_PRECONDITION, bob.call("AddReaction", reaction))
    assert "muted in this session until" in error.details()
    await alice.call("UnmuteUser", pb.UnmuteUserRequest(session_id=SESSION, user_id="bob"))
    assert (await bob.call("AddReaction", reaction)).count == 1


async def test_deleting_a_pinned_message_unpins_it(alice, bob):
    [watcher] = await opened(bob)
    message = await alice.send(SESSION, "pinned, then deleted")
    await alice.call("PinMessage", pb.PinMessageRequest(session_id=SESSION, message_id=message.message_id))
    await alice.call("DeleteMessage", pb.DeleteMessageRequest(session_id=SESSION, message_id=message.message_id))
    deleted = await watcher.next("message_deleted")
    unpinned = await watcher.next("message_unpinned")
    assert unpinned.sequence == deleted.sequence + 1
    assert unpinned.message_unpinned.message_id == message.message_id
    assert (await bob.call("ListPinnedMessages", pb.ListPinnedMessagesRequest(session_id=SESSION))).messages == []
    close(watcher)
