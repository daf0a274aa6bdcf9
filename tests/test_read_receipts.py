"""Read receipts: marks coalesced, instructors' counts exact, participants see nothing of others."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import Client, refused
from tests.support.streams import SESSION, opened

BOTH_BACKENDS = True


@pytest.fixture
def settings(settings):
    settings.read_flush_ms = 20
    return settings


async def mark(client: Client, sequence: int) -> int:
    return (await client.call("MarkRead", pb.MarkReadRequest(session_id=SESSION, sequence=sequence))).last_read_sequence


async def receipts(client: Client, **fields) -> list[pb.ReadReceipt]:
    return list((await client.call("ListReadReceipts", pb.ListReadReceiptsRequest(session_id=SESSION, **fields))).receipts)


def table(found: list[pb.ReadReceipt]) -> list[tuple[int, int, int, list[str]]]:
    return [(r.count.sequence, r.count.audience_count, r.count.read_count, [p.user_id for p in r.unread]) for r in found]


async def test_instructors_see_who_of_those_online_has_read_each_message(alice, bob, carol, connect):
    teacher, reader, other = await opened(alice, bob, carol)
    first = await alice.send(SESSION, "Homework: chapter 4")  # online: bob and carol (alice wrote it)
    dave = connect("dave", name="Dave")
    (late,) = await opened(dave)
    second = await alice.send(SESSION, "Quiz on Friday")  # now dave too
    third = await bob.send(SESSION, "Thanks")  # bob's own: alice, carol, dave

    assert await mark(bob, second.sequence) == second.sequence
    assert await mark(carol, first.sequence) == first.sequence
    assert await mark(bob, first.sequence) == second.sequence  # a lower mark changes nothing
    assert table(await receipts(alice)) == [
        (third.sequence, 3, 0, ["alice", "carol", "dave"]),
        (second.sequence, 3, 1, ["carol", "dave"]),
        (first.sequence, 2, 2, []),
    ]
    assert [p.display_name for p in (await receipts(alice))[1].unread] == ["Carol", "Dave"]
    live = await teacher.find(lambda e: e.WhichOneof("kind") == "read_counts_changed"
                              and any(c.read_count == 2 for c in e.read_counts_changed.counts))
    assert {c.sequence: c.read_count for c in live.read_counts_changed.counts}[first.sequence] == 2

    error = await refused(grpc.StatusCode.PERMISSION_DENIED, receipts(bob))
    assert "only instructors" in error.details()
    for stream in (reader, other, late):
        assert "read_counts_changed" not in stream.kinds()  # participants see nothing of others' reading
    paged = await receipts(alice, page_size=2)
    assert [r.count.sequence for r in paged] == [third.sequence, second.sequence]
    for stream in (teacher, reader, other, late):
        stream.cancel()


async def test_marks_on_the_stream_are_acknowledged_and_come_back_in_the_snapshot(alice, bob):
    await alice.send(SESSION, "Welcome")
    (stream,) = await opened(bob)
    latest = stream.events[0].stream_started.resume_from_sequence
    reply = await stream.reply_to(stream.act(mark_read=pb.MarkReadAction(sequence=latest)))
    assert reply.WhichOneof("kind") == "action_accepted"
    error = await stream.reply_to(stream.act(mark_read=pb.MarkReadAction(sequence=latest + 100)))
    assert error.WhichOneof("kind") == "error" and f"sequence {latest + 100} is beyond the session's latest event (" in error.error.message
    stream.cancel()
    (again,) = await opened(bob)  # another device: the marker is where it was left
    assert again.events[0].stream_started.snapshot.my_last_read_sequence == latest
    again.cancel()


async def test_bad_marks_are_refused(alice, bob, connect):
    await alice.send(SESSION, "Welcome")
    await refused(grpc.StatusCode.INVALID_ARGUMENT, mark(bob, -1))
    error = await refused(grpc.StatusCode.INVALID_ARGUMENT, mark(bob, 10_000))
    assert "beyond the session's latest event" in error.details()
    outsider = connect("mallory", sessions=["another-class"])
    await refused(grpc.StatusCode.PERMISSION_DENIED, mark(outsider, 1))
    await refused(grpc.StatusCode.INVALID_ARGUMENT, alice.call("ListReadReceipts", pb.ListReadReceiptsRequest(session_id=SESSION, page_token="x")))


async def test_a_storm_of_marks_ends_exact_with_few_transactions_and_count_updates(alice, connect):
    readers = [connect(f"reader-{n}") for n in range(40)]
    (teacher,) = await opened(alice)
    streams = [await opened(reader) for reader in readers]
    message = await alice.send(SESSION, "Read this")
    # Each reader marks five times at once, the last one the message.
    await asyncio.gather(*(mark(reader, message.sequence - 5 + step) for reader in readers for step in range(1, 6)))
    [receipt] = [r for r in await receipts(alice) if r.count.sequence == message.sequence]
    assert (receipt.count.audience_count, receipt.count.read_count, list(receipt.unread)) == (40, 40, [])
    await teacher.find(lambda e: e.WhichOneof("kind") == "read_counts_changed"
                       and any(c.sequence == message.sequence and c.read_count == 40 for c in e.read_counts_changed.counts))
    updates = teacher.kinds().count("read_counts_changed")
    assert 1 <= updates <= 20, updates  # 200 marks: a handful of flushes, one update each, not one per mark
    for (stream,) in streams:
        stream.cancel()
    teacher.cancel()
