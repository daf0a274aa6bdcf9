"""Safety: the profanity filter with strikes and automatic mutes, and rate limits (local and Redis)."""

from __future__ import annotations

import logging
import uuid

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.clock import FakeClock
from chatsvc.config import Settings
from chatsvc.transport.server import ChatServer
from tests.helpers import (
    CODE,
    SECRET,
    Client,
    ServerProcess,
    refused,
    retry_delay_seconds,
    server_env,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def session() -> str:
    """A session id of its own, so that counters in a shared Redis never collide."""
    return f"safety-{uuid.uuid4().hex[:10]}"



async def audit_actions(instructor: Client, session: str) -> list[tuple[str, str, str]]:
    events = (await instructor.call("ListAuditEvents", pb.ListAuditEventsRequest(session_id=session))).events
    return [(e.action, e.actor_id, e.target_user_id) for e in reversed(events)]


class TestProfanity:
    async def test_censored_text_is_what_everyone_sees_and_in_history(self, alice, bob, carol, session):
        reader = carol.subscribe(session)
        await reader.next("stream_started")
        sent = await bob.send(session, "this is shit")
        assert sent.text == "this is ****"
        assert (await reader.next("message_posted")).message_posted.text == "this is ****"
        [stored] = (await alice.call("ListMessages", pb.ListMessagesRequest(session_id=session))).messages
        assert stored.text == "this is ****"
        reader.cancel()

    async def test_usual_evasions_are_caught(self, bob, session):
        for evasion in ("SHIT", "Sh1t", "f.u.c.k"):
            assert (await bob.send(session, f"{evasion} happens")).text == "**** happens"

    async def test_a_strike_per_censored_message_seen_by_the_author_and_instructors_only(self, alice, bob, carol, session):
        teacher, author, bystander = alice.subscribe(session), bob.subscribe(session), carol.subscribe(session)
        for stream in (teacher, author, bystander):
            await stream.next("stream_started")
        await bob.send(session, "fuck it")
        for stream in (teacher, author):
            strikes = (await stream.next("strikes_changed")).strikes_changed
            assert strikes.user_id == "bob" and strikes.active_strikes == 1
        await carol.send(session, "marker")
        await bystander.next("message_posted")
        await bystander.next("message_posted")
        assert "strikes_changed" not in bystander.kinds()
        for stream in (teacher, author, bystander):
            stream.cancel()

    async def test_the_third_strike_within_the_hour_mutes_for_15_minutes(self, alice, bob, session, clock):
        teacher = alice.subscribe(session)
        await teacher.next("stream_started")
        for n in range(3):
            await bob.send(session, f"fuck number {n}")
        muted = (await teacher.next("user_muted")).user_muted.mute
        assert muted.user_id == "bob" and muted.automatic and muted.muted_by == ""
        assert (muted.end_time.ToDatetime() - muted.start_time.ToDatetime()).total_seconds() == 15 * 60
        error = await refused(grpc.StatusCode.FAILED_PRECONDITION, bob.send(session, "sorry"))
        assert "muted" in error.details()
        assert await audit_actions(alice, session) == [
            ("strike", "", "bob"),
            ("strike", "", "bob"),
            ("strike", "", "bob"),
            ("auto_mute", "", "bob"),
        ]
        clock.advance(minutes=15)
        assert (await bob.send(session, "sorry")).text == "sorry"
        teacher.cancel()

    async def test_strikes_expire_after_an_hour(self, alice, bob, session, clock):
        author = bob.subscribe(session)
        await author.next("stream_started")
        await bob.send(session, "fuck")
        await bob.send(session, "fuck")
        clock.advance(minutes=61)
        await bob.send(session, "fuck")
        counts = [(await author.next("strikes_changed")).strikes_changed.active_strikes for _ in range(3)]
        assert counts == [1, 2, 1]
        assert (await alice.call("ListMutes", pb.ListMutesRequest(session_id=session))).mutes == []
        author.cancel()

    async def test_instructors_are_censored_but_earn_no_strikes(self, alice, session):
        for _ in range(4):
            assert (await alice.send(session, "oh shit")).text == "oh ****"
        assert await audit_actions(alice, session) == []

    async def test_clearing_strikes_is_audited_and_starts_the_count_again(self, alice, bob, session):
        author = bob.subscribe(session)
        await author.next("stream_started")
        await bob.send(session, "fuck")
        await bob.send(session, "fuck")
        await alice.call("ClearStrikes", pb.ClearStrikesRequest(session_id=session, user_id="bob"))
        await bob.send(session, "fuck")
        await bob.send(session, "fuck")
        counts = [(await author.next("strikes_changed")).strikes_changed.active_strikes for _ in range(5)]
        assert counts == [1, 2, 0, 1, 2]
        assert (await alice.call("ListMutes", pb.ListMutesRequest(session_id=session))).mutes == []
        assert ("clear_strikes", "alice", "bob") in await audit_actions(alice, session)
        author.cancel()


class TestDeploymentWords:
    @pytest.fixture
    def settings(self, settings) -> Settings:
        settings.profanity_extra_words = ["blorp"]
        settings.profanity_allowed_words = ["damn"]
        return settings

    async def test_added_words_are_censored_and_allowed_words_pass(self, bob, session):
        assert (await bob.send(session, "you blorp")).text == "you ****"
        assert (await bob.send(session, "damn it")).text == "damn it"

    def test_word_lists_come_from_env_and_a_file(self, tmp_path):
        words = tmp_path / "words.txt"
        words.write_text("# our list\n+frack\nsmeg\n-hell\n")
        settings = Settings.from_env(
            {"CHATSVC_PROFANITY_FILE": str(words), "CHATSVC_PROFANITY_ADD": "blorp, zark", "CHATSVC_PROFANITY_ALLOW": "damn"}
        )
        assert settings.profanity_extra_words == ["blorp", "zark", "frack", "smeg"]
        assert settings.profanity_allowed_words == ["damn", "hell"]


class TestRateLimits:
    async def test_the_sixth_message_in_ten_seconds_is_refused_with_a_retry_delay(self, bob, session, clock):
        for n in range(5):
            await bob.send(session, f"m{n}")
        error = await refused(grpc.StatusCode.RESOURCE_EXHAUSTED, bob.send(session, "m5"))
        assert "at most 5 every 10 seconds" in error.details()
        assert retry_delay_seconds(error) == pytest.approx(10)
        clock.advance(seconds=4)
        assert retry_delay_seconds(await refused(grpc.StatusCode.RESOURCE_EXHAUSTED, bob.send(session, "m5"))) == pytest.approx(6)
        clock.advance(seconds=6)
        assert (await bob.send(session, "m5")).text == "m5"
        history = (await bob.call("ListMessages", pb.ListMessagesRequest(session_id=session))).messages
        assert len(history) == 6, "refused messages are not stored"

    async def test_on_the_stream_the_refusal_is_an_error_event_with_the_delay(self, bob, session):
        stream = bob.stream(session)
        await stream.next("stream_started")
        replies = []
        for n in range(6):
            replies.append(await stream.reply_to(stream.act(send_message=pb.SendMessageAction(text=f"m{n}"))))
        assert [r.WhichOneof("kind") for r in replies] == ["action_accepted"] * 5 + ["error"]
        error = replies[-1].error
        assert CODE[error.code] == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error.retry_delay.ToTimedelta().total_seconds() == pytest.approx(10)
        stream.cancel()

    async def test_instructors_are_not_limited(self, alice, session):
        for n in range(12):
            await alice.send(session, f"m{n}")

    async def test_the_eleventh_reaction_in_a_minute_is_refused(self, alice, bob, session, clock):
        messages = [await alice.send(session, f"m{n}") for n in range(3)]
        reactions = [(m.message_id, emoji) for m in messages for emoji in ("👍", "👏", "❤️", "🔥")]
        for message_id, emoji in reactions[:10]:
            await bob.call("AddReaction", pb.AddReactionRequest(session_id=session, message_id=message_id, emoji=emoji))
        message_id, emoji = reactions[10]
        request = pb.AddReactionRequest(session_id=session, message_id=message_id, emoji=emoji)
        error = await refused(grpc.StatusCode.RESOURCE_EXHAUSTED, bob.call("AddReaction", request))
        assert "at most 10 every 60 seconds" in error.details()
        assert retry_delay_seconds(error) == pytest.approx(60)
        clock.advance(seconds=60)
        assert (await bob.call("AddReaction", request)).count == 1

    async def test_limits_are_per_user(self, bob, carol, session):
        for n in range(5):
            await bob.send(session, f"b{n}")
        assert (await carol.send(session, "my turn")).text == "my turn"


class TestRedisLimits:
    @pytest.fixture
    def settings(self, settings, redis_server) -> Settings:
        settings.redis_url = redis_server.url
        return settings

    async def test_limits_hold_with_counters_in_redis(self, bob, session, clock):
        for n in range(5):
            await bob.send(session, f"m{n}")
        error = await refused(grpc.StatusCode.RESOURCE_EXHAUSTED, bob.send(session, "m5"))
        assert retry_delay_seconds(error) == pytest.approx(10)
        clock.advance(seconds=10)
        assert (await bob.send(session, "m5")).text == "m5"


async def test_two_server_processes_sharing_redis_enforce_one_limit(tmp_path, redis_server, session):
    env = server_env(
        CHATSVC_REDIS_URL=redis_server.url,
        CHATSVC_JWT_SECRET=SECRET,
        CHATSVC_DATABASE_URL=f"sqlite:///{tmp_path / 'shared.db'}",
    )
    first = await ServerProcess.start(tmp_path, env)
    second = await ServerProcess.start(tmp_path, env)
    try:
        via_first, via_second = Client(first.target, "bob"), Client(second.target, "bob")
        for n in range(3):
            await via_first.send(session, f"first {n}")
        for n in range(2):
            await via_second.send(session, f"second {n}")
        for client in (via_first, via_second):
            error = await refused(grpc.StatusCode.RESOURCE_EXHAUSTED, client.send(session, "one too many"))
            assert 0 < retry_delay_seconds(error) <= 10
        await via_first.close()
        await via_second.close()
    finally:
        assert await first.stop() == 0
        assert await second.stop() == 0


async def test_when_redis_stops_the_chat_keeps_working_and_warns_once(restartable_redis, settings, clock, caplog, session):
    settings.redis_url = restartable_redis.url
    server = ChatServer(settings, clock=clock)
    await server.start()
    bob = Client(f"127.0.0.1:{server.port}", "bob")
    try:
        await bob.send(session, "before the outage")
        restartable_redis.stop()
        with caplog.at_level(logging.WARNING, logger="chatsvc.fanout.redis.ratelimit"):
            for n in range(8):  # more than the limit: the limiter fails open
                assert (await bob.send(session, f"during {n}")).text == f"during {n}"
        warnings = [r.getMessage() for r in caplog.records if r.name == "chatsvc.fanout.redis.ratelimit"]
        assert len(warnings) == 1 and "rate limits are off" in warnings[0]

        restartable_redis.start()
        clock.advance(seconds=10)
        for n in range(5):
            await bob.send(session, f"after {n}")
        await refused(grpc.StatusCode.RESOURCE_EXHAUSTED, bob.send(session, "limited again"))
    finally:
        await bob.close()
        await server.stop(grace=1)
