"""Two `chatsvc serve` processes on a real three-master Redis Cluster (started by the test from
the redis-server binary) and PostgreSQL: events on sharded channels, each session's keys on its
slot's master, and a master killed mid-stream without a message lost."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
import redis
from redis.crc import key_slot
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.client import ChatClient
from tests.helpers import EVENT_TIMEOUT, SECRET, Client, ServerProcess, server_env
from tests.support.redis_cluster import ThrowawayRedisCluster
from tests.test_scale_out import Collector, token

# The test's sessions: two on each master, found by the slot of their id.
PER_MASTER = 2


@pytest.fixture(scope="module")
def cluster():
    with ThrowawayRedisCluster() as cluster:
        yield cluster


@pytest.fixture
async def pair(tmp_path, postgres_url, cluster):
    """Two processes on the cluster, with short gap checks and linger."""
    cluster.wait_until_ok()  # a test before may have restarted a master
    env = server_env(
        CHATSVC_DATABASE_URL=postgres_url,
        CHATSVC_REDIS_URL=cluster.url,
        CHATSVC_JWT_SECRET=SECRET,
        CHATSVC_FANOUT_CHECK_SECONDS="0.2",
        CHATSVC_FANOUT_LINGER_SECONDS="0.3",
        CHATSVC_PRESENCE_GRACE_SECONDS="0",
    )
    processes = [await ServerProcess.start(tmp_path, env) for _ in range(2)]
    yield processes
    for process in processes:
        await process.kill()


def sessions_on_every_master(cluster: ThrowawayRedisCluster) -> dict[int, list[str]]:
    """PER_MASTER fresh session ids for each master (by index), found by their hash slot."""
    found: dict[int, list[str]] = {index: [] for index in range(len(cluster.nodes))}
    while any(len(ids) < PER_MASTER for ids in found.values()):
        session = f"cluster-{uuid.uuid4().hex[:8]}"
        index = cluster.nodes.index(cluster.owner(f"chatsvc:events:{{{session}}}"))
        if len(found[index]) < PER_MASTER:
            found[index].append(session)
    return found


def shard_subscribers(cluster: ThrowawayRedisCluster, session: str) -> int:
    channel = f"chatsvc:events:{{{session}}}"
    with cluster.owner(channel).client() as client:
        [_, count] = client.execute_command("PUBSUB", "SHARDNUMSUB", channel)
    return int(count)


async def eventually(check, what: str) -> None:
    async def poll() -> None:
        while not await asyncio.to_thread(check):
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), EVENT_TIMEOUT)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_sessions_on_all_three_masters_reach_the_other_process_on_sharded_channels(pair, cluster):
    first, second = pair
    sessions = [session for ids in sessions_on_every_master(cluster).values() for session in ids]
    watchers = {session: Collector(ChatClient(second.target, token("watcher")), session) for session in sessions}
    for watcher in watchers.values():
        await watcher.wait_for(lambda events: events, "the join")
    teacher = Client(first.target, "teacher", role="instructor")
    pupil = Client(first.target, "pupil")
    for session in sessions:
        await teacher.call("SendMessage", pb.SendMessageRequest(session_id=session, text=f"{session} from the teacher"))
        await pupil.call("SendMessage", pb.SendMessageRequest(session_id=session, text=f"{session} from a pupil"))
    for session, watcher in watchers.items():
        await watcher.wait_for(lambda events, w=watcher: len(w.texts()) == 2, f"two messages in {session}")
        assert watcher.texts() == [f"{session} from the teacher", f"{session} from a pupil"]

    for session in sessions:
        # The second process follows each session on its master's shard channel, and nothing on plain pub/sub.
        assert shard_subscribers(cluster, session) == 1, session
        owner = cluster.owner(f"{{{session}}}")
        with owner.client() as client:
            keys = sorted(key.decode() for key in client.scan_iter(match=f"chatsvc:*{{{session}}}*"))
            # Presence and the pupil's rate limit live on the session's master, in its slot.
            assert f"chatsvc:presence:{{{session}}}" in keys, keys
            assert f"chatsvc:rate:{{{session}}}:pupil:messages" in keys, keys
            assert {key_slot(key.encode()) for key in keys} == {key_slot(f"{{{session}}}".encode())}
            assert client.execute_command("PUBSUB", "NUMSUB", f"chatsvc:events:{session}") == [f"chatsvc:events:{session}".encode(), 0]
        # Who is online is shared across the processes through the cluster.
        people = await pupil.call("ListParticipants", pb.ListParticipantsRequest(session_id=session))
        assert [p.user_id for p in people.participants] == ["watcher"], session

    for watcher in watchers.values():
        await watcher.stop()
    await teacher.close()
    await pupil.close()


async def test_a_master_killed_mid_stream_loses_nothing_and_its_limits_fail_open_then_come_back(pair, cluster):
    first, second = pair
    by_master = sessions_on_every_master(cluster)
    doomed_master = cluster.nodes[1]
    doomed, spared = by_master[1][0], by_master[0][0]
    watchers = {session: Collector(ChatClient(second.target, token("watcher")), session) for session in (doomed, spared)}
    for watcher in watchers.values():
        await watcher.wait_for(lambda events: events, "the join")
    teacher = Client(first.target, "teacher", role="instructor")

    async def send(count: int, start: int) -> None:
        for number in range(start, start + count):
            for session in (doomed, spared):
                await teacher.call("SendMessage", pb.SendMessageRequest(session_id=session, text=f"{number}"))

    await send(5, 0)
    doomed_master.kill()
    await send(10, 5)  # accepted while the master is away: stored, and fetched by the other process
    for session, watcher in watchers.items():
        await watcher.wait_for(lambda events, w=watcher: len(w.texts()) == 15, f"15 messages in {session}")
        assert watcher.texts() == [str(number) for number in range(15)], session  # in order, none twice

    # Rate limits: on the master that is away they fail open (the chat keeps working) ...
    pupil = Client(first.target, f"pupil-{uuid.uuid4().hex[:6]}")
    for number in range(7):
        await pupil.call("SendMessage", pb.SendMessageRequest(session_id=doomed, text=f"open {number}"))
    # ... while the other masters' sessions are still limited.
    for number in range(5):
        await pupil.call("SendMessage", pb.SendMessageRequest(session_id=spared, text=f"limited {number}"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await pupil.call("SendMessage", pb.SendMessageRequest(session_id=spared, text="one too many"))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    doomed_master.start()
    await asyncio.to_thread(cluster.wait_until_ok)
    # The master is back: the other process follows the session on it again, and limits apply there again.
    await eventually(lambda: shard_subscribers(cluster, doomed) == 1, "the shard subscription on the restarted master")
    latecomer = Client(first.target, f"late-{uuid.uuid4().hex[:6]}")
    for number in range(5):
        await latecomer.call("SendMessage", pb.SendMessageRequest(session_id=doomed, text=f"late {number}"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await latecomer.call("SendMessage", pb.SendMessageRequest(session_id=doomed, text="one too many"))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    await send(3, 15)
    expected = {
        doomed: [str(n) for n in range(15)] + [f"open {n}" for n in range(7)] + [f"late {n}" for n in range(5)] + ["15", "16", "17"],
        spared: [str(n) for n in range(15)] + [f"limited {n}" for n in range(5)] + ["15", "16", "17"],
    }
    for session, watcher in watchers.items():
        await watcher.wait_for(lambda events, w=watcher, s=session: len(w.texts()) == len(expected[s]), f"every message in {session}")
        assert watcher.texts() == expected[session], session
    # The operator was told once that limits were off, and once that they were back: not at each
    # command that went to a master still up.
    assert await first.stop() == 0
    log = "".join(first.output)
    assert log.count("rate limits are off until Redis answers again") == 1, log
    assert log.count("rate limits are back on") == 1, log

    for watcher in watchers.values():
        await watcher.stop()
    for client in (teacher, pupil, latecomer):
        await client.close()


def test_a_cluster_named_as_a_single_node_and_a_single_node_named_as_a_cluster_are_refused(tmp_path, cluster, redis_server):
    from tests.test_startup_errors import refuses, serve

    node = cluster.nodes[0].address
    refuses(serve(tmp_path, "--redis-url", f"redis://{node}"), "serve", "is a node of a Redis Cluster", f"redis+cluster://{node}")
    with redis.Redis.from_url(redis_server.url) as plain:
        assert plain.ping()
    single = redis_server.url.replace("redis://", "redis+cluster://").removesuffix("/0")
    refuses(serve(tmp_path, "--redis-url", single), "serve", "is not a cluster")


def test_bench_on_the_cluster_shows_each_masters_load_and_each_processs_inbound_events(cluster, postgres_url):
    from tests.test_bench import bench

    results = bench("--processes", "2", "--redis-url", cluster.url, "--database-url", postgres_url, "--sessions", "6")
    assert results["ok"] is True, results["service"]["errors"]
    service = results["service"]
    # Six sessions spread over the three masters: every master published some of them.
    assert sorted(node["node"] for node in service["redis"]) == sorted(node.address for node in cluster.nodes)
    assert all(node["commands_per_s"] > 0 for node in service["redis"])
    assert [p["sessions_followed"] for p in service["processes_fanout"]] == [6, 6]
    assert service["lost"] == service["duplicated"] == 0
