"""Per-session subscriptions on Redis: a process receives only the sessions its own subscribers
follow, subscribes when the first joins, unsubscribes a linger after the last leaves, and no
event is lost across that churn."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as redis
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.client import ChatClient
from tests.helpers import EVENT_TIMEOUT, Client, ServerProcess, shared_env
from tests.test_scale_out import Collector, token

LINGER = 0.3


@pytest.fixture
async def pair(tmp_path, postgres_url, redis_server):
    """Two `chatsvc serve` processes on PostgreSQL and Redis, with a short linger."""
    env = shared_env(postgres_url, redis_server.url, CHATSVC_FANOUT_LINGER_SECONDS=str(LINGER), CHATSVC_PRESENCE_GRACE_SECONDS="0")
    processes = [await ServerProcess.start(tmp_path, env) for _ in range(2)]
    client = redis.from_url(redis_server.url)
    yield processes, client
    await client.aclose()
    for process in processes:
        await process.kill()


async def subscribers(client: redis.Redis, session: str) -> int:
    [(_, count)] = await client.pubsub_numsub(f"chatsvc:events:{session}")
    return int(count)


async def until_subscribers(client: redis.Redis, session: str, wanted: int) -> None:
    async def poll() -> None:
        while await subscribers(client, session) != wanted:
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), EVENT_TIMEOUT)
    except TimeoutError:
        raise AssertionError(f"{session}: {await subscribers(client, session)} subscribers, wanted {wanted}") from None


async def test_a_process_receives_only_the_sessions_its_subscribers_follow(pair):
    (first, second), client = pair
    followed, elsewhere = f"followed-{uuid.uuid4().hex[:8]}", f"elsewhere-{uuid.uuid4().hex[:8]}"
    watcher = Collector(ChatClient(second.target, token("watcher")), followed)
    await watcher.wait_for(lambda events: events, "the join")
    assert await subscribers(client, followed) == 1  # the second process, for its watcher
    teacher = Client(first.target, "teacher", role="instructor")
    for number in range(5):
        await teacher.call("SendMessage", pb.SendMessageRequest(session_id=followed, text=f"followed {number}"))
    for number in range(20):
        await teacher.call("SendMessage", pb.SendMessageRequest(session_id=elsewhere, text=f"elsewhere {number}"))
    assert await subscribers(client, elsewhere) == 0  # nobody follows it: no process receives it
    await watcher.wait_for(lambda events: len(watcher.texts()) == 5, "the five messages")
    assert watcher.texts() == [f"followed {number}" for number in range(5)]

    await watcher.stop()
    await until_subscribers(client, followed, 0)  # a linger after the last one left
    await teacher.close()


async def test_nothing_is_lost_across_subscribe_and_unsubscribe_churn(pair):
    (first, second), client = pair
    session = f"churn-{uuid.uuid4().hex[:8]}"
    teacher = Client(first.target, "teacher", role="instructor")
    total = 60
    published = asyncio.Event()

    async def publish() -> None:
        for number in range(total):
            await teacher.call("SendMessage", pb.SendMessageRequest(session_id=session, text=f"m{number}"))
        published.set()

    start = (await teacher.call("SendMessage", pb.SendMessageRequest(session_id=session, text="start"))).message
    reader = ChatClient(second.target, token("reader"))
    texts: list[str] = []
    last = start.sequence  # every stream resumes: what it missed comes as events, none in a snapshot
    publishing = asyncio.create_task(publish())
    cycles = 0
    while len([t for t in texts if t.startswith("m")]) < total:
        got = 0
        async for event in reader.events(session, last_sequence=last):
            last = max(last, event.sequence)
            if event.WhichOneof("kind") == "stream_started":
                assert event.stream_started.recovered
            if event.WhichOneof("kind") == "message_posted":
                texts.append(event.message_posted.text)
                got += 1
            if got >= 8 or (published.is_set() and len([t for t in texts if t.startswith("m")]) == total):
                break
        cycles += 1
        if cycles % 2 == 0:  # every other time, away long enough for the process to unsubscribe
            await until_subscribers(client, session, 0)
    await publishing
    assert [t for t in texts if t.startswith("m")] == [f"m{number}" for number in range(total)]  # each once, in order
    assert cycles >= 4
    await reader.close()
    await teacher.close()
