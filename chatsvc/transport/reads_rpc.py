"""The read-receipt RPCs and stream action: protobuf in, the same `ReadReceipts` calls, protobuf out."""

from __future__ import annotations

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.domain.service import ChatService
from chatsvc.transport.interceptors import current_principal


async def perform_mark_read(service: ChatService, principal: Principal, session_id: str, request: pb.StreamEventsRequest) -> pb.ActionAccepted:
    """`mark_read`: acknowledged once the mark is stored (no event: sequence 0)."""
    await service.reads.mark_read(principal, session_id, request.mark_read.sequence)
    return pb.ActionAccepted(sequence=0)


class ReadRpcs:
    """SessionChatServicer's read-receipt methods (the servicer provides `service`)."""

    service: ChatService

    async def MarkRead(self, request: pb.MarkReadRequest, context) -> pb.MarkReadResponse:
        stored = await self.service.reads.mark_read(current_principal(), request.session_id, request.sequence)
        return pb.MarkReadResponse(last_read_sequence=stored)

    async def ListReadReceipts(self, request: pb.ListReadReceiptsRequest, context) -> pb.ListReadReceiptsResponse:
        receipts, token = await self.service.reads.list_receipts(
            current_principal(), request.session_id, page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListReadReceiptsResponse(receipts=receipts, next_page_token=token)
