"""With Redis: presence stays right through bursts and outages, and a Redis outage loses nothing."""

from __future__ import annotations

import asyncio
import time

import grpc
from sessionchat.v1 import chat_pb2 as pb
from sessionchat.v1 import chat_pb2_grpc

from chatsvc.client import ChatClient
from tests import test_scale_out
from tests.helpers import SECRET, ServerProcess, server_env
from tests.test_scale_out import Collector, contiguous, token

# The fixtures of the scale-out tests: processes sharing PostgreSQL and Redis, and a session id.
start_cluster = test_scale_out.start_cluster
session = test_scale_out.session

# The online list must be right this soon after a burst or an outage.
CONVERGE_SECONDS = 5.0


class Crowd:
    """Many users, each with one Subscribe stream, spread over processes; one channel per process."""

    def __init__(self, servers: list[ServerProcess], session_id: str, count: int, prefix: str = "user") -> None:
        self.session_id = session_id
        self.users = [f"{prefix}{n:04d}" for n in range(count)]
        self.channels = [grpc.aio.insecure_channel(server.target) for server in servers]
        self.stubs = [chat_pb2_grpc.SessionChatStub(channel) for channel in self.channels]
        self.calls: dict[str, grpc.aio.UnaryStreamCall] = {}

    async def join(self, users: list[str] | None = None) -> None:
        """Open every user's stream at once; return once each has started."""

        async def one(index: int, user: str) -> None:
            call = self.stubs[index % len(self.stubs)].Subscribe(
                pb.SubscribeRequest(session_id=self.session_id), metadata=(("authorization", f"Bearer {token(user)}"),)
            )
            self.calls[user] = call
            async for response in call:
                if any(event.WhichOneof("kind") == "stream_started" for event in response.events):
                    return

        users = self.users if users is None else users
        await asyncio.wait_for(asyncio.gather(*(one(self.users.index(u), u) for u in users)), 60)

    def leave(self, users: list[str] | None = None) -> None:
        """Close the streams of these users (default: everyone still here)."""
        for user in list(self.calls) if users is None else users:
            self.calls.pop(user).cancel()

    async def close(self) -> None:
        for call in self.calls.values():
            call.cancel()
        for channel in self.channels:
            await channel.close()


async def online(server: ServerProcess, session_id: str) -> set[str]:
    """Every user ListParticipants lists as online, through one process (all pages)."""
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = chat_pb2_grpc.SessionChatStub(channel)
        metadata = (("authorization", f"Bearer {token('observer', 'instructor')}"),)
        users: set[str] = set()
        page_token = ""
        while True:
            page = await stub.ListParticipants(
                pb.ListParticipantsRequest(session_id=session_id, page_size=100, page_token=page_token), metadata=metadata
            )
            users |= {p.user_id for p in page.participants}
            page_token = page.next_page_token
            if not page_token:
                return users


async def converges(servers: list[ServerProcess], session_id: str, expected: set[str], *, within: float = CONVERGE_SECONDS) -> None:
    """Poll every process's online list until it is exactly `expected`, or fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        lists = [await online(server, session_id) for server in servers]
        if all(users == expected for users in lists):
            return
        if time.monotonic() > deadline:
            wrong = [(sorted(users - expected)[:5], len(users - expected), sorted(expected - users)[:5], len(expected - users))
                     for users in lists]
            raise AssertionError(f"online list wrong after {within} s: (ghosts, count, missing, count) per process: {wrong}")
        await asyncio.sleep(0.1)  # polling a condition with a deadline, not synchronising


async def crowd_comes_and_goes(servers, session: str) -> None:
    """500 streams join across the servers, then all leave: every online list follows exactly."""
    crowd = Crowd(servers, session, 500)
    try:
        await crowd.join()
        await converges(servers, session, set(crowd.users))
        crowd.leave()
        await converges(servers, session, set())
    finally:
        await crowd.close()


async def test_500_streams_opened_and_closed_at_once_on_two_processes_leave_the_online_list_exact(start_cluster, session):
    servers = await start_cluster(2)
    await crowd_comes_and_goes(servers, session)


async def test_presence_writes_lost_for_want_of_redis_connections_are_repaired_within_seconds(
    tmp_path, postgres_url, redis_server, session
):
    # A pool of 2 connections that waits 1 ms: most presence writes of a burst fail.
    env = server_env(
        CHATSVC_DATABASE_URL=postgres_url,
        CHATSVC_REDIS_URL=redis_server.url,
        CHATSVC_JWT_SECRET=SECRET,
        CHATSVC_REDIS_MAX_CONNECTIONS="2",
        CHATSVC_REDIS_WAIT_SECONDS="0.001",
    )  # and the default presence ttl (15 s): the repair does not wait for the periodic check
    servers = [await ServerProcess.start(tmp_path, env) for _ in range(2)]
    try:
        await crowd_comes_and_goes(servers, session)
    finally:
        for server in servers:
            assert await server.stop() == 0
    assert any("presence falls back to this process" in "".join(server.output) for server in servers), "no write failed"


async def test_after_a_redis_restart_amid_joins_and_leaves_the_online_list_converges(start_cluster, restartable_redis, session):
    servers = await start_cluster(2, redis_url=restartable_redis.url)
    crowd = Crowd(servers, session, 60)
    early, late = crowd.users[:30], crowd.users[30:]
    try:
        await crowd.join(early)
        await converges(servers, session, set(early))
        restartable_redis.stop()
        # Joins and leaves go on during the outage (each process answers for its own streams).
        crowd.leave(early[:15])
        await crowd.join(late)
        restartable_redis.start()  # empty: it keeps nothing across a restart
        await converges(servers, session, set(early[15:]) | set(late))
        crowd.leave()
        await converges(servers, session, set())
    finally:
        await crowd.close()


async def test_while_redis_is_down_chat_works_and_afterwards_nothing_is_lost_and_presence_recovers(
    start_cluster, restartable_redis, session
):
    first, second = await start_cluster(2, redis_url=restartable_redis.url)
    here = Collector(ChatClient(first.target, token("teacher", "instructor")), session)
    there = Collector(ChatClient(second.target, token("bob")), session)
    for collector in (here, there):
        await collector.wait_for(lambda events: events, "the join")
    carol_here = ChatClient(first.target, token("carol"))
    teacher_there = ChatClient(second.target, token("teacher", "instructor"))
    crowd = Crowd([second], session, 1, prefix="dave")
    try:
        await carol_here.send_message(session, "before")
        restartable_redis.stop()
        # More than carol's limit (5 in 10 s): while the counters are away, limits are off.
        for n in range(8):
            await carol_here.send_message(session, f"during {n}")
        await crowd.join()  # a join during the outage
        expected = ["before"] + [f"during {n}" for n in range(8)]
        await here.wait_for(lambda events: here.texts() == expected, "the messages sent here during the outage")
        await there.wait_for(lambda events: there.texts() == expected, "the same messages on the other process")
        # Each process answers for its own streams until Redis is back.
        assert await online(second, session) == {"bob", "dave0000"}

        restartable_redis.start()
        await teacher_there.send_message(session, "after 0")
        await carol_here.send_message(session, "after 1")
        expected += ["after 0", "after 1"]
        for collector in (here, there):
            await collector.wait_for(lambda events, c=collector: c.texts() == expected, "the messages after the restart")
            assert contiguous(collector.sequences()), "nothing lost, nothing twice"
        await converges([first, second], session, {"teacher", "bob", "dave0000"})
    finally:
        await crowd.close()
        for collector in (here, there):
            await collector.stop()
        for client in (carol_here, teacher_there):
            await client.close()
    assert await first.stop() == 0
    log = "".join(first.output)
    assert log.count("rate limits are off until Redis answers again") == 1, log
    assert log.count("rate limits are back on") == 1, log
