"""Presence with Redis stays right through bursts of joins and leaves and through Redis outages."""

from __future__ import annotations

import asyncio
import time

import grpc
from sessionchat.v1 import chat_pb2 as pb
from sessionchat.v1 import chat_pb2_grpc

from tests.helpers import EVENT_TIMEOUT, ServerProcess
from tests.test_scale_out import session, start_cluster, token  # noqa: F401 (fixtures)

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
            wrong = [(sorted(users - expected)[:5], len(users - expected), sorted(expected - users)[:5], len(expected - users)) for users in lists]
            raise AssertionError(f"online list not right after {within} s: (ghosts, count, missing, count) per process: {wrong}")
        await asyncio.sleep(0.1)  # polling a condition with a deadline, not synchronising


async def test_500_streams_opened_and_closed_at_once_on_two_processes_leave_the_online_list_exact(start_cluster, session):
    servers = await start_cluster(2)
    crowd = Crowd(servers, session, 500)
    try:
        await crowd.join()
        await converges(servers, session, set(crowd.users))
        crowd.leave()
        await converges(servers, session, set())
    finally:
        await crowd.close()


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
