"""Slow and dead consumers: bounded buffers, resuming without loss, keepalive cleanup."""

from __future__ import annotations

import asyncio
import signal
import sys

import grpc
import pytest
from prometheus_client import REGISTRY
from sessionchat.v1 import chat_pb2 as pb
from sessionchat.v1 import chat_pb2_grpc

from tests.helpers import Client
from tests.support.streams import SESSION

LONG_TEXT = "x" * 1900


@pytest.fixture
def settings(settings):
    settings.subscriber_buffer = 20
    settings.keepalive_seconds = 0.5
    settings.keepalive_timeout_seconds = 0.5
    return settings


def stalled_subscription(target: str, client: Client):
    """A Subscribe whose client never reads: with a small HTTP/2 window the server's writes block at once."""
    channel = grpc.aio.insecure_channel(
        target, options=[("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 1024), ("grpc.use_local_subchannel_pool", 1)]
    )
    call = chat_pb2_grpc.SessionChatStub(channel).Subscribe(pb.SubscribeRequest(session_id=SESSION), metadata=client.metadata)
    return channel, call


async def test_a_stalled_client_is_ended_then_resumes_without_loss_while_others_get_everything(server, alice, bob, connect):
    target = f"127.0.0.1:{server.port}"
    slow_user = connect("carol")
    fell_behind = {"reason": "fell_behind"}
    ended_before = REGISTRY.get_sample_value("chatsvc_streams_ended_total", fell_behind)
    channel, stalled = stalled_subscription(target, slow_user)
    await stalled.initial_metadata()
    reader = bob.subscribe(SESSION)
    await reader.next("stream_started")

    sent = [await alice.send(SESSION, f"{n} {LONG_TEXT}") for n in range(60)]
    for message in sent:  # the healthy reader gets everything while carol's stream is stuck
        assert (await reader.next("message_posted")).message_posted.message_id == message.message_id

    received: list[pb.Event] = []
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        async for response in stalled:
            received.extend(response.events)
    assert ended.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "fell more than 20 events behind" in ended.value.details()
    assert "reconnect with last_sequence" in ended.value.details()
    assert REGISTRY.get_sample_value("chatsvc_streams_ended_total", fell_behind) == ended_before + 1  # what the alert watches
    last_seen = max(event.sequence for event in received)
    assert len([e for e in received if e.WhichOneof("kind") == "message_posted"]) < 60
    await channel.close()

    resumed = slow_user.subscribe(SESSION, last_sequence=last_seen)
    assert (await resumed.next("stream_started")).stream_started.recovered
    seen_before = [e.message_posted.message_id for e in received if e.WhichOneof("kind") == "message_posted"]
    missed = [message.message_id for message in sent[len(seen_before) :]]
    assert seen_before == [m.message_id for m in sent[: len(seen_before)]]
    for message_id in missed:
        assert (await resumed.next("message_posted")).message_posted.message_id == message_id
    resumed.cancel()
    reader.cancel()


DEAD_CLIENT = """
import asyncio, sys, grpc
from sessionchat.v1 import chat_pb2 as pb, chat_pb2_grpc

async def main(target, token):
    async with grpc.aio.insecure_channel(target) as channel:
        call = chat_pb2_grpc.SessionChatStub(channel).Subscribe(
            pb.SubscribeRequest(session_id=sys.argv[3]), metadata=(("authorization", "Bearer " + token),))
        async for response in call:
            print("events", flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_a_dead_connection_is_found_by_keepalive_and_its_user_leaves(server, alice, connect):
    watcher = alice.subscribe(SESSION)
    await watcher.next("stream_started")
    dave = connect("dave")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DEAD_CLIENT, f"127.0.0.1:{server.port}", dave.token, SESSION, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert (await asyncio.wait_for(process.stdout.readline(), 30)).startswith(b"events")
        joined = await watcher.next("user_joined")
        assert joined.user_joined.participant.user_id == "dave"
        process.send_signal(signal.SIGSTOP)  # the connection stays open, but nobody answers pings
        left = await watcher.next("user_left")
        assert left.user_left.participant.user_id == "dave"
        online = await alice.call("ListParticipants", pb.ListParticipantsRequest(session_id=SESSION))
        assert [p.user_id for p in online.participants] == ["alice"]
    finally:
        process.kill()
        await process.wait()
        watcher.cancel()
