"""Envoy with TLS: on the browsers' listener, and to a chat server that serves TLS (with client
certificates too); envoy/envoy-tls.yaml is the rendering of the README's command."""

from __future__ import annotations

import json
import ssl

import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.cli import build_parser, main
from chatsvc.config import Settings
from chatsvc.web.gateway import WebGateway, WebOptions
from tests.grpcweb import GrpcWebClient
from tests.helpers import grpcurl, running
from tests.support.certificates import CertificateAuthority
from tests.test_envoy import ROOT, SERVICE, auth, validate

# The README's command for envoy/envoy-tls.yaml (paths are where an operator keeps the files).
TLS_EXAMPLE = [
    "envoy-config", "--web-listen", "0.0.0.0:8443", "--grpc-upstream", "chat.internal:50051",
    "--tls-cert", "/etc/sessionchat/tls/web.crt", "--tls-key", "/etc/sessionchat/tls/web.key",
    "--grpc-upstream-ca", "/etc/sessionchat/tls/ca.crt", "--grpc-upstream-server-name", "chat.internal",
    "--grpc-upstream-cert", "/etc/sessionchat/tls/envoy.crt", "--grpc-upstream-key", "/etc/sessionchat/tls/envoy.key",
    "--web-allow-origin", "https://chat.example.com",
]


def render(capsys, arguments: list[str]) -> str:
    args = build_parser().parse_args(arguments)
    assert args.run(args) == 0
    return capsys.readouterr().out


def test_envoy_tls_yaml_is_the_readme_command_and_envoy_validates_it(tmp_path, capsys):
    committed = (ROOT / "envoy" / "envoy-tls.yaml").read_text()
    assert committed == render(capsys, TLS_EXAMPLE), "envoy/envoy-tls.yaml is stale: run the command in the README's TLS section"
    for needle in ("DownstreamTlsContext", "UpstreamTlsContext", 'alpn_protocols: ["h2", "http/1.1"]', 'sni: "chat.internal"',
                   "trusted_ca", "match_typed_subject_alt_names", "/etc/sessionchat/tls/envoy.crt"):
        assert needle in committed, needle
    # Envoy reads the files when it validates: the same rendering with real certificates.
    ca = CertificateAuthority(tmp_path / "pki")
    files = {"web.crt": ca.issue("web").cert, "ca.crt": ca.cert_file, "envoy.crt": ca.issue("envoy", client=True).cert}
    text = committed
    for name, path in files.items():
        text = text.replace(f"/etc/sessionchat/tls/{name}", str(path))
        text = text.replace(f"/etc/sessionchat/tls/{name[:-4]}.key", str(path.with_suffix(".key")))
    (tmp_path / "envoy-tls.yaml").write_text(text)
    result = validate(tmp_path / "envoy-tls.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_plaintext_stays_the_default_rendering(capsys):
    plain = render(capsys, ["envoy-config"])
    assert "transport_socket" not in plain and "tls" not in plain.lower().replace("http_filters", "")


@pytest.mark.parametrize("client_certificates", [False, True], ids=["tls-defaults", "mtls"])
async def test_browsers_reach_a_tls_server_through_envoy_over_tls(tmp_path, settings: Settings, client_certificates):
    """Without web TLS options Envoy serves the chat server's certificate and trusts it upstream;
    for a server that requires client certificates, Envoy presents its own."""
    ca = CertificateAuthority(tmp_path / "pki")
    server_files, envoy_files = ca.issue("server"), ca.issue("envoy", client=True)
    settings.tls_cert_file, settings.tls_key_file = str(server_files.cert), str(server_files.key)
    options = WebOptions(listen="127.0.0.1:0", panel_listen="127.0.0.1:0", allowed_origins=["*"])
    if client_certificates:
        settings.tls_client_ca_file = str(ca.cert_file)
        options.upstream_ca_file = str(ca.cert_file)
        options.upstream_cert_file, options.upstream_key_file = str(envoy_files.cert), str(envoy_files.key)
    async with running(settings) as server:
        gateway = WebGateway(options, f"127.0.0.1:{server.port}", settings)
        url = await gateway.start()
        try:
            assert url.startswith("https://")
            # The browser's listener serves the chat server's certificate: a client trusting the CA connects.
            web = GrpcWebClient(f"https://127.0.0.1:{gateway.envoy.port}", ssl_context=ssl.create_default_context(cafile=str(ca.cert_file)))
            call = await web.call(f"{SERVICE}/SendMessage", pb.SendMessageRequest(session_id="s1", text="via https").SerializeToString(), auth("bob"))
            await web.close()
            assert call.grpc_status == 0, call.grpc_message
            assert pb.SendMessageResponse.FromString(call.messages[0]).message.text == "via https"
            # Native gRPC through the same TLS listener (grpcurl with the CA; Envoy presents its own certificate upstream).
            code, output = await grpcurl(
                "-cacert", str(ca.cert_file), "-H", f"authorization: {auth('bob')['authorization']}",
                "-d", '{"session_id": "s1"}', f"127.0.0.1:{gateway.envoy.port}", f"{SERVICE}/ListMessages",
            )
            assert code == 0, output
            assert [m["text"] for m in json.loads(output)["messages"]] == ["via https"]
        finally:
            await gateway.stop()


def test_envoy_config_refuses_half_a_certificate(capsys):
    assert main(["envoy-config", "--tls-cert", "web.crt"]) == 2
    assert "give a certificate together with its key" in capsys.readouterr().err
