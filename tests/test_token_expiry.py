"""A live stream lives no longer than its token, unless the client hands it a fresh one in time."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import mint_token
from chatsvc.clock import FakeClock
from tests.helpers import CODE, SECRET, Client, refused
from tests.support.streams import SESSION

EXPIRED = "token expired; reconnect with a fresh token and your last sequence"


@pytest.fixture
def clock() -> FakeClock:
    # Token expiry times are real epoch seconds: the fake clock starts at the real now.
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def settings(settings):
    settings.token_check_seconds = 0.02  # the server looks at the clock this often
    return settings


def token(user_id: str, ttl_seconds: int, *, role: str = "participant", secret: str = SECRET, **claims) -> str:
    return mint_token(secret=secret, user_id=user_id, name=user_id.title(), role=role, ttl_seconds=ttl_seconds, **claims)


def expiry_of(started: pb.Event) -> int:
    return started.stream_started.token_expire_time.seconds


@pytest.fixture
def short_lived(connect):
    """connect(user) with a token that expires in `ttl` seconds (of the server's clock)."""

    def make(user_id: str, ttl: int = 60, **options) -> Client:
        return connect(user_id, token=token(user_id, ttl, **options))

    return make


class TestExpiry:
    @pytest.mark.parametrize("shape", ["stream_events", "subscribe"])
    async def test_a_stream_ends_unauthenticated_when_its_token_expires(self, short_lived, clock, shape):
        bob = short_lived("bob", 60)
        stream = bob.stream(SESSION) if shape == "stream_events" else bob.subscribe(SESSION)
        started = await stream.next("stream_started")
        assert abs(expiry_of(started) - (time.time() + 60)) <= 2
        clock.advance(seconds=59)
        clock.advance(seconds=2)
        error = await stream.ended()
        assert error is not None and error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error.details() == EXPIRED

    async def test_a_long_lived_token_keeps_its_stream(self, short_lived, clock):
        bob, carol = short_lived("bob", 600), short_lived("carol", 60)
        lasting, ending = bob.stream(SESSION), carol.stream(SESSION)
        for stream in (lasting, ending):
            await stream.next("stream_started")
        clock.advance(seconds=61)
        assert (await ending.ended()).code() == grpc.StatusCode.UNAUTHENTICATED  # the server has looked
        asked = lasting.act(send_message=pb.SendMessageAction(text="still here"))
        assert (await lasting.reply_to(asked)).WhichOneof("kind") == "action_accepted"
        lasting.cancel()

    async def test_unary_calls_with_an_expired_token_are_refused_even_after_earlier_success(self, short_lived, clock):
        bob = short_lived("bob", 60)
        await bob.send(SESSION, "while it lasts")  # verified once and remembered
        clock.advance(seconds=61)
        error = await refused(grpc.StatusCode.UNAUTHENTICATED, bob.send(SESSION, "too late"))
        assert "expired" in error.details()
        stale = Client(bob.target, "bob", token=token("bob", -30))
        await refused(grpc.StatusCode.UNAUTHENTICATED, stale.send(SESSION, "never"))
        await stale.close()


class TestRefresh:
    async def test_a_fresh_token_keeps_the_stream_open_past_the_first_expiry(self, short_lived, clock):
        bob, carol = short_lived("bob", 60), short_lived("carol", 60)
        refreshed, control = bob.stream(SESSION), carol.stream(SESSION)
        for stream in (refreshed, control):
            await stream.next("stream_started")
        asked = refreshed.act(refresh_token=pb.RefreshTokenAction(token=token("bob", 600)))
        assert (await refreshed.reply_to(asked)).WhichOneof("kind") == "action_accepted"
        clock.advance(seconds=61)
        assert (await control.ended()).details() == EXPIRED  # the server has looked at the clock
        sent = refreshed.act(send_message=pb.SendMessageAction(text="past the first expiry"))
        assert (await refreshed.reply_to(sent)).WhichOneof("kind") == "action_accepted"
        clock.advance(seconds=600)
        assert (await refreshed.ended()).details() == EXPIRED  # the fresh token's own expiry holds

    @pytest.mark.parametrize(
        "case, fresh, code, words",
        [
            ("another user's", lambda: token("carol", 600), grpc.StatusCode.PERMISSION_DENIED, "same user"),
            ("forged", lambda: token("bob", 600, secret="not-the-server-secret-0123456789abcdef"), grpc.StatusCode.UNAUTHENTICATED, "signature"),
            ("expired", lambda: token("bob", -30), grpc.StatusCode.UNAUTHENTICATED, "expired"),
            ("garbage", lambda: "not-a-jwt", grpc.StatusCode.UNAUTHENTICATED, "invalid"),
            ("empty", lambda: "", grpc.StatusCode.INVALID_ARGUMENT, "token is required"),
            ("another role's", lambda: token("bob", 600, role="instructor"), grpc.StatusCode.PERMISSION_DENIED, "role"),
            ("another session's", lambda: token("bob", 600, sessions=["other"]), grpc.StatusCode.PERMISSION_DENIED, SESSION),
        ],
    )
    async def test_a_refused_refresh_is_an_error_event_and_the_stream_keeps_its_old_token(
        self, short_lived, clock, case, fresh, code, words
    ):
        bob = short_lived("bob", 60)
        stream = bob.stream(SESSION)
        started = await stream.next("stream_started")
        asked = stream.act(refresh_token=pb.RefreshTokenAction(token=fresh()))
        answer = await stream.reply_to(asked)
        assert answer.WhichOneof("kind") == "error", case
        assert CODE[answer.error.code] == code and words in answer.error.message
        sent = stream.act(send_message=pb.SendMessageAction(text="the stream goes on"))
        assert (await stream.reply_to(sent)).WhichOneof("kind") == "action_accepted"
        assert expiry_of(started) > time.time()
        clock.advance(seconds=61)
        assert (await stream.ended()).details() == EXPIRED


class TestStreamTokensAlone:
    """The expiry rules without a server: a FakeClock and subscribers."""

    @staticmethod
    def tokens(clock: FakeClock):
        from chatsvc.auth import Principal, Role, TokenVerifier
        from chatsvc.domain.stream_tokens import StreamTokens
        from chatsvc.fanout.hub import Subscriber

        verifier = TokenVerifier(secret=SECRET, now=lambda: clock.now().timestamp())
        bob = Principal("bob", "Bob", Role.PARTICIPANT)
        subscriber = Subscriber(SESSION, "bob", False, max_pending=10, batch_bytes=1024)
        watch = StreamTokens(lambda t: verifier.verify_expiring(t, remember=False), clock, check_seconds=3600)
        return watch, bob, subscriber

    async def test_an_action_after_the_expiry_is_refused_before_any_sweep_and_the_stream_ends(self, clock):
        from chatsvc.errors import ChatError, ErrorCode
        from chatsvc.fanout.hub import StreamEnded

        watch, _, subscriber = self.tokens(clock)
        watch.watch(subscriber, clock.now().timestamp() + 60)
        watch.check(subscriber)  # in time: nothing happens
        clock.advance(seconds=61)
        with pytest.raises(ChatError) as caught:
            watch.check(subscriber)
        assert caught.value.code == ErrorCode.UNAUTHENTICATED and caught.value.message == EXPIRED
        with pytest.raises(StreamEnded) as ended:
            await subscriber.next_batch()
        assert ended.value.message == EXPIRED
        watch.close()

    async def test_a_refresh_never_shortens_a_stream_and_a_closed_stream_is_forgotten(self, clock):
        watch, bob, subscriber = self.tokens(clock)
        watch.watch(subscriber, clock.now().timestamp() + 600)
        watch.refresh(subscriber, bob, token("bob", 60))
        clock.advance(seconds=61)
        watch.end_expired()
        watch.check(subscriber)  # the longer expiry still holds
        watch.forget(subscriber)
        clock.advance(seconds=600)
        watch.end_expired()
        watch.check(subscriber)  # nothing is held for a stream that closed
        watch.close()
