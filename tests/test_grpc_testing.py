"""Why the suite tests the servicer through real grpc.aio servers, not grpcio-testing.

grpcio-testing (the project's chosen test helper) drives servicers synchronously:
given our asyncio servicer it calls the coroutine function and reports the
un-awaited coroutine as the response, with status OK, without running any of
the servicer's code. This test pins that down; when it fails, grpcio-testing has
learned asyncio and the tests of pure request/response rules may move to it.
"""

from __future__ import annotations

import grpc
import grpc_testing
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.transport.servicer import SessionChatServicer


def test_grpc_testing_reports_ok_without_running_an_asyncio_servicer():
    service = pb.DESCRIPTOR.services_by_name["SessionChat"]
    servicer = SessionChatServicer(service=None)  # never reached: grpcio-testing does not run the coroutine
    server = grpc_testing.server_from_dictionary({service: servicer}, grpc_testing.strict_real_time())
    rpc = server.invoke_unary_unary(service.methods_by_name["ListMessages"], (), pb.ListMessagesRequest(session_id="s"), None)
    response, _, code, _ = rpc.termination()
    try:
        # A real server answers UNAUTHENTICATED here (no token); grpcio-testing says OK with a coroutine.
        assert code == grpc.StatusCode.OK
        assert hasattr(response, "__await__"), f"grpcio-testing now returns {type(response).__name__}: it may drive asyncio servicers"
    finally:
        if hasattr(response, "close"):
            response.close()  # the never-awaited coroutine
