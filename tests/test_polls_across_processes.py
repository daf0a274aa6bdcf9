"""Polls on two server processes sharing PostgreSQL and Redis: one poll, voters on both."""

from __future__ import annotations

import asyncio
import time

import grpc
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.client import ChatClient
from tests.helpers import Client
from tests.test_scale_out import Collector, session, start_cluster, token  # noqa: F401 (fixtures)

VOTERS = 40


def kinds(collector: Collector, kind: str) -> list[pb.Event]:
    return [event for event in collector.events if event.WhichOneof("kind") == kind]


async def test_votes_on_two_processes_make_one_exact_tally_seen_alike_everywhere(start_cluster, session):  # noqa: F811
    first, second = await start_cluster(2)
    teacher = Client(first.target, "teacher", role="instructor")
    watchers = [Collector(ChatClient(server.target, token(f"watcher-{n}")), session) for n, server in enumerate((first, second))]
    for watcher in watchers:
        await watcher.wait_for(lambda events: events, "the join")
    request = pb.CreatePollRequest(session_id=session, question="Which lab?", options=["A", "B"], anonymous=True)
    poll = (await teacher.call("CreatePoll", request)).poll
    voters = [Client((first, second)[n % 2].target, f"voter-{n}") for n in range(VOTERS)]

    began = time.monotonic()
    answers = await asyncio.gather(
        *(
            voter.call("CastVote", pb.CastVoteRequest(session_id=session, poll_id=poll.poll_id, option_ids=[str(n % 2 + 1)]))
            for n, voter in enumerate(voters)
        )
    )
    assert [list(answer.option_ids) for answer in answers] == [[str(n % 2 + 1)] for n in range(VOTERS)]

    def settled(events: list[pb.Event]) -> bool:
        tallies = [e.poll_results_changed for e in events if e.WhichOneof("kind") == "poll_results_changed"]
        return bool(tallies) and tallies[-1].voter_count == VOTERS

    for watcher in watchers:
        await watcher.wait_for(settled, f"the tally of all {VOTERS} votes")
    elapsed = time.monotonic() - began
    # The other process's coalescer may still announce a (equally exact) tally: compare up to the
    # newest tally either watcher has, once both have it.
    newest = max(e.sequence for w in watchers for e in kinds(w, "poll_results_changed"))
    for watcher in watchers:
        await watcher.wait_for(lambda events: any(e.sequence >= newest for e in events), f"sequence {newest}")
    seen = [[(e.sequence, e.SerializeToString()) for e in kinds(w, "poll_results_changed") if e.sequence <= newest] for w in watchers]
    assert seen[0] == seen[1]  # the same tallies, in the same order, on both processes
    last = kinds(watchers[0], "poll_results_changed")[-1].poll_results_changed
    assert (last.voter_count, [option.vote_count for option in last.options]) == (VOTERS, [VOTERS // 2, VOTERS // 2])
    assert all(not option.voter_ids for option in last.options)  # anonymous: no one's vote named
    # Coalesced on each process: a couple per interval (500 ms) at most, never one per vote.
    assert len(seen[0]) <= 2 * (elapsed / 0.5 + 2) and len(seen[0]) < VOTERS // 2
    assert not kinds(watchers[0], "vote_cast") and not kinds(watchers[1], "vote_cast")

    # Closed through one process, refused on the other.
    await teacher.call("ClosePoll", pb.ClosePollRequest(session_id=session, poll_id=poll.poll_id))
    late = Client(second.target, "late-voter")
    try:
        await late.call("CastVote", pb.CastVoteRequest(session_id=session, poll_id=poll.poll_id, option_ids=["1"]))
        raise AssertionError("a vote on a closed poll was accepted")
    except grpc.aio.AioRpcError as error:
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
    await watchers[1].wait_for(lambda events: any(e.WhichOneof("kind") == "poll_closed" for e in events), "poll_closed")
    closed = kinds(watchers[1], "poll_closed")[0].poll_closed
    assert closed.poll.results.voter_count == VOTERS and closed.closed_by == "teacher"
    for watcher in watchers:
        await watcher.stop()
    for client in (teacher, late, *voters):
        await client.close()
