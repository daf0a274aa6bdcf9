"""The hash chain when two server processes write one session at once on PostgreSQL."""

from __future__ import annotations

import asyncio

from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import Client
from tests.test_export_chain import exported_from, verify
from tests.test_scale_out import session, start_cluster  # noqa: F401 (fixtures)

WRITERS = 16
MESSAGES = 4  # within the rate limit of 5 messages per 10 s


async def test_racing_writers_on_two_processes_leave_one_chain_that_verifies(start_cluster, session, tmp_path):  # noqa: F811
    first, second = await start_cluster(2)
    writers = [Client((first, second)[n % 2].target, f"writer-{n}") for n in range(WRITERS)]
    teacher = Client(second.target, "teacher", role="instructor")

    async def write(writer: Client) -> list[pb.ChatMessage]:
        return [await writer.send(session, f"{writer.user_id} says {n}") for n in range(MESSAGES)]

    sent = [message for messages in await asyncio.gather(*(write(writer) for writer in writers)) for message in messages]
    await teacher.call("DeleteMessage", pb.DeleteMessageRequest(session_id=session, message_id=sent[0].message_id))

    document = await exported_from(teacher, session)
    head = document["chain_head"]["sequence"]
    assert [entry["sequence"] for entry in document["chain"]] == list(range(1, head + 1))
    assert {entry.get("message_id") for entry in document["chain"]} >= {message.message_id for message in sent[1:]}
    code, output = verify(tmp_path, document)
    assert code == 0, output
    assert output.startswith("OK: intact:") and f"text left out (deleted) at sequence {sent[0].sequence}" in output
    for client in (*writers, teacher):
        await client.close()
