"""chatsvc.client with a token provider: its streams outlive every single token (real time, short tokens)."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import mint_token
from chatsvc.client import ChatClient, token_expiry
from tests.helpers import EVENT_TIMEOUT, SECRET, refused
from tests.support.streams import SESSION

# Tokens live 2 to 3 s (`exp` is whole seconds): several expire while the test runs, and a
# renewal due halfway has a second or more to spare on a busy machine.
TOKEN_SECONDS = 3


@pytest.fixture
def settings(settings):
    settings.token_check_seconds = 0.05
    return settings


class Provider:
    """Mints a fresh short-lived token on every call, and counts the calls."""

    def __init__(self, user_id: str, role: str, *, asynchronous: bool) -> None:
        self.user_id, self.role, self.asynchronous = user_id, role, asynchronous
        self.expiries: list[float] = []
        self.called = asyncio.Event()

    def mint(self) -> str:
        token = mint_token(secret=SECRET, user_id=self.user_id, name=self.user_id.title(), role=self.role, ttl_seconds=TOKEN_SECONDS)
        self.expiries.append(token_expiry(token))
        self.called.set()
        return token

    def __call__(self):
        if not self.asynchronous:
            return self.mint()

        async def later() -> str:
            return self.mint()

        return later()

    async def outlived(self, count: int) -> None:
        """Wait until the first `count` tokens it gave have expired."""
        while len(self.expiries) <= count or time.time() < self.expiries[count - 1] + 0.2:
            self.called.clear()
            await asyncio.wait_for(self.called.wait(), EVENT_TIMEOUT)


async def test_a_client_with_a_token_provider_keeps_its_streams_across_several_expiries(server, alice):
    teacher, student = Provider("teacher", "instructor", asynchronous=True), Provider("bob", "participant", asynchronous=False)
    async with ChatClient(f"127.0.0.1:{server.port}", teacher) as sending, ChatClient(f"127.0.0.1:{server.port}", student) as reading:
        seen: list[str] = []
        arrived = asyncio.Condition()
        live = asyncio.Event()

        async def read() -> None:
            async for event in reading.events(SESSION):
                if event.WhichOneof("kind") == "stream_started":
                    live.set()
                if event.WhichOneof("kind") == "message_posted":
                    async with arrived:
                        seen.append(event.message_posted.text)
                        arrived.notify_all()

        reader = asyncio.create_task(read())
        await asyncio.wait_for(live.wait(), EVENT_TIMEOUT)  # the reader is in before the first message
        async with sending.sender(SESSION) as sender:
            sent = ["before any expiry"]
            await sender.send(sent[-1])
            for expired in ("first", "second", "third"):
                await asyncio.gather(teacher.outlived(len(sent)), student.outlived(len(sent)))
                sent.append(f"after the {expired} tokens expired")
                sequence, _ = await sender.send(sent[-1])
                assert sequence > 0
            async with arrived:
                await asyncio.wait_for(arrived.wait_for(lambda: seen[-1:] == sent[-1:]), EVENT_TIMEOUT)
            assert seen == sent  # every message once, in order
            assert sender.reconnects == 0  # the sender's stream took fresh tokens: it never dropped
            assert reading.reconnects == 0  # Subscribe moved to fresh tokens without a failure
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def test_without_a_provider_an_expired_stream_ends_for_good(server):
    token = mint_token(secret=SECRET, user_id="bob", name="Bob", role="participant", ttl_seconds=1)
    async with ChatClient(f"127.0.0.1:{server.port}", token) as client:
        error = await refused(grpc.StatusCode.UNAUTHENTICATED, _drain(client.events(SESSION)))
        assert "token expired" in error.details()


async def _drain(events) -> None:
    async for _ in events:
        pass


def test_the_expiry_of_a_token_is_read_without_its_secret():
    token = mint_token(secret=SECRET, user_id="bob", name="Bob", role="participant", ttl_seconds=60)
    assert abs(token_expiry(token) - (time.time() + 60)) <= 1
    assert token_expiry("not-a-jwt") is None
    assert pb.RefreshTokenAction(token=token).token == token
