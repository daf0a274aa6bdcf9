"""PostgreSQL restarted under a live class: sends answer UNAVAILABLE meanwhile, nothing is lost or half-stored."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.config import Settings
from chatsvc.transport.server import ChatServer
from tests.helpers import CODE, SECRET, Client, retry_delay_seconds
from tests.support.servers import ThrowawayPostgres
from tests.support.streams import SESSION

DEADLINE = 20.0


@pytest.fixture
def private_postgres():
    """A PostgreSQL of this test's own, which it may stop and start (the shared one never stops)."""
    with ThrowawayPostgres(force_local=True) as postgres:
        yield postgres


@pytest.fixture
async def served(private_postgres, tmp_path):
    settings = Settings(listen="127.0.0.1:0", database_url=private_postgres.new_database(), jwt_secret=SECRET)
    server = ChatServer(settings)
    await server.start()
    yield server
    await server.stop(grace=1)


async def send_when_back(client: Client, text: str) -> pb.ChatMessage:
    """Send as a client that honours UNAVAILABLE does: again after a while, until the database is back."""
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            return await client.send(SESSION, text, client_message_id=f"id-{text}")
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error
            assert time.monotonic() < deadline, "sends never worked again after the restart"
            await asyncio.sleep(0.1)


async def test_sends_during_a_postgres_restart_answer_unavailable_and_a_resumed_stream_gets_everything_accepted(
    served, private_postgres
):
    target = f"127.0.0.1:{served.port}"
    alice, bob = Client(target, "alice", "instructor"), Client(target, "bob")
    watcher = bob.subscribe(SESSION)
    await watcher.next("stream_started")
    talker = alice.stream(SESSION)
    await talker.next("stream_started")
    accepted = [await alice.send(SESSION, f"before {n}") for n in range(3)]
    for message in accepted:
        await watcher.find(lambda e, m=message: e.message_posted.message_id == m.message_id)
    last_seen = accepted[-1].sequence

    private_postgres.interrupt()
    with pytest.raises(grpc.aio.AioRpcError) as unary:
        await alice.send(SESSION, "lost in the outage")
    assert unary.value.code() == grpc.StatusCode.UNAVAILABLE, unary.value.details()
    assert "nothing was stored" in unary.value.details()
    assert retry_delay_seconds(unary.value) > 0
    on_stream = (await talker.reply_to(talker.act(send_message=pb.SendMessageAction(text="also lost")))).error
    assert CODE[on_stream.code] == grpc.StatusCode.UNAVAILABLE, on_stream.message
    assert on_stream.retry_delay.ToTimedelta().total_seconds() > 0
    watcher.cancel()

    private_postgres.resume()
    accepted.append(await send_when_back(alice, "after the restart"))
    accepted.append(await alice.send(SESSION, "and again"))

    resumed = bob.subscribe(SESSION, last_sequence=last_seen)
    started = (await resumed.next("stream_started")).stream_started
    assert started.recovered
    for message in accepted[3:]:
        got = await resumed.next("message_posted")
        assert got.message_posted.message_id == message.message_id
    history = await bob.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION))
    assert [m.text for m in reversed(history.messages)] == [m.text for m in accepted], "nothing from the outage is stored"
    for stream in (resumed, talker):
        stream.cancel()
    await alice.close()
    await bob.close()
