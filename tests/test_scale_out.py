"""Several server processes on one real PostgreSQL and one real Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import mint_token
from chatsvc.client import ChatClient
from tests.helpers import SECRET, Client, ServerProcess, shared_env
from tests.support.feeds import Feed


def token(user_id: str, role: str = "participant") -> str:
    return mint_token(secret=SECRET, user_id=user_id, name=user_id.title(), role=role)


@pytest.fixture
def session() -> str:
    return f"scale-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def start_cluster(tmp_path, postgres_url, redis_server):
    """start_cluster(n, redis_url=...) -> n `chatsvc serve` processes sharing PostgreSQL and Redis."""
    processes: list[ServerProcess] = []

    async def start(count: int, redis_url: str | None = None) -> list[ServerProcess]:
        env = shared_env(
            postgres_url, redis_url or redis_server.url, CHATSVC_PRESENCE_TTL_SECONDS="1", CHATSVC_TYPING_TIMEOUT_SECONDS="0.3"
        )
        started = [await ServerProcess.start(tmp_path, env) for _ in range(count)]
        processes.extend(started)
        return started

    yield start
    for process in processes:
        await process.kill()


async def watching(session: str, *, through: ServerProcess) -> Collector:
    """The instructor's ChatClient following the session through one process, once joined."""
    watcher = Collector(ChatClient(through.target, token("teacher", "instructor")), session)
    await watcher.wait_for(lambda events: events, "the join")
    return watcher


class Collector(Feed):
    """Consumes a ChatClient's events in the background."""

    def __init__(self, client: ChatClient, session: str) -> None:
        self.client = client
        self.session = session
        super().__init__(self._run)

    async def _run(self) -> None:
        async for event in self.client.events(self.session):
            self.received((event,))

    async def close(self) -> None:
        await self.client.close()


def contiguous(sequences: list[int]) -> bool:
    return sequences == list(range(sequences[0], sequences[0] + len(sequences)))


async def test_clients_on_three_processes_see_the_same_events_in_the_same_order(start_cluster, session):
    servers = await start_cluster(3)
    collectors = [Collector(ChatClient(server.target, token(f"user{n}")), session) for n, server in enumerate(servers)]
    for collector in collectors:
        await collector.wait_for(lambda events: events and events[0].WhichOneof("kind") == "stream_started", "the join")
    senders = [ChatClient(server.target, token("teacher", "instructor")) for server in servers]
    await asyncio.gather(*(senders[n % 3].send_message(session, f"m{n}") for n in range(30)))

    for collector in collectors:
        await collector.wait_for(lambda events, c=collector: len(c.texts()) == 30, "30 messages")
    start = max(c.events[0].stream_started.resume_from_sequence for c in collectors)
    views = [[(e.sequence, e.SerializeToString()) for e in c.events if e.sequence > start] for c in collectors]
    assert views[0] == views[1] == views[2]
    assert contiguous([sequence for sequence, _ in views[0]]), "no gaps"
    assert sorted(collectors[0].texts(), key=lambda t: int(t[1:])) == [f"m{n}" for n in range(30)]
    for collector in collectors:
        assert contiguous(collector.sequences()) and len(set(collector.sequences())) == len(collector.sequences())
        await collector.stop()
    for sender in senders:
        await sender.close()


async def test_a_sender_moves_to_another_process_when_its_process_dies_and_stores_each_message_once(start_cluster, session):
    doomed, survivor = await start_cluster(2)
    watcher = await watching(session, through=survivor)
    client = ChatClient([doomed.target, survivor.target], token("announcer", "instructor"), initial_backoff=0.05)
    async with client.sender(session) as sender:
        before = await asyncio.gather(*(sender.send(f"before {n}") for n in range(10)))
        await doomed.kill()
        after = await asyncio.gather(*(sender.send(f"after {n}") for n in range(10)))
    assert sender.reconnects >= 1 and client.target == survivor.target
    assert [sequence for sequence, _ in after] == sorted(sequence for sequence, _ in after)
    await watcher.wait_for(lambda events: len(watcher.texts()) >= 20, "all 20 messages")
    assert watcher.texts() == [f"before {n}" for n in range(10)] + [f"after {n}" for n in range(10)]
    assert len({message_id for _, message_id in before + after}) == 20
    await watcher.stop()
    await client.close()


async def test_a_killed_process_clients_resume_on_another_and_miss_nothing(start_cluster, session):
    doomed, survivor = await start_cluster(2)
    watcher = await watching(session, through=survivor)
    roaming = Collector(ChatClient([doomed.target, survivor.target], token("bob"), initial_backoff=0.05), session)
    await roaming.wait_for(lambda events: events, "the join")
    # carol is online only through the process that will die.
    carol = Client(doomed.target, "carol", token=token("carol"))
    carol_stream = carol.subscribe(session)
    await carol_stream.next("stream_started")
    sender = ChatClient(survivor.target, token("teacher", "instructor"))

    for n in range(10):
        await sender.send_message(session, f"before {n}")
    await roaming.wait_for(lambda events: len(roaming.texts()) == 10, "the first 10 messages")
    await doomed.kill()
    for n in range(10):
        await sender.send_message(session, f"after {n}")

    await roaming.wait_for(lambda events: len(roaming.texts()) == 20, "all 20 messages")
    assert roaming.texts() == [f"before {n}" for n in range(10)] + [f"after {n}" for n in range(10)]
    assert contiguous(roaming.sequences()), "nothing missed, nothing twice"
    assert roaming.client.reconnects >= 1 and roaming.client.target == survivor.target

    def carol_left(events) -> bool:
        return any(e.WhichOneof("kind") == "user_left" and e.user_left.participant.user_id == "carol" for e in events)

    await watcher.wait_for(carol_left, "carol to leave after her process died")
    online = await sender.stub.ListParticipants(pb.ListParticipantsRequest(session_id=session), metadata=sender.metadata)
    assert {p.user_id for p in online.participants} == {"teacher", "bob"}
    carol_stream.cancel()
    await carol.close()
    for collector in (watcher, roaming):
        await collector.stop()
    await sender.close()


async def test_presence_and_joins_are_shared_across_processes(start_cluster, session):
    first, second = await start_cluster(2)
    watcher = await watching(session, through=second)
    joiner = Client(first.target, "bob", token=token("bob"))
    stream = joiner.subscribe(session)
    snapshot = (await stream.next("stream_started")).stream_started.snapshot
    assert {p.user_id for p in snapshot.online} == {"teacher", "bob"}

    def joined(events) -> bool:
        return any(e.WhichOneof("kind") == "user_joined" and e.user_joined.participant.user_id == "bob" for e in events)

    await watcher.wait_for(joined, "bob's join on the other process")
    # A second stream of bob's on the other process is not a second join.
    again = Client(second.target, "bob", token=token("bob"))
    second_stream = again.subscribe(session)
    await second_stream.next("stream_started")
    stream.cancel()
    await joiner.close()
    sender = ChatClient(second.target, token("teacher", "instructor"))
    await sender.send_message(session, "marker")
    await watcher.wait_for(lambda events: "marker" in watcher.texts(), "the marker")
    kinds = [e.WhichOneof("kind") for e in watcher.events]
    assert kinds.count("user_joined") == 1 and "user_left" not in kinds
    second_stream.cancel()
    await again.close()
    await watcher.stop()
    await sender.close()


async def test_a_redis_restart_loses_no_event(start_cluster, restartable_redis, session):
    first, second = await start_cluster(2, redis_url=restartable_redis.url)
    reader = Collector(ChatClient(first.target, token("bob")), session)
    await reader.wait_for(lambda events: events, "the join")
    sender = ChatClient(second.target, token("teacher", "instructor"))
    for n in range(5):
        await sender.send_message(session, f"m{n}")
    await reader.wait_for(lambda events: len(reader.texts()) == 5, "5 messages")
    restartable_redis.stop()
    for n in range(5, 10):
        await sender.send_message(session, f"m{n}")  # published nowhere: found in the database
    await reader.wait_for(lambda events: len(reader.texts()) == 10, "the messages sent while Redis was down")
    restartable_redis.start()
    for n in range(10, 15):
        await sender.send_message(session, f"m{n}")
    await reader.wait_for(lambda events: len(reader.texts()) == 15, "the messages after the restart")
    assert reader.texts() == [f"m{n}" for n in range(15)]
    assert contiguous(reader.sequences())
    await reader.stop()
    await sender.close()


async def test_typing_is_shared_across_processes(start_cluster, session):
    first, second = await start_cluster(2)
    watcher = await watching(session, through=second)
    via_first, via_second = Client(first.target, "bob", token=token("bob")), Client(second.target, "bob", token=token("bob"))
    await via_first.send(session, "hello")

    async def typing(client: Client, on: bool) -> None:
        await client.call("SetTyping", pb.SetTypingRequest(session_id=session, typing=on))

    await typing(via_first, True)
    await typing(via_second, True)  # a refresh that reached the other process: no second start
    await typing(via_second, False)
    await typing(via_first, False)  # already stopped: nothing more
    await via_second.send(session, "marker")
    await watcher.wait_for(lambda events: "marker" in watcher.texts(), "the marker")
    kinds = [e.WhichOneof("kind") for e in watcher.events if e.WhichOneof("kind") in ("typing_started", "typing_stopped", "message_posted")]
    assert kinds == ["message_posted", "typing_started", "typing_stopped", "message_posted"]

    await typing(via_first, True)  # not refreshed: the server ends it by itself

    def stopped_twice(events) -> bool:
        return [e.WhichOneof("kind") for e in events].count("typing_stopped") == 2

    await watcher.wait_for(stopped_twice, "the typing to expire")
    for client in (via_first, via_second):
        await client.close()
    await watcher.stop()
