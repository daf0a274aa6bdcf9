"""The Q&A queue: a question's life, anonymity on every path, upvote races, refusals."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import CODE, Client, refused
from tests.support.streams import SESSION, opened

BOTH_BACKENDS = True  # SQLite and PostgreSQL (see conftest)

QUESTION_EVENTS = (
    "question_asked",
    "question_author",
    "question_upvotes_changed",
    "question_answered",
    "question_dismissed",
    "question_withdrawn",
    "question_pinned",
    "question_unpinned",
)


@pytest.fixture
def settings(settings):
    settings.message_rate_limit = 4  # a budget of its own for questions: the rate-limit test reaches it
    return settings


async def ask(client: Client, text: str, *, anonymous: bool = False) -> pb.Question:
    return (await client.call("AskQuestion", pb.AskQuestionRequest(session_id=SESSION, text=text, anonymous=anonymous))).question


async def act(client: Client, method: str, question_id: str, **fields) -> pb.Question:
    request = getattr(pb, f"{method}Request")(session_id=SESSION, question_id=question_id, **fields)
    return (await client.call(method, request)).question


async def listed(client: Client, state: int = 0, page_size: int = 0) -> list[pb.Question]:
    request = pb.ListQuestionsRequest(session_id=SESSION, state=state, page_size=page_size)
    return list((await client.call("ListQuestions", request)).questions)


def summary(questions) -> list[tuple[str, int, int]]:
    return [(q.text, q.state, q.upvote_count) for q in questions]


async def test_the_life_of_a_question(alice, bob, carol, connect):
    dave = connect("dave", name="Dave")
    teacher, asker, watcher = await opened(alice, bob, carol)
    asking = asker.act(ask_question=pb.AskQuestionAction(text="Why is the sky blue?"))
    accepted = (await asker.reply_to(asking)).action_accepted
    first = accepted.question_id
    assert first and accepted.sequence > 0
    for stream in (teacher, asker, watcher):
        seen = (await stream.next("question_asked")).question_asked
        assert (seen.question_id, seen.text, seen.asker_id, seen.asker_name) == (first, "Why is the sky blue?", "bob", "Bob")
        assert seen.state == pb.QUESTION_STATE_OPEN and seen.upvote_count == 0 and not seen.anonymous

    upvoted = await act(carol, "UpvoteQuestion", first)
    assert upvoted.upvote_count == 1 and upvoted.upvoted_by_me
    assert (await watcher.next("question_upvotes_changed")).question_upvotes_changed == pb.QuestionUpvotes(question_id=first, upvote_count=1)
    assert (await act(carol, "UpvoteQuestion", first)).upvote_count == 1  # once each: a repeat changes nothing
    error = await refused(grpc.StatusCode.FAILED_PRECONDITION, act(bob, "UpvoteQuestion", first))
    assert "your own question" in error.details()

    second = (await ask(dave, "Is there homework?")).question_id
    for name in ("bob", "carol"):
        await act(connect(name), "UpvoteQuestion", second)
    assert summary(await listed(carol)) == [("Is there homework?", pb.QUESTION_STATE_OPEN, 2), ("Why is the sky blue?", pb.QUESTION_STATE_OPEN, 1)]
    assert [q.upvoted_by_me for q in await listed(carol)] == [True, True] and [q.upvoted_by_me for q in await listed(dave)] == [False, False]
    retracted = await act(carol, "RetractQuestionUpvote", second)
    assert (retracted.upvote_count, retracted.upvoted_by_me) == (1, False)
    assert summary(await listed(bob))[0] == ("Why is the sky blue?", pb.QUESTION_STATE_OPEN, 1)  # ties: the older first

    pinning = teacher.act(pin_question=pb.QuestionAction(question_id=first))
    assert (await teacher.reply_to(pinning)).action_accepted.question_id == first
    assert (await watcher.next("question_pinned")).question_pinned.question.pinned
    assert (await act(alice, "PinQuestion", second)).pinned  # "now answering" moves on: the first is unpinned
    assert (await watcher.next("question_unpinned")).question_unpinned.question.question_id == first
    assert [q.question_id for q in await listed(bob) if q.pinned] == [second]

    answered = await act(alice, "AnswerQuestion", first, answer_text="Rayleigh scattering: see slide 12.")
    assert (answered.state, answered.answer_text, answered.answered_by) == (pb.QUESTION_STATE_ANSWERED, "Rayleigh scattering: see slide 12.", "alice")
    event = await asker.next("question_answered")
    assert event.question_answered.changed_by == "alice" and event.question_answered.question.answer_text.startswith("Rayleigh")
    too_late = ((carol, "UpvoteQuestion"), (carol, "RetractQuestionUpvote"), (bob, "WithdrawQuestion"), (alice, "DismissQuestion"), (alice, "PinQuestion"))
    for who, method in too_late:
        await refused(grpc.StatusCode.FAILED_PRECONDITION, act(who, method, first))
    error = await refused(grpc.StatusCode.FAILED_PRECONDITION, act(alice, "AnswerQuestion", first, answered_live=True))
    assert "answered" in error.details()

    dismissed = await act(alice, "DismissQuestion", second)
    assert dismissed.state == pb.QUESTION_STATE_DISMISSED and not dismissed.pinned
    assert (await watcher.next("question_dismissed")).question_dismissed.question.question_id == second
    assert [q.question_id for q in await listed(carol)] == [first]  # a dismissed question: its asker and instructors only
    assert [q.question_id for q in await listed(dave)] == [second, first]
    assert [q.question_id for q in await listed(alice, pb.QUESTION_STATE_DISMISSED)] == [second]
    assert await listed(carol, pb.QUESTION_STATE_DISMISSED) == []

    third = (await ask(carol, "Can we have a break?")).question_id
    for who in (bob, alice):
        error = await refused(grpc.StatusCode.PERMISSION_DENIED, act(who, "WithdrawQuestion", third))
        assert "only the person who asked" in error.details()
    assert (await act(carol, "WithdrawQuestion", third)).state == pb.QUESTION_STATE_WITHDRAWN
    assert (await teacher.next("question_withdrawn")).question_withdrawn.changed_by == "carol"
    await refused(grpc.StatusCode.FAILED_PRECONDITION, act(alice, "AnswerQuestion", third, answered_live=True))
    assert third not in [q.question_id for q in await listed(alice)]  # withdrawn: listed only when asked for
    assert [q.question_id for q in await listed(alice, pb.QUESTION_STATE_WITHDRAWN)] == [third]

    (late,) = await opened(dave)  # a fresh join: the queue in the snapshot, dave's dismissed question among it
    snapshot = late.events[0].stream_started.snapshot
    assert [(q.question_id, q.state) for q in snapshot.questions] == [(second, pb.QUESTION_STATE_DISMISSED), (first, pb.QUESTION_STATE_ANSWERED)]
    (other,) = await opened(connect("erin", name="Erin"))
    assert [q.question_id for q in other.events[0].stream_started.snapshot.questions] == [first]

    audit = (await alice.call("ListAuditEvents", pb.ListAuditEventsRequest(session_id=SESSION))).events
    actions = [entry.action for entry in audit if entry.action.startswith("question_")]
    assert actions == ["question_dismiss", "question_answer", "question_pin", "question_unpin", "question_pin"]  # newest first
    for stream in (teacher, asker, watcher, late, other):
        stream.cancel()


async def test_participants_cannot_answer_dismiss_or_pin(alice, bob, carol):
    question = (await ask(bob, "May I?")).question_id
    for method, fields in (("AnswerQuestion", {"answer_text": "yes"}), ("DismissQuestion", {}), ("PinQuestion", {}), ("UnpinQuestion", {})):
        error = await refused(grpc.StatusCode.PERMISSION_DENIED, act(carol, method, question, **fields))
        assert "only instructors" in error.details()
    (stream,) = await opened(carol)
    for kind, action in (
        ("answer_question", pb.AnswerQuestionAction(question_id=question, answered_live=True)),
        ("dismiss_question", pb.QuestionAction(question_id=question)),
        ("pin_question", pb.QuestionAction(question_id=question)),
    ):
        reply = await stream.reply_to(stream.act(**{kind: action}))
        assert CODE[reply.error.code] == grpc.StatusCode.PERMISSION_DENIED
    assert summary(await listed(alice)) == [("May I?", pb.QUESTION_STATE_OPEN, 0)]  # the stream stayed open, nothing changed
    assert (await stream.reply_to(stream.act(upvote_question=pb.QuestionAction(question_id=question)))).action_accepted.sequence > 0
    stream.cancel()


async def test_an_anonymous_question_never_names_its_asker_to_other_participants(alice, bob, carol):
    teacher, asker, watcher = await opened(alice, bob, carol)
    before = watcher.events[0].stream_started.resume_from_sequence
    question = await ask(bob, "Is it OK that I am lost?", anonymous=True)
    assert (question.asker_id, question.anonymous) == ("bob", True)  # the asker sees themself

    hidden = (await watcher.next("question_asked")).question_asked
    assert (hidden.asker_id, hidden.asker_name, hidden.anonymous) == ("", "", True)
    for stream in (teacher, asker):
        author = (await stream.next("question_author")).question_author
        assert (author.question_id, author.asker_id, author.asker_name) == (question.question_id, "bob", "Bob")
    await act(alice, "AnswerQuestion", question.question_id, answer_text="Not at all: ask away.")
    await watcher.next("question_answered")
    assert "question_author" not in watcher.kinds()
    assert all("bob" not in event.SerializeToString().decode("utf-8", "replace") for event in watcher.events[1:])

    assert [q.asker_id for q in await listed(carol)] == [""] and [q.asker_id for q in await listed(alice)] == ["bob"]
    assert [q.asker_id for q in await listed(bob)] == ["bob"]
    carol_again, alice_again = await opened(carol, alice)
    assert [q.asker_name for q in carol_again.events[0].stream_started.snapshot.questions] == [""]
    assert [q.asker_name for q in alice_again.events[0].stream_started.snapshot.questions] == ["Bob"]
    resumed = carol.stream(SESSION, last_sequence=before)  # the missed events replayed: still no asker
    await resumed.next("question_answered")
    assert resumed.events[0].stream_started.recovered and "question_author" not in resumed.kinds()
    assert [e.question_asked.asker_id for e in resumed.events if e.WhichOneof("kind") == "question_asked"] == [""]

    for export_format in (pb.EXPORT_FORMAT_JSON, pb.EXPORT_FORMAT_CSV, pb.EXPORT_FORMAT_TEXT):
        text = await export(alice, export_format)
        assert "Is it OK that I am lost?" in text and "Not at all: ask away." in text
        assert "bob" not in text.lower(), export_format
    audit = (await alice.call("ListAuditEvents", pb.ListAuditEventsRequest(session_id=SESSION))).events
    assert [entry.target_user_id for entry in audit if entry.action == "question_answer"] == [""]
    for stream in (teacher, asker, watcher, carol_again, alice_again, resumed):
        stream.cancel()


async def test_exports_carry_questions_with_upvotes_and_answers(alice, bob, carol):
    question = (await ask(bob, "=SUM(A1) is a formula?")).question_id
    await act(carol, "UpvoteQuestion", question)
    await act(alice, "AnswerQuestion", question, answered_live=True)
    record = json.loads(await export(alice, pb.EXPORT_FORMAT_JSON))["questions"][0]
    assert {k: record[k] for k in ("text", "asker_id", "state", "upvotes", "answered_live", "answered_by")} == {
        "text": "=SUM(A1) is a formula?", "asker_id": "bob", "state": "answered", "upvotes": 1, "answered_live": True, "answered_by": "alice",
    }
    rows = list(csv.DictReader(io.StringIO(await export(alice, pb.EXPORT_FORMAT_CSV))))
    [row] = [row for row in rows if row["sender_role"] == "question"]
    assert row["message_id"] == f"question:{question}" and row["text"].startswith("'=SUM(A1) is a formula? (1 upvotes; answered (answered live)")
    assert "Question by Bob (bob), 1 upvotes: =SUM(A1) is a formula?" in await export(alice, pb.EXPORT_FORMAT_TEXT)


async def test_upvotes_racing_are_each_counted_once(alice, bob, connect):
    question = (await ask(bob, "Shall we go on?")).question_id
    voters = [connect(f"voter-{n}") for n in range(30)]
    # Each voter twice at once: 60 calls, 30 upvotes.
    await asyncio.gather(*(act(voter, "UpvoteQuestion", question) for voter in voters + voters))
    assert [q.upvote_count for q in await listed(alice)] == [30]
    await asyncio.gather(*(act(voter, "RetractQuestionUpvote", question) for voter in voters[:10] * 2))
    await asyncio.gather(*(act(voter, "UpvoteQuestion", question) for voter in voters[:5]))
    assert [q.upvote_count for q in await listed(alice)] == [25]


async def test_bad_questions_are_refused_censored_or_limited(alice, bob, carol, connect):
    for text in ("", "   ", "x" * 5000):
        await refused(grpc.StatusCode.INVALID_ARGUMENT, ask(bob, text))
    await refused(grpc.StatusCode.NOT_FOUND, act(carol, "UpvoteQuestion", "no-such-question"))
    await refused(grpc.StatusCode.INVALID_ARGUMENT, act(carol, "UpvoteQuestion", ""))
    question = (await ask(bob, "What about this?")).question_id
    error = await refused(grpc.StatusCode.INVALID_ARGUMENT, act(alice, "AnswerQuestion", question))
    assert "answered live" in error.details()
    await refused(grpc.StatusCode.INVALID_ARGUMENT, listed(alice, state=9))
    token_error = await refused(
        grpc.StatusCode.INVALID_ARGUMENT, alice.call("ListQuestions", pb.ListQuestionsRequest(session_id=SESSION, page_token="forged"))
    )
    assert "page_token" in token_error.details()
    outsider = connect("mallory", sessions=["another-class"])
    await refused(grpc.StatusCode.PERMISSION_DENIED, ask(outsider, "Let me in?"))

    (author,) = await opened(carol)
    censored = await ask(carol, "this is shit, why does it fail?")  # a mild word: censored, no strike
    assert censored.text == "this is ****, why does it fail?"
    assert (await ask(carol, "fuck, it fails again")).text == "****, it fails again"  # a severe one strikes
    assert (await author.next("strikes_changed")).strikes_changed.active_strikes == 1
    assert author.kinds().count("strikes_changed") == 1
    author.cancel()

    for number in range(2):  # the limit is 4 questions in the window: carol asked 2
        await ask(carol, f"question {number}")
    error = await refused(grpc.StatusCode.RESOURCE_EXHAUSTED, ask(carol, "one too many"))
    assert "too many questions" in error.details()
    await alice.call("MuteUser", pb.MuteUserRequest(session_id=SESSION, user_id="bob", duration_minutes=10, reason="noise"))
    error = await refused(grpc.StatusCode.FAILED_PRECONDITION, ask(bob, "Am I muted?"))
    assert "muted" in error.details()
    assert len(await listed(alice)) == 5  # nothing half-written


async def test_an_offline_asker_finds_the_answer_on_resume_and_in_the_snapshot(alice, bob):
    (asker,) = await opened(bob)
    question = (await ask(bob, "Will it be on the exam?")).question_id
    await asker.next("question_asked")
    last = asker.events[-1].sequence
    asker.cancel()
    await act(alice, "AnswerQuestion", question, answer_text="Yes, chapter 3.")
    resumed = bob.stream(SESSION, last_sequence=last)
    answer = (await resumed.next("question_answered")).question_answered.question
    assert (answer.question_id, answer.answer_text) == (question, "Yes, chapter 3.") and resumed.events[0].stream_started.recovered
    (fresh,) = await opened(bob)
    [mine] = fresh.events[0].stream_started.snapshot.questions
    assert (mine.answer_text, mine.state, mine.asker_id) == ("Yes, chapter 3.", pb.QUESTION_STATE_ANSWERED, "bob")
    resumed.cancel()
    fresh.cancel()


async def export(client: Client, export_format: int) -> str:
    call = client.stub.ExportChat(pb.ExportChatRequest(session_id=SESSION, format=export_format), metadata=client.metadata)
    return b"".join([response.data async for response in call]).decode()
