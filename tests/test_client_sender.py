"""ChatClient's sender: messages pipelined on one StreamEvents stream."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import mint_token
from chatsvc.client import ChatClient, SendRefused
from tests.helpers import SECRET, Client
from tests.support.streams import SESSION


def chat_client(server, user_id: str, role: str = "participant", sessions: list[str] | None = None) -> ChatClient:
    token = mint_token(secret=SECRET, user_id=user_id, name=user_id.title(), role=role, sessions=sessions)
    return ChatClient(f"127.0.0.1:{server.port}", token)


async def test_a_sender_keeps_many_messages_in_flight_and_they_are_stored_in_the_order_sent(server, alice: Client):
    async with chat_client(server, "svc", "instructor") as client, client.sender(SESSION) as sender:
        answers = await asyncio.gather(*(sender.send(f"notice {n}") for n in range(30)))
    sequences = [sequence for sequence, _ in answers]
    assert sequences == sorted(sequences) and len(set(sequences)) == 30
    history = await alice.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION, page_size=100))
    stored = {message.message_id: message.text for message in history.messages}
    assert [stored[message_id] for _, message_id in answers] == [f"notice {n}" for n in range(30)]


async def test_a_refused_message_raises_with_the_status_and_the_sender_goes_on(server):
    async with chat_client(server, "bob") as client, client.sender(SESSION) as sender:
        with pytest.raises(SendRefused) as refused:
            await sender.send("   ")
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        sequence, _ = await sender.send("a real question")
        assert sequence > 0
        # The participant's rate limit (5 per 10 s) answers with a retry delay.
        for n in range(4):
            await sender.send(f"more {n}")
        with pytest.raises(SendRefused) as limited:
            await sender.send("one too many")
        assert limited.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and limited.value.retry_after > 0


async def test_a_session_the_token_does_not_allow_refuses_every_send(server):
    async with chat_client(server, "bob", sessions=["other-class"]) as client, client.sender(SESSION) as sender:
        with pytest.raises(SendRefused) as refused:
            await sender.send("hello")
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(SendRefused):
            await sender.send("again")


class CancelledAfterSending(grpc.aio.UnaryUnaryClientInterceptor):
    """The first SendMessage reaches the server and is stored, but its answer is CANCELLED, as a
    server shutting down answers calls in flight."""

    def __init__(self) -> None:
        self.cancelled = 0

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        call = await continuation(client_call_details, request)
        if self.cancelled == 0 and isinstance(request, pb.SendMessageRequest):
            await call
            self.cancelled += 1
            raise grpc.aio.AioRpcError(grpc.StatusCode.CANCELLED, grpc.aio.Metadata(), grpc.aio.Metadata(), "CANCELLED")
        return call


async def test_send_message_sends_again_after_a_servers_cancelled_and_the_message_is_stored_once(server, alice: Client):
    token = mint_token(secret=SECRET, user_id="svc", name="Svc", role="instructor")
    cancelling = CancelledAfterSending()
    async with ChatClient(f"127.0.0.1:{server.port}", token, interceptors=[cancelling], initial_backoff=0.01) as client:
        message = await client.send_message(SESSION, "the quiz starts now")
    assert cancelling.cancelled == 1
    history = await alice.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION))
    assert [(m.message_id, m.text) for m in history.messages] == [(message.message_id, "the quiz starts now")]
