"""Property: whatever a client sends to any RPC or stream action (random unicode with NUL and
control characters, huge strings, extreme integers, unknown enum values, junk page tokens),
no answer is UNKNOWN or INTERNAL, the server stays up and nothing with a control character
is stored. CHATSVC_FUZZ_EXAMPLES raises the example budget (default 40, derandomized)."""

from __future__ import annotations

import os
import re

import grpc
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sessionchat.v1 import chat_pb2 as pb
from sqlalchemy import text

from tests.helpers import CODE, database_engine
from tests.support.streams import SESSION

BOTH_BACKENDS = True
EXAMPLES = int(os.environ.get("CHATSVC_FUZZ_EXAMPLES", "40"))
FORBIDDEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

strings = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x9F), max_size=20),
    st.sampled_from(["", SESSION, "bob", "alice", "\x00", "a\x00b", "x" * 5000]),
)
integers = st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1, -1, 2**31 - 1, -(2**31)]))
longs = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, 1, 2**63 - 1]))
enums = st.integers(-5, 10)

UNARY = {
    "SendMessage": lambda d: pb.SendMessageRequest(
        session_id=d(st.sampled_from([SESSION]) | strings),
        text=d(strings),
        recipient_id=d(strings),
        client_message_id=d(strings),
        reply_to_message_id=d(strings),
    ),
    "ListMessages": lambda d: pb.ListMessagesRequest(
        session_id=d(strings), page_size=d(integers), page_token=d(strings), after_sequence=d(longs)
    ),
    "ListParticipants": lambda d: pb.ListParticipantsRequest(
        session_id=d(strings), page_size=d(integers), page_token=d(strings), include_offline=d(st.booleans())
    ),
    "DeleteMessage": lambda d: pb.DeleteMessageRequest(session_id=d(strings), message_id=d(strings)),
    "MuteUser": lambda d: pb.MuteUserRequest(session_id=d(strings), user_id=d(strings), duration_minutes=d(integers), reason=d(strings)),
    "UnmuteUser": lambda d: pb.UnmuteUserRequest(session_id=d(strings), user_id=d(strings)),
    "ListMutes": lambda d: pb.ListMutesRequest(session_id=d(strings)),
    "GetChatPolicy": lambda d: pb.GetChatPolicyRequest(session_id=d(strings)),
    "UpdateChatPolicy": lambda d: pb.UpdateChatPolicyRequest(session_id=d(strings), policy=pb.ChatPolicy(public_chat=d(enums), slow_mode_seconds=d(integers))),
    "ClearStrikes": lambda d: pb.ClearStrikesRequest(session_id=d(strings), user_id=d(strings)),
    "ListAuditEvents": lambda d: pb.ListAuditEventsRequest(session_id=d(strings), page_size=d(integers), page_token=d(strings)),
    "AddReaction": lambda d: pb.AddReactionRequest(session_id=d(strings), message_id=d(strings), emoji=d(strings)),
    "RemoveReaction": lambda d: pb.RemoveReactionRequest(session_id=d(strings), message_id=d(strings), emoji=d(strings)),
    "ListReactions": lambda d: pb.ListReactionsRequest(session_id=d(strings), message_id=d(strings)),
    "RaiseHand": lambda d: pb.RaiseHandRequest(session_id=d(strings)),
    "LowerHand": lambda d: pb.LowerHandRequest(session_id=d(strings), user_id=d(strings)),
    "AcknowledgeHand": lambda d: pb.AcknowledgeHandRequest(session_id=d(strings), user_id=d(strings)),
    "ListRaisedHands": lambda d: pb.ListRaisedHandsRequest(session_id=d(strings)),
    "SetTyping": lambda d: pb.SetTypingRequest(session_id=d(strings), typing=d(st.booleans()), recipient_id=d(strings)),
    "PinMessage": lambda d: pb.PinMessageRequest(session_id=d(strings), message_id=d(strings)),
    "UnpinMessage": lambda d: pb.UnpinMessageRequest(session_id=d(strings), message_id=d(strings)),
    "ListPinnedMessages": lambda d: pb.ListPinnedMessagesRequest(session_id=d(strings)),
    "SearchMessages": lambda d: pb.SearchMessagesRequest(
        session_id=d(strings), query=d(strings), page_size=d(integers), page_token=d(strings), order=d(enums)
    ),
    "MarkRead": lambda d: pb.MarkReadRequest(session_id=d(strings), sequence=d(longs)),
    "ListReadReceipts": lambda d: pb.ListReadReceiptsRequest(session_id=d(strings), page_size=d(integers), page_token=d(strings)),
    "AskQuestion": lambda d: pb.AskQuestionRequest(session_id=d(strings), text=d(strings), anonymous=d(st.booleans())),
    "UpvoteQuestion": lambda d: pb.UpvoteQuestionRequest(session_id=d(strings), question_id=d(strings)),
    "AnswerQuestion": lambda d: pb.AnswerQuestionRequest(
        session_id=d(strings), question_id=d(strings), answer_text=d(strings), answered_live=d(st.booleans())
    ),
    "WithdrawQuestion": lambda d: pb.WithdrawQuestionRequest(session_id=d(strings), question_id=d(strings)),
    "ListQuestions": lambda d: pb.ListQuestionsRequest(session_id=d(strings), page_size=d(integers), page_token=d(strings), state=d(enums)),
}
ACTIONS = {
    "send_message": lambda d: pb.SendMessageAction(text=d(strings), recipient_id=d(strings), client_message_id=d(strings), reply_to_message_id=d(strings)),
    "delete_message": lambda d: pb.MessageAction(message_id=d(strings)),
    "pin_message": lambda d: pb.MessageAction(message_id=d(strings)),
    "mute_user": lambda d: pb.MuteAction(user_id=d(strings), duration_minutes=d(integers), reason=d(strings)),
    "unmute_user": lambda d: pb.UnmuteAction(user_id=d(strings)),
    "add_reaction": lambda d: pb.ReactionAction(message_id=d(strings), emoji=d(strings)),
    "raise_hand": lambda d: pb.HandAction(user_id=d(strings)),
    "acknowledge_hand": lambda d: pb.HandAction(user_id=d(strings)),
    "set_typing": lambda d: pb.TypingAction(typing=d(st.booleans()), recipient_id=d(strings)),
    "refresh_token": lambda d: pb.RefreshTokenAction(token=d(strings)),
    "mark_read": lambda d: pb.MarkReadAction(sequence=d(longs)),
    "ask_question": lambda d: pb.AskQuestionAction(text=d(strings), anonymous=d(st.booleans())),
    "pin_question": lambda d: pb.QuestionAction(question_id=d(strings)),
    "answer_question": lambda d: pb.AnswerQuestionAction(question_id=d(strings), answer_text=d(strings), answered_live=d(st.booleans())),
}


def draw_examples() -> list[tuple[str, object]]:
    """Requests drawn by hypothesis (derandomized: the same in every CI run)."""
    drawn: list[tuple[str, object]] = []

    @hypothesis_settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def collect(data) -> None:
        d = data.draw
        if d(st.booleans()):
            method = d(st.sampled_from(sorted(UNARY)))
            drawn.append((method, UNARY[method](d)))
        else:
            kind = d(st.sampled_from(sorted(ACTIONS)))
            drawn.append((kind, pb.StreamEventsRequest(**{kind: ACTIONS[kind](d)})))

    collect()
    return drawn


async def test_no_input_gets_unknown_or_internal_and_nothing_invalid_is_stored(alice, bob, settings):
    await alice.send(SESSION, "a message to act on")
    stream = alice.stream(SESSION)
    await stream.next("stream_started")
    for number, (what, request) in enumerate(draw_examples()):
        if isinstance(request, pb.StreamEventsRequest):
            request.request_id = f"fuzz-{number}"  # to find its answer (request ids are checked like any field)
            stream.outgoing.put_nowait(request)
            answer = await stream.reply_to(request.request_id)
            if answer.WhichOneof("kind") == "error":
                assert CODE[answer.error.code] not in FORBIDDEN, (what, request, answer.error.message)
            continue
        for client in (alice, bob):
            try:
                await client.call(what, request)
            except grpc.aio.AioRpcError as error:
                assert error.code() not in FORBIDDEN, (what, request, error.details())
    # the server is still up and the stream still answers
    assert (await alice.send(SESSION, "still up")).text == "still up"
    engine = database_engine(settings)
    with engine.connect() as connection:
        for table, column in [
            ("messages", "text"),
            ("messages", "recipient_id"),
            ("messages", "client_message_id"),
            ("mutes", "reason"),
            ("audit_log", "reason"),
            ("session_members", "user_id"),
            ("reactions", "emoji"),
            ("questions", "text"),
            ("questions", "answer_text"),
        ]:
            for (value,) in connection.execute(text(f"select {column} from {table}")):
                assert value is None or not CONTROL.search(value), (table, column, value)
    engine.dispose()
    stream.cancel()
