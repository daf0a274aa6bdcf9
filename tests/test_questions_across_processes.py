"""The Q&A queue on two server processes sharing PostgreSQL and Redis."""

from __future__ import annotations

import asyncio

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.client import ChatClient
from tests.helpers import Client
from tests.test_scale_out import Collector, session, start_cluster, token  # noqa: F401 (fixtures)

VOTERS = 20


def kinds(collector: Collector, kind: str) -> list[pb.Event]:
    return [event for event in collector.events if event.WhichOneof("kind") == kind]


async def test_upvotes_on_two_processes_count_each_once_and_anonymity_holds_everywhere(start_cluster, session):  # noqa: F811
    first, second = await start_cluster(2)
    participant = Collector(ChatClient(second.target, token("watcher")), session)
    instructor = Collector(ChatClient(second.target, token("teacher", "instructor")), session)
    for watcher in (participant, instructor):
        await watcher.wait_for(lambda events: events, "the join")
    bob = Client(first.target, "bob")
    asked = await bob.call("AskQuestion", pb.AskQuestionRequest(session_id=session, text="Can you slow down?", anonymous=True))
    question_id = asked.question.question_id
    voters = [Client((first, second)[n % 2].target, f"voter-{n}") for n in range(VOTERS)]
    upvote = pb.UpvoteQuestionRequest(session_id=session, question_id=question_id)
    await asyncio.gather(*(voter.call("UpvoteQuestion", upvote) for voter in voters + voters))  # each twice, on both processes

    def counted(events: list[pb.Event]) -> bool:
        counts = [e.question_upvotes_changed.upvote_count for e in events if e.WhichOneof("kind") == "question_upvotes_changed"]
        return bool(counts) and counts[-1] == VOTERS

    for watcher in (participant, instructor):
        await watcher.wait_for(counted, f"{VOTERS} upvotes")
    counts = [e.question_upvotes_changed.upvote_count for e in kinds(participant, "question_upvotes_changed")]
    assert counts == list(range(1, VOTERS + 1))  # one event per upvote that changed something, in order
    teacher = Client(second.target, "teacher", role="instructor")
    await teacher.call("AnswerQuestion", pb.AnswerQuestionRequest(session_id=session, question_id=question_id, answered_live=True))
    for watcher in (participant, instructor):
        await watcher.wait_for(lambda events: any(e.WhichOneof("kind") == "question_answered" for e in events), "the answer")

    assert [e.question_asked.asker_id for e in kinds(participant, "question_asked")] == [""]
    assert kinds(participant, "question_author") == []
    [author] = kinds(instructor, "question_author")
    assert (author.question_author.asker_id, author.question_author.asker_name) == ("bob", "Bob")

    def questions_seen(watcher: Collector) -> list[tuple[int, bytes]]:
        kinds_seen = ("question_asked", "question_upvotes_changed", "question_answered")
        return [(e.sequence, e.SerializeToString()) for e in watcher.events if e.WhichOneof("kind") in kinds_seen]

    assert questions_seen(participant) == questions_seen(instructor)  # the same events, byte for byte, in the same order
    listed = await voters[1].call("ListQuestions", pb.ListQuestionsRequest(session_id=session))
    assert [(q.upvote_count, q.asker_id, q.upvoted_by_me, q.state) for q in listed.questions] == [
        (VOTERS, "", True, pb.QUESTION_STATE_ANSWERED)
    ]
    for watcher in (participant, instructor):
        await watcher.stop()
    for client in (bob, teacher, *voters):
        await client.close()
