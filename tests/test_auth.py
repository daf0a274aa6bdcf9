"""Authentication: every bad token is UNAUTHENTICATED; a token's sessions bound its powers."""

from __future__ import annotations

import time

import grpc
import jwt
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import TokenVerifier
from chatsvc.errors import ChatError, ErrorCode
from tests.helpers import SECRET, Client
from tests.support.streams import SESSION


def claims(**overrides) -> dict:
    base = {"sub": "bob", "name": "Bob", "role": "participant", "exp": int(time.time()) + 600}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


BAD_TOKENS = {
    "expired": (jwt.encode(claims(exp=int(time.time()) - 5), SECRET, algorithm="HS256"), "token expired"),
    "wrong secret": (jwt.encode(claims(), "another-secret-another-secret-12345", algorithm="HS256"), "signature is invalid"),
    "alg none": (jwt.encode(claims(), None, algorithm="none"), "HS256"),
    "no exp": (jwt.encode(claims(exp=None), SECRET, algorithm="HS256"), "'exp'"),
    "no sub": (jwt.encode(claims(sub=None), SECRET, algorithm="HS256"), "'sub'"),
    "bad role": (jwt.encode(claims(role="admin"), SECRET, algorithm="HS256"), "'role'"),
    "garbage": ("not.a.token", "token is invalid"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_bad_tokens_are_unauthenticated_on_unary_and_streams(server, case):
    token, complaint = BAD_TOKENS[case]
    client = Client(f"127.0.0.1:{server.port}", "bob", token=token)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.send(SESSION, "hello")
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert complaint in caught.value.details()

    stream = client.subscribe(SESSION)
    error = await stream.ended()
    assert error is not None and error.code() == grpc.StatusCode.UNAUTHENTICATED
    bidi = client.stream(SESSION)
    error = await bidi.ended()
    assert error is not None and error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert stream.events == [] and bidi.events == []
    await client.close()


async def test_missing_or_malformed_authorization_metadata_is_unauthenticated(server):
    client = Client(f"127.0.0.1:{server.port}", "bob")
    stub = client.stub
    request = pb.SendMessageRequest(session_id=SESSION, text="hi")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.SendMessage(request)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "missing 'authorization: Bearer <token>'" in caught.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.SendMessage(request, metadata=(("authorization", f"Basic {client.token}"),))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    await client.close()


async def test_a_token_limited_to_sessions_may_not_enter_others(connect):
    limited = connect("bob", sessions=[SESSION])
    assert (await limited.send(SESSION, "allowed")).text == "allowed"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await limited.send("other-session", "not allowed")
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "does not allow session 'other-session'" in caught.value.details()

    stream = limited.stream("other-session")
    error = (await stream.reply_to("join")).error
    assert error.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    stream.cancel()


async def test_rs256_tokens_are_verified_with_the_public_key(tmp_path, settings):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from chatsvc.auth import mint_token
    from chatsvc.transport.server import ChatServer

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    settings.jwt_secret = None
    settings.jwt_public_key = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    rs_server = ChatServer(settings)
    await rs_server.start()
    target = f"127.0.0.1:{rs_server.port}"
    try:
        good = Client(target, "bob", token=mint_token(secret="", user_id="bob", name="Bob", role="participant", private_key=private_pem))
        assert (await good.send(SESSION, "signed with RSA")).sender_id == "bob"
        forged = Client(target, "bob", token=jwt.encode(claims(), SECRET, algorithm="HS256"))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await forged.send(SESSION, "HS256 must not pass")
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        await good.close()
        await forged.close()
    finally:
        await rs_server.stop(grace=1)


async def test_health_check_needs_no_token(server):
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "sessionchat.v1.SessionChat"):
        response = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert response.status == health_pb2.HealthCheckResponse.SERVING
    await channel.close()


def test_a_remembered_token_is_refused_once_it_expires():
    """Verified tokens are remembered (to skip the signature check), but never past their expiry."""
    now = [time.time()]
    verifier = TokenVerifier(secret=SECRET, now=lambda: now[0])
    token = jwt.encode(claims(exp=int(now[0]) + 60), SECRET, algorithm="HS256")
    assert verifier.verify(token).user_id == "bob"
    assert verifier.verify(token).user_id == "bob"  # remembered
    now[0] += 61
    with pytest.raises(ChatError) as refused:
        verifier.verify(token)
    assert (refused.value.code, refused.value.message) == (ErrorCode.UNAUTHENTICATED, "token expired")
