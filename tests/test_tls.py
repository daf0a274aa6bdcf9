"""TLS on the gRPC port with certificates made at test time: grpcurl and clients with the CA,
plaintext refused, client certificates (mTLS), and certificates rotated under live streams."""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import mint_token
from chatsvc.client import ChatClient, TlsOptions
from chatsvc.config import Settings
from tests.helpers import SECRET, Client, ServerProcess, grpcurl, refused, running, server_env
from tests.support.certificates import CertificateAuthority, CertificateFiles, replace_file, served_serial

SESSION = "tls-101"
SEND = "sessionchat.v1.SessionChat/SendMessage"


@dataclass
class Pki:
    ca: CertificateAuthority  # signs the server's certificates
    server: CertificateFiles
    client_ca: CertificateAuthority  # signs the clients' certificates (mTLS)
    client: CertificateFiles

    def credentials(self, client: CertificateFiles | None = None) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            self.ca.cert_file.read_bytes(),
            client.key.read_bytes() if client else None,
            client.cert.read_bytes() if client else None,
        )


@pytest.fixture
def pki(tmp_path) -> Pki:
    ca = CertificateAuthority(tmp_path / "pki", "Server CA")
    client_ca = CertificateAuthority(tmp_path / "pki", "Client CA")
    return Pki(ca, ca.issue("server"), client_ca, client_ca.issue("backend", client=True))


@pytest.fixture
def settings(settings: Settings, pki: Pki) -> Settings:
    """The test server's settings, with TLS (the conftest `server` fixture starts it)."""
    settings.tls_cert_file, settings.tls_key_file = str(pki.server.cert), str(pki.server.key)
    return settings


def token(user_id: str = "ann", role: str = "instructor") -> str:
    return mint_token(secret=SECRET, user_id=user_id, name=user_id.title(), role=role)


def auth(user_id: str = "ann") -> tuple[str, str]:
    return ("-H", f"authorization: Bearer {token(user_id)}")


async def test_grpcurl_with_the_ca_reaches_the_tls_server(server, pki):
    target = f"127.0.0.1:{server.port}"
    code, output = await grpcurl("-cacert", str(pki.ca.cert_file), target, "list")
    assert code == 0, output
    assert "sessionchat.v1.SessionChat" in output.split()
    code, output = await grpcurl("-cacert", str(pki.ca.cert_file), *auth(), "-d", '{"session_id": "tls-101", "text": "over TLS"}', target, SEND)
    assert code == 0, output
    assert json.loads(output)["message"]["text"] == "over TLS"
    # Without the CA grpcurl does not trust the certificate; in plaintext the server does not answer it.
    code, output = await grpcurl(target, "list")
    assert code != 0 and "certificate" in output, output
    code, output = await grpcurl("-plaintext", target, "list")
    assert code != 0, output


async def test_a_plaintext_client_is_refused(server, pki):
    plaintext = Client(f"127.0.0.1:{server.port}", "bob")
    await refused(grpc.StatusCode.UNAVAILABLE, plaintext.stub.SendMessage(pb.SendMessageRequest(session_id=SESSION, text="hi"), timeout=10))
    await plaintext.close()
    secure = Client(f"127.0.0.1:{server.port}", "bob", credentials=pki.credentials())
    assert (await secure.send(SESSION, "hi")).text == "hi"
    await secure.close()


async def test_chat_client_speaks_tls_trusting_a_given_ca_and_not_the_system_roots_alone(server, pki):
    target = f"127.0.0.1:{server.port}"
    async with ChatClient(target, token(), tls=TlsOptions(ca_file=str(pki.ca.cert_file))) as chat:
        sent = await chat.send_message(SESSION, "hello over TLS")
        events = chat.events(SESSION)
        first = await asyncio.wait_for(anext(events), 10)
        assert first.WhichOneof("kind") == "stream_started"
        assert [m.message_id for m in first.stream_started.snapshot.recent_messages] == [sent.message_id]
        await events.aclose()
    async with ChatClient(target, token(), tls=True) as chat:  # the test CA is no system root
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await chat.send_message(SESSION, "not trusted", attempts=1)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_chat_client_checks_the_name_it_is_told_for_a_server_reached_by_address(settings, pki):
    named = pki.ca.issue("named", hosts=("chat.internal",))
    settings.tls_cert_file, settings.tls_key_file = str(named.cert), str(named.key)
    async with running(settings) as server:
        target = f"127.0.0.1:{server.port}"
        async with ChatClient(target, token(), tls=TlsOptions(ca_file=str(pki.ca.cert_file))) as chat:
            with pytest.raises(grpc.aio.AioRpcError) as caught:  # the certificate is not for 127.0.0.1
                await chat.send_message(SESSION, "wrong name", attempts=1)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        async with ChatClient(target, token(), tls=TlsOptions(ca_file=str(pki.ca.cert_file), server_name="chat.internal")) as chat:
            assert (await chat.send_message(SESSION, "right name")).text == "right name"


async def test_mtls_refuses_clients_without_a_certificate_of_the_client_ca_and_accepts_those_with_one(settings, pki):
    settings.tls_client_ca_file = str(pki.client_ca.cert_file)
    async with running(settings) as server:
        target = f"127.0.0.1:{server.port}"
        request = pb.SendMessageRequest(session_id=SESSION, text="hi")
        anonymous = Client(target, "bob", credentials=pki.credentials())
        await refused(grpc.StatusCode.UNAVAILABLE, anonymous.stub.SendMessage(request, metadata=anonymous.metadata, timeout=10))
        stranger = Client(target, "bob", credentials=pki.credentials(pki.ca.issue("stranger", client=True)))  # not the client CA's
        await refused(grpc.StatusCode.UNAVAILABLE, stranger.stub.SendMessage(request, metadata=stranger.metadata, timeout=10))
        backend = Client(target, "bob", credentials=pki.credentials(pki.client))
        assert (await backend.send(SESSION, "with a certificate")).text == "with a certificate"
        for client in (anonymous, stranger, backend):
            await client.close()

        options = TlsOptions(ca_file=str(pki.ca.cert_file), cert_file=str(pki.client.cert), key_file=str(pki.client.key))
        async with ChatClient(target, token(), tls=options) as chat:
            assert (await chat.send_message(SESSION, "from ChatClient")).text == "from ChatClient"
        ca = ("-cacert", str(pki.ca.cert_file))
        code, output = await grpcurl(*ca, "-cert", str(pki.client.cert), "-key", str(pki.client.key), *auth(), "-d", '{"session_id": "tls-101"}',
                                     target, "sessionchat.v1.SessionChat/ListMessages")
        assert code == 0, output
        assert sorted(m["text"] for m in json.loads(output)["messages"]) == ["from ChatClient", "with a certificate"]
        code, output = await grpcurl(*ca, target, "list")
        assert code != 0, output


async def test_a_rotated_certificate_is_served_to_new_connections_while_an_old_stream_lives_on(server, settings, pki):
    target = f"127.0.0.1:{server.port}"
    bob = Client(target, "bob", credentials=pki.credentials())
    stream = bob.subscribe(SESSION)
    assert (await stream.next()).WhichOneof("kind") == "stream_started"
    assert await served_serial(server.port, pki.ca.cert_file) == pki.server.serial

    rotated = pki.ca.issue("server-rotated")
    replace_file(Path(settings.tls_cert_file), rotated.cert)
    # Caught half-way (a new certificate, the old key): new connections keep the old pair.
    assert await served_serial(server.port, pki.ca.cert_file) == pki.server.serial
    replace_file(Path(settings.tls_key_file), rotated.key)
    assert await served_serial(server.port, pki.ca.cert_file) == rotated.serial

    alice = Client(target, "alice", "instructor", credentials=pki.credentials())  # a connection made after the rotation
    sent = await alice.send(SESSION, "after the rotation")
    posted = await stream.next("message_posted")
    assert posted.message_posted.message_id == sent.message_id
    assert stream.error is None and not stream._task.done()
    assert server.certificates is not None and server.certificates.reloads == 1
    stream.cancel()
    for client in (alice, bob):
        await client.close()


async def test_chatsvc_serve_rereads_its_certificate_on_sighup(tmp_path, pki):
    env = server_env(CHATSVC_JWT_SECRET=SECRET, CHATSVC_DATABASE_URL=f"sqlite:///{tmp_path / 'chat.db'}")
    process = await ServerProcess.start(tmp_path, env, "--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key))
    try:
        port = int(process.target.rsplit(":", 1)[1])
        assert await served_serial(port, pki.ca.cert_file) == pki.server.serial
        rotated = pki.ca.issue("server-rotated")
        replace_file(pki.server.cert, rotated.cert)
        replace_file(pki.server.key, rotated.key)
        process.process.send_signal(signal.SIGHUP)
        while "TLS certificate re-read" not in process.output[-1]:  # before any connection asked for it
            line = (await asyncio.wait_for(process.process.stdout.readline(), 30)).decode()
            assert line, "chatsvc serve exited:\n" + "".join(process.output)
            process.output.append(line)
        assert await served_serial(port, pki.ca.cert_file) == rotated.serial
        code, output = await grpcurl("-cacert", str(pki.ca.cert_file), *auth(), "-d", '{"session_id": "tls-101", "text": "still up"}', process.target, SEND)
        assert code == 0, output
    finally:
        assert await process.stop() == 0, "".join(process.output)
