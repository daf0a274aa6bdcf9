"""Every start-up error of `chatsvc serve`, `migrate` and `token` is one clear line and exit code 2."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.helpers import CHATSVC, SECRET, server_env
from tests.support.servers import free_port


def chatsvc(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """The real command, as an operator runs it, with only the given CHATSVC_* settings."""
    return subprocess.run(CHATSVC + list(args), cwd=tmp_path, env=server_env(**env), capture_output=True, text=True, timeout=60)


def refuses(result: subprocess.CompletedProcess, command: str, *phrases: str) -> str:
    """Assert exit code 2 and one stderr line naming the problem; the line."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"chatsvc {command}: "), lines[0]
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    env.setdefault("CHATSVC_JWT_SECRET", SECRET)
    return chatsvc(tmp_path, "serve", "--listen", "127.0.0.1:0", *args, **env)


def test_serve_refuses_a_database_url_of_unknown_scheme(tmp_path):
    refuses(serve(tmp_path, "--database-url", "mysql://db/chat"), "serve", "'mysql://db/chat' is not supported", "postgresql://")


def test_serve_refuses_a_database_that_does_not_answer(tmp_path):
    port = free_port()
    result = serve(tmp_path, "--database-url", f"postgresql://postgres@127.0.0.1:{port}/chat")
    refuses(result, "serve", "cannot use the database", "Connection refused")


def test_serve_refuses_a_missing_postgresql_database_and_hides_the_password(tmp_path, postgres_server):
    missing = make_url(postgres_server.new_database()).set(database="chatsvc_no_such_database", password="hunter2")
    result = serve(tmp_path, "--database-url", missing.render_as_string(hide_password=False))
    line = refuses(result, "serve", "chatsvc_no_such_database", "does not exist")
    assert "hunter2" not in line


def test_serve_refuses_a_database_file_it_cannot_create(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")  # works as root too, unlike a read-only directory
    result = serve(tmp_path, "--database-url", f"sqlite:///{tmp_path / 'a-file' / 'chat.db'}")
    refuses(result, "serve", "cannot use the database", "unable to open")


def test_serve_refuses_an_unreachable_redis_without_the_outage_warning(tmp_path):
    result = serve(tmp_path, "--redis-url", f"redis://127.0.0.1:{free_port()}/0")
    refuses(result, "serve", "cannot reach Redis at redis://127.0.0.1:")
    assert "lost the Redis event channel" not in result.stdout + result.stderr


@pytest.mark.parametrize("listen", ["127.0.0.1:70000", "127.0.0.1:http"])
def test_serve_refuses_a_port_that_is_not_one(tmp_path, listen):
    refuses(chatsvc(tmp_path, "serve", "--listen", listen, CHATSVC_JWT_SECRET=SECRET), "serve", repr(listen), "0 to 65535")


@pytest.mark.parametrize("listen", ["50051", ":50051"])
def test_serve_refuses_a_listen_address_without_a_host(tmp_path, listen):
    refuses(chatsvc(tmp_path, "serve", "--listen", listen, CHATSVC_JWT_SECRET=SECRET), "serve", "needs a host and a port")


def test_serve_refuses_a_port_in_use(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        listen = f"127.0.0.1:{holder.getsockname()[1]}"
        refuses(chatsvc(tmp_path, "serve", "--listen", listen, CHATSVC_JWT_SECRET=SECRET), "serve", f"cannot listen on {listen}", "in use")


def test_serve_refuses_a_metrics_port_in_use_before_anything_starts(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        listen = f"127.0.0.1:{holder.getsockname()[1]}"
        refuses(serve(tmp_path, "--metrics-listen", listen), "serve", f"cannot serve metrics on {listen}", "in use")
    assert not (tmp_path / "chatsvc.db").exists()


@pytest.mark.parametrize(("flag", "value", "phrase"), [("--metrics-listen", "9464", "needs a host and a port")])
def test_serve_refuses_operations_flags_it_cannot_use(tmp_path, flag, value, phrase):
    refuses(serve(tmp_path, flag, value), "serve", phrase)


@pytest.mark.parametrize(("variable", "value", "phrase"), [("CHATSVC_LOG_FORMAT", "xml", "text, json"), ("CHATSVC_ACCESS_LOG", "maybe", "must be 1 or 0")])
def test_serve_refuses_log_settings_it_cannot_read(tmp_path, variable, value, phrase):
    refuses(serve(tmp_path, **{variable: value}), "serve", variable, phrase)


def test_serve_refuses_a_jwt_secret_shorter_than_32_bytes(tmp_path):
    refuses(serve(tmp_path, CHATSVC_JWT_SECRET="x" * 31), "serve", "31 bytes", "at least 32")


def test_serve_refuses_a_setting_that_is_not_a_number(tmp_path):
    refuses(serve(tmp_path, CHATSVC_MESSAGE_RATE_LIMIT="five"), "serve", "CHATSVC_MESSAGE_RATE_LIMIT must be an integer")


def test_token_refuses_to_invent_a_secret_the_server_would_not_know(tmp_path):
    result = chatsvc(tmp_path, "token", "--user", "ann", "--name", "Ann", "--role", "instructor")
    refuses(result, "token", "CHATSVC_JWT_SECRET is not set", f".chatsvc-jwt-secret in {tmp_path}")
    assert not (tmp_path / ".chatsvc-jwt-secret").exists()
    assert result.stdout == ""


def test_token_refuses_a_short_secret(tmp_path):
    result = chatsvc(tmp_path, "token", "--user", "ann", "--name", "Ann", "--role", "instructor", CHATSVC_JWT_SECRET="short")
    refuses(result, "token", "at least 32")


def test_migrate_refuses_a_database_that_does_not_answer(tmp_path):
    port = free_port()
    result = chatsvc(tmp_path, "migrate", "--database-url", f"postgresql://postgres@127.0.0.1:{port}/chat")
    refuses(result, "migrate", "cannot use the database", "Connection refused")


@pytest.mark.parametrize(
    ("case", "phrases"),
    [
        ("certificate without key", ["needs both a certificate and its key", "--tls-key"]),
        ("client CA without TLS", ["--tls-client-ca", "needs TLS"]),
        ("key of another certificate", ["are not a certificate and its key"]),
        ("missing certificate file", ["cannot read", "missing.crt"]),
        ("mTLS behind Envoy without its certificate", ["Envoy needs one", "CHATSVC_WEB_UPSTREAM_CERT_FILE"]),
        ("JWKS URL of another scheme", ["CHATSVC_JWT_JWKS_URL", "https://"]),
    ],
)
def test_serve_refuses_tls_and_identity_provider_settings_it_cannot_use(tmp_path, case, phrases):
    from tests.support.certificates import CertificateAuthority

    ca = CertificateAuthority(tmp_path / "pki")
    first, second = ca.issue("first"), ca.issue("second")
    cert, key, client_ca = ("--tls-cert", str(first.cert)), ("--tls-key", str(first.key)), ("--tls-client-ca", str(ca.cert_file))
    arguments = {
        "certificate without key": cert,
        "client CA without TLS": client_ca,
        "key of another certificate": (*cert, "--tls-key", str(second.key)),
        "missing certificate file": ("--tls-cert", str(tmp_path / "missing.crt"), *key),
        "mTLS behind Envoy without its certificate": (*cert, *key, *client_ca, "--web"),
        "JWKS URL of another scheme": (),
    }[case]
    env = {"CHATSVC_JWT_JWKS_URL": "file:///etc/keys.json"} if case == "JWKS URL of another scheme" else {}
    refuses(serve(tmp_path, *arguments, **env), "serve", *phrases)
