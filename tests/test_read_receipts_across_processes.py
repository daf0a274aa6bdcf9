"""Read receipts on two server processes sharing PostgreSQL and Redis."""

from __future__ import annotations

import asyncio

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.client import ChatClient
from tests.helpers import Client
from tests.test_scale_out import Collector, session, start_cluster, token  # noqa: F401 (fixtures)

READERS = 10


async def test_marks_on_both_processes_give_the_instructor_exact_counts(start_cluster, session):  # noqa: F811
    first, second = await start_cluster(2)
    instructor = Collector(ChatClient(first.target, token("teacher", "instructor")), session)
    await instructor.wait_for(lambda events: events, "the join")
    readers = [Collector(ChatClient((first, second)[n % 2].target, token(f"reader-{n}")), session) for n in range(READERS)]
    for reader in readers:
        await reader.wait_for(lambda events: events, "the join")
    teacher = Client(first.target, "teacher", role="instructor")
    posted = (await teacher.call("SendMessage", pb.SendMessageRequest(session_id=session, text="Read the syllabus"))).message
    # Half the class reads it, each marking on their own process, twice at once.
    clients = [Client((first, second)[n % 2].target, f"reader-{n}") for n in range(READERS)]
    request = pb.MarkReadRequest(session_id=session, sequence=posted.sequence)
    await asyncio.gather(*(client.call("MarkRead", request) for client in clients[: READERS // 2] * 2))

    asker = Client(second.target, "teacher", role="instructor")
    listed = await asker.call("ListReadReceipts", pb.ListReadReceiptsRequest(session_id=session))
    [receipt] = [r for r in listed.receipts if r.count.message_id == posted.message_id]
    assert (receipt.count.audience_count, receipt.count.read_count) == (READERS, READERS // 2)
    assert sorted(p.user_id for p in receipt.unread) == sorted(f"reader-{n}" for n in range(READERS // 2, READERS))

    def counted(events: list[pb.Event]) -> bool:
        return any(
            c.message_id == posted.message_id and c.read_count == READERS // 2
            for e in events if e.WhichOneof("kind") == "read_counts_changed" for c in e.read_counts_changed.counts
        )

    await instructor.wait_for(counted, "the live count")
    assert all("read_counts_changed" not in [e.WhichOneof("kind") for e in reader.events] for reader in readers)
    for collector in (instructor, *readers):
        await collector.stop()
    for client in (teacher, asker, *clients):
        await client.close()
