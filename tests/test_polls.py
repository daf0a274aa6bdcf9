"""Quick polls: their life, who sees which results and voters, the vote storm, refusals."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import mint_token
from tests.helpers import CODE, SECRET, Client, refused
from tests.support.streams import SESSION, opened, started

BOTH_BACKENDS = True  # SQLite and PostgreSQL (see conftest)

TALLY_INTERVAL_MS = 100
POLL_EVENTS = ("poll_created", "poll_closed", "poll_reopened", "poll_deleted", "poll_results_changed", "vote_cast")


@pytest.fixture
def settings(settings):
    settings.poll_tally_interval_ms = TALLY_INTERVAL_MS
    return settings


async def create(client: Client, *options: str, question: str = "Which colour?", **fields) -> pb.Poll:
    request = pb.CreatePollRequest(session_id=SESSION, question=question, options=options or ("Red", "Blue", "Green"), **fields)
    return (await client.call("CreatePoll", request)).poll


async def vote(client: Client, poll_id: str, *option_ids: str) -> list[str]:
    response = await client.call("CastVote", pb.CastVoteRequest(session_id=SESSION, poll_id=poll_id, option_ids=option_ids))
    return list(response.option_ids)


async def polls(client: Client) -> list[pb.Poll]:
    return list((await client.call("ListPolls", pb.ListPollsRequest(session_id=SESSION))).polls)


def counts(results: pb.PollResults) -> tuple[int, list[int]]:
    return results.voter_count, [option.vote_count for option in results.options]


async def tally(stream, voters: int) -> pb.PollResults:
    """The first poll_results_changed (received or to come) with this many voters."""
    event = await stream.find(lambda e: e.WhichOneof("kind") == "poll_results_changed" and e.poll_results_changed.voter_count == voters)
    return event.poll_results_changed


async def export(client: Client, export_format: int) -> str:
    call = client.stub.ExportChat(pb.ExportChatRequest(session_id=SESSION, format=export_format), metadata=client.metadata)
    return b"".join([response.data async for response in call]).decode()


async def test_the_life_of_a_named_poll(alice, bob, carol):
    teacher, voter, watcher = await opened(alice, bob, carol)
    asked = teacher.act(create_poll=pb.CreatePollAction(question="Which colour?", options=["Red", "Blue", "Green"]))
    poll_id = (await teacher.reply_to(asked)).action_accepted.poll_id
    for stream in (teacher, voter, watcher):
        created = (await stream.next("poll_created")).poll_created.poll
        assert (created.poll_id, created.question, [o.text for o in created.options]) == (poll_id, "Which colour?", ["Red", "Blue", "Green"])
        assert created.state == pb.POLL_STATE_OPEN and counts(created.results) == (0, [0, 0, 0])

    voted = voter.act(cast_vote=pb.CastVoteAction(poll_id=poll_id, option_ids=["2"]))
    accepted = (await voter.reply_to(voted)).action_accepted
    assert (accepted.poll_id, list(accepted.option_ids)) == (poll_id, ["2"]) and accepted.sequence > 0
    assert await vote(carol, poll_id, "2") == ["2"]
    assert counts(await tally(watcher, 2)) == (2, [0, 2, 0])
    assert (await voter.next("vote_cast")).vote_cast.option_ids == ["2"]
    seen = [(e.vote_cast.user_id, list(e.vote_cast.option_ids)) for e in [await teacher.next("vote_cast"), await teacher.next("vote_cast")]]
    assert seen == [("bob", ["2"]), ("carol", ["2"])]  # named: instructors see who voted for what

    assert await vote(bob, poll_id, "1") == ["1"]  # a changed vote
    results = await tally(watcher, 2)
    while counts(results) != (2, [1, 1, 0]):
        results = (await watcher.next("poll_results_changed")).poll_results_changed
    assert [option.percent for option in results.options] == [50.0, 50.0, 0.0]
    [mine] = await polls(bob)
    assert list(mine.my_option_ids) == ["1"] and all(not option.voter_ids for option in mine.results.options)
    [theirs] = await polls(alice)
    assert [list(option.voter_ids) for option in theirs.results.options] == [["bob"], ["carol"], []]

    closed = (await alice.call("ClosePoll", pb.ClosePollRequest(session_id=SESSION, poll_id=poll_id))).poll
    assert closed.state == pb.POLL_STATE_CLOSED and closed.close_time.seconds > 0
    for stream in (teacher, voter, watcher):
        event = (await stream.next("poll_closed")).poll_closed
        assert event.closed_by == "alice" and counts(event.poll.results) == (2, [1, 1, 0])
    error = await refused(grpc.StatusCode.FAILED_PRECONDITION, vote(carol, poll_id, "3"))
    assert "closed" in error.details()

    reopened = teacher.act(reopen_poll=pb.PollAction(poll_id=poll_id))
    assert (await teacher.reply_to(reopened)).action_accepted.sequence > 0
    assert (await watcher.next("poll_reopened")).poll_reopened.poll.state == pb.POLL_STATE_OPEN
    assert await vote(carol, poll_id, "3") == ["3"]

    (late,) = await opened(carol)  # a fresh join: the poll, its results and carol's own vote in the snapshot
    [snapshot_poll] = late.events[0].stream_started.snapshot.polls
    assert list(snapshot_poll.my_option_ids) == ["3"] and snapshot_poll.state == pb.POLL_STATE_OPEN
    assert snapshot_poll.results.voter_count == 2

    await alice.call("DeletePoll", pb.DeletePollRequest(session_id=SESSION, poll_id=poll_id))
    assert (await watcher.next("poll_deleted")).poll_deleted == pb.PollDeleted(poll_id=poll_id, deleted_by="alice")
    assert await polls(bob) == []
    await refused(grpc.StatusCode.FAILED_PRECONDITION, vote(bob, poll_id, "1"))
    audit = (await alice.call("ListAuditEvents", pb.ListAuditEventsRequest(session_id=SESSION))).events
    assert sorted(entry.action for entry in audit) == ["poll_close", "poll_create", "poll_delete", "poll_reopen"]
    assert all(entry.actor_id == "alice" and poll_id in entry.reason for entry in audit)
    for stream in (teacher, voter, watcher, late):
        stream.cancel()


async def test_an_anonymous_poll_names_no_voter_on_any_path(alice, bob, carol):
    teacher, watcher = await opened(alice, carol)
    poll = await create(alice, anonymous=True)
    await vote(bob, poll.poll_id, "1")
    await vote(carol, poll.poll_id, "2")
    assert counts(await tally(teacher, 2)) == (2, [1, 1, 0])
    await tally(watcher, 2)
    marker = await alice.send(SESSION, "marker")
    await teacher.find(lambda e: e.message_posted.message_id == marker.message_id)
    assert "vote_cast" not in teacher.kinds()  # instructors get no vote events of an anonymous poll
    assert [e.vote_cast.user_id for e in watcher.events if e.WhichOneof("kind") == "vote_cast"] == ["carol"]

    def names_a_voter(events: list[pb.Event]) -> bool:
        payload = b"".join(e.SerializeToString() for e in events if e.WhichOneof("kind") in POLL_EVENTS and e.WhichOneof("kind") != "vote_cast")
        return b"bob" in payload or b"carol" in payload

    assert not names_a_voter(teacher.events) and not names_a_voter(watcher.events)
    for viewer in (alice, bob):
        [listed] = await polls(viewer)
        assert counts(listed.results) == (2, [1, 1, 0]) and all(not option.voter_ids for option in listed.results.options)
    snapshot = (await started(alice.stream(SESSION))).events[0].stream_started.snapshot
    assert all(not option.voter_ids for option in snapshot.polls[0].results.options)
    resumed = alice.subscribe(SESSION, last_sequence=1)
    await resumed.find(lambda e: e.message_posted.message_id == marker.message_id)
    assert "vote_cast" not in resumed.kinds() and not names_a_voter(resumed.events)
    carol_resumed = carol.subscribe(SESSION, last_sequence=1)
    await carol_resumed.find(lambda e: e.message_posted.message_id == marker.message_id)
    assert [e.vote_cast.user_id for e in carol_resumed.events if e.WhichOneof("kind") == "vote_cast"] == ["carol"]

    await alice.call("ClosePoll", pb.ClosePollRequest(session_id=SESSION, poll_id=poll.poll_id))
    for export_format in (pb.EXPORT_FORMAT_JSON, pb.EXPORT_FORMAT_CSV, pb.EXPORT_FORMAT_TEXT):
        text = await export(alice, export_format)
        assert poll.poll_id in text and "bob" not in text and "carol" not in text
    audit = (await alice.call("ListAuditEvents", pb.ListAuditEventsRequest(session_id=SESSION))).events
    assert audit and all("bob" not in str(entry) and "carol" not in str(entry) for entry in audit)
    for stream in (teacher, watcher, resumed, carol_resumed):
        stream.cancel()


async def test_hidden_results_reach_participants_only_once_the_poll_closes(alice, bob, carol):
    teacher, watcher = await opened(alice, carol)
    poll = await create(alice, results_hidden_until_closed=True)
    assert not (await watcher.next("poll_created")).poll_created.poll.HasField("results")
    assert await vote(bob, poll.poll_id, "3") == ["3"]
    assert counts(await tally(teacher, 1)) == (1, [0, 0, 1])  # instructors see them all along
    marker = await alice.send(SESSION, "marker")
    await watcher.find(lambda e: e.message_posted.message_id == marker.message_id)
    assert "poll_results_changed" not in watcher.kinds()
    [listed] = await polls(bob)
    assert not listed.HasField("results") and list(listed.my_option_ids) == ["3"]
    assert not (await started(carol.stream(SESSION))).events[0].stream_started.snapshot.polls[0].HasField("results")

    await alice.call("ClosePoll", pb.ClosePollRequest(session_id=SESSION, poll_id=poll.poll_id))
    assert counts((await watcher.next("poll_closed")).poll_closed.poll.results) == (1, [0, 0, 1])
    assert counts((await polls(carol))[0].results) == (1, [0, 0, 1])
    teacher.cancel()
    watcher.cancel()


async def test_a_vote_storm_is_counted_exactly_with_few_tally_events(alice, bob, server):
    (watcher,) = await opened(bob)
    poll = await create(alice, "A", "B", "C", "D", multiple_choice=True)
    voters = 200

    async def cast(number: int) -> list[str]:
        token = mint_token(secret=SECRET, user_id=f"voter-{number}", name=f"Voter {number}", role="participant")
        request = pb.CastVoteRequest(session_id=SESSION, poll_id=poll.poll_id, option_ids=[str(number % 4 + 1)])
        return list((await bob.stub.CastVote(request, metadata=(("authorization", f"Bearer {token}"),))).option_ids)

    began = time.monotonic()
    answers = await asyncio.gather(*(cast(number) for number in range(voters)))
    accepted_in = time.monotonic() - began
    assert answers == [[str(number % 4 + 1)] for number in range(voters)]  # each voter's own acknowledgement
    final = await tally(watcher, voters)
    elapsed = time.monotonic() - began
    assert counts(final) == (voters, [50, 50, 50, 50])
    tallies = [e for e in watcher.events if e.WhichOneof("kind") == "poll_results_changed"]
    # At most one tally per interval (plus the first, at once), whatever the number of votes.
    assert len(tallies) <= elapsed / (TALLY_INTERVAL_MS / 1000) + 2 and len(tallies) < voters / 4
    assert "vote_cast" not in watcher.kinds()
    print(f"{voters} votes accepted in {accepted_in:.2f} s ({voters / accepted_in:.0f}/s); {len(tallies)} tally events in {elapsed:.2f} s")
    watcher.cancel()


async def test_participants_cannot_create_close_reopen_or_delete_polls(alice, bob):
    poll = await create(alice)
    await refused(grpc.StatusCode.PERMISSION_DENIED, create(bob))
    for method, request in (
        ("ClosePoll", pb.ClosePollRequest(session_id=SESSION, poll_id=poll.poll_id)),
        ("ReopenPoll", pb.ReopenPollRequest(session_id=SESSION, poll_id=poll.poll_id)),
        ("DeletePoll", pb.DeletePollRequest(session_id=SESSION, poll_id=poll.poll_id)),
    ):
        error = await refused(grpc.StatusCode.PERMISSION_DENIED, bob.call(method, request))
        assert "only instructors" in error.details()
    (stream,) = await opened(bob)
    closing = stream.act(close_poll=pb.PollAction(poll_id=poll.poll_id))
    assert CODE[(await stream.reply_to(closing)).error.code] == grpc.StatusCode.PERMISSION_DENIED
    assert (await polls(bob))[0].state == pb.POLL_STATE_OPEN
    stream.cancel()


async def test_bad_polls_and_bad_votes_are_refused(alice, bob):
    for options, fields in (
        (("Only one",), {}),
        (tuple(f"Option {n}" for n in range(11)), {}),
        (("Same", "same"), {}),
        (("Yes", " "), {}),
        (("Yes", "No"), {"question": "  "}),
        (("Yes", "No"), {"duration": Duration(nanos=500_000_000)}),
    ):
        await refused(grpc.StatusCode.INVALID_ARGUMENT, create(alice, *options, **fields))
    single = await create(alice)
    for option_ids in (("7",), ("1", "2"), ("1", "1"), ("red",)):
        await refused(grpc.StatusCode.INVALID_ARGUMENT, vote(bob, single.poll_id, *option_ids))
    await refused(grpc.StatusCode.NOT_FOUND, vote(bob, "no-such-poll", "1"))
    await refused(grpc.StatusCode.PERMISSION_DENIED, vote(alice, single.poll_id, "1"))  # instructors do not count here
    counted = await create(alice, "Yes", "No", question="Instructors too?", instructors_vote=True)
    assert await vote(alice, counted.poll_id, "1") == ["1"]
    assert await vote(bob, single.poll_id, "1") == ["1"]
    assert await vote(bob, single.poll_id) == []  # withdrawn
    assert list((await polls(bob))[0].my_option_ids) == []


async def test_votes_count_against_a_per_user_rate_limit(alice, bob, settings):
    poll = await create(alice)
    for number in range(settings.vote_rate_limit):
        await vote(bob, poll.poll_id, str(number % 3 + 1))
    await refused(grpc.StatusCode.RESOURCE_EXHAUSTED, vote(bob, poll.poll_id, "1"))


async def test_a_poll_with_a_time_limit_closes_by_itself(alice, bob):
    (watcher,) = await opened(bob)
    poll = await create(alice, duration=Duration(seconds=1))
    assert poll.scheduled_close_time.seconds > 0
    await vote(bob, poll.poll_id, "1")
    closed = (await watcher.next("poll_closed")).poll_closed
    assert closed.closed_by == "" and counts(closed.poll.results) == (1, [1, 0, 0])
    await refused(grpc.StatusCode.FAILED_PRECONDITION, vote(bob, poll.poll_id, "2"))
    audit = (await alice.call("ListAuditEvents", pb.ListAuditEventsRequest(session_id=SESSION))).events
    assert [(entry.action, entry.actor_id) for entry in audit if entry.action == "poll_close"] == [("poll_close", "")]
    watcher.cancel()


async def test_the_export_has_each_poll_with_its_results(alice, bob, carol):
    poll = await create(alice, "Yes", "No", question="Ready?")
    await vote(bob, poll.poll_id, "1")
    await vote(carol, poll.poll_id, "1")
    await alice.call("ClosePoll", pb.ClosePollRequest(session_id=SESSION, poll_id=poll.poll_id))
    [record] = json.loads(await export(alice, pb.EXPORT_FORMAT_JSON))["polls"]
    assert (record["question"], record["state"], record["voter_count"]) == ("Ready?", "closed", 2)
    assert [(o["text"], o["votes"], o["percent"], o["voters"]) for o in record["options"]] == [
        ("Yes", 2, 100.0, ["bob", "carol"]),
        ("No", 0, 0.0, []),
    ]
    rows = list(csv.DictReader(io.StringIO(await export(alice, pb.EXPORT_FORMAT_CSV))))
    [row] = [row for row in rows if row["sender_role"] == "poll"]
    assert row["message_id"] == f"poll:{poll.poll_id}" and "1. Yes: 2 (100%) by bob, carol" in row["text"]
    text = await export(alice, pb.EXPORT_FORMAT_TEXT)
    assert "Ready?" in text and "1. Yes: 2 (100%) by bob, carol" in text and "closed at" in text
