"""A burst of streams opened at once: each one opens, none is cancelled without a word."""

from __future__ import annotations

import asyncio
import collections

import grpc
from sessionchat.v1 import chat_pb2 as pb
from sessionchat.v1 import chat_pb2_grpc

from chatsvc.auth import mint_token
from tests.helpers import SECRET, ServerProcess, server_env

BURST = 2000
CHANNELS = 4
SESSIONS = 4


async def open_stream(stub: chat_pb2_grpc.SessionChatStub, user: str, session_id: str) -> str:
    """'started' once the stream has started, else the status the server ended it with."""
    token = mint_token(secret=SECRET, user_id=user, name=user, role="participant")
    call = stub.Subscribe(pb.SubscribeRequest(session_id=session_id), metadata=(("authorization", f"Bearer {token}"),))
    try:
        async for response in call:
            if any(event.WhichOneof("kind") == "stream_started" for event in response.events):
                return "started"
        return "ended without starting"
    except grpc.aio.AioRpcError as error:
        return f"{error.code().name}: {error.details()}"
    finally:
        call.cancel()


async def test_2000_subscribe_streams_opened_at_once_all_start(tmp_path):
    server = await ServerProcess.start(
        tmp_path, server_env(CHATSVC_JWT_SECRET=SECRET, CHATSVC_DATABASE_URL=f"sqlite:///{tmp_path / 'chat.db'}")
    )
    # Separate connections, as separate browsers would have.
    channels = [grpc.aio.insecure_channel(server.target, options=[("grpc.use_local_subchannel_pool", 1)]) for _ in range(CHANNELS)]
    stubs = [chat_pb2_grpc.SessionChatStub(channel) for channel in channels]
    try:
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(open_stream(stubs[n % CHANNELS], f"user{n}", f"burst-{n % SESSIONS}") for n in range(BURST))),
            120,
        )
        assert collections.Counter(outcomes) == {"started": BURST}
    finally:
        for channel in channels:
            await channel.close()
        assert await server.stop() == 0
