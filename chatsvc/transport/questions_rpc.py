"""The Q&A RPCs and stream actions: protobuf in, the same `Questions` calls, protobuf out."""

from __future__ import annotations

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.domain.service import ChatService
from chatsvc.transport.interceptors import current_principal

QUESTION_ACTIONS = frozenset(
    {
        "ask_question",
        "upvote_question",
        "retract_question_upvote",
        "answer_question",
        "dismiss_question",
        "pin_question",
        "unpin_question",
        "withdraw_question",
    }
)


async def perform_question(service: ChatService, principal: Principal, session_id: str, request: pb.StreamEventsRequest) -> pb.ActionAccepted:
    """A Q&A stream action; the acknowledgement names the question."""
    questions = service.questions
    kind = request.WhichOneof("action")
    if kind == "ask_question":
        question, sequence = await questions.ask(principal, session_id, request.ask_question.text, anonymous=request.ask_question.anonymous)
        return pb.ActionAccepted(sequence=sequence, question_id=question.question_id)
    if kind == "answer_question":
        action = request.answer_question
        _, sequence = await questions.answer(principal, session_id, action.question_id, action.answer_text, answered_live=action.answered_live)
        return pb.ActionAccepted(sequence=sequence, question_id=action.question_id)
    question_id = getattr(request, kind).question_id
    step = {
        "upvote_question": questions.upvote,
        "retract_question_upvote": questions.retract_upvote,
        "dismiss_question": questions.dismiss,
        "pin_question": questions.pin,
        "unpin_question": questions.unpin,
        "withdraw_question": questions.withdraw,
    }[kind]
    _, sequence = await step(principal, session_id, question_id)
    return pb.ActionAccepted(sequence=sequence, question_id=question_id)


class QuestionRpcs:
    """SessionChatServicer's Q&A methods (the servicer provides `service`)."""

    service: ChatService

    async def AskQuestion(self, request: pb.AskQuestionRequest, context) -> pb.AskQuestionResponse:
        question, _ = await self.service.questions.ask(current_principal(), request.session_id, request.text, anonymous=request.anonymous)
        return pb.AskQuestionResponse(question=question)

    async def UpvoteQuestion(self, request: pb.UpvoteQuestionRequest, context) -> pb.UpvoteQuestionResponse:
        question, _ = await self.service.questions.upvote(current_principal(), request.session_id, request.question_id)
        return pb.UpvoteQuestionResponse(question=question)

    async def RetractQuestionUpvote(self, request: pb.RetractQuestionUpvoteRequest, context) -> pb.RetractQuestionUpvoteResponse:
        question, _ = await self.service.questions.retract_upvote(current_principal(), request.session_id, request.question_id)
        return pb.RetractQuestionUpvoteResponse(question=question)

    async def AnswerQuestion(self, request: pb.AnswerQuestionRequest, context) -> pb.AnswerQuestionResponse:
        question, _ = await self.service.questions.answer(
            current_principal(), request.session_id, request.question_id, request.answer_text, answered_live=request.answered_live
        )
        return pb.AnswerQuestionResponse(question=question)

    async def DismissQuestion(self, request: pb.DismissQuestionRequest, context) -> pb.DismissQuestionResponse:
        question, _ = await self.service.questions.dismiss(current_principal(), request.session_id, request.question_id)
        return pb.DismissQuestionResponse(question=question)

    async def PinQuestion(self, request: pb.PinQuestionRequest, context) -> pb.PinQuestionResponse:
        question, _ = await self.service.questions.pin(current_principal(), request.session_id, request.question_id)
        return pb.PinQuestionResponse(question=question)

    async def UnpinQuestion(self, request: pb.UnpinQuestionRequest, context) -> pb.UnpinQuestionResponse:
        question, _ = await self.service.questions.unpin(current_principal(), request.session_id, request.question_id)
        return pb.UnpinQuestionResponse(question=question)

    async def WithdrawQuestion(self, request: pb.WithdrawQuestionRequest, context) -> pb.WithdrawQuestionResponse:
        question, _ = await self.service.questions.withdraw(current_principal(), request.session_id, request.question_id)
        return pb.WithdrawQuestionResponse(question=question)

    async def ListQuestions(self, request: pb.ListQuestionsRequest, context) -> pb.ListQuestionsResponse:
        questions, token = await self.service.questions.list_questions(
            current_principal(), request.session_id, state=request.state, page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListQuestionsResponse(questions=questions, next_page_token=token)
