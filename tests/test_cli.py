"""The `chatsvc` command as a user runs it: serve on the embedded default, token, migrate."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.config import normalize_database_url
from tests.helpers import CHATSVC, Client, ServerProcess, server_env

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """A `chatsvc` command as a user who configured nothing runs it."""
    return subprocess.run(CHATSVC + args, cwd=cwd, env=server_env(), capture_output=True, text=True, timeout=60)


def test_help_explains_serve_and_token(tmp_path):
    result = run(["--help"], tmp_path)
    assert result.returncode == 0
    assert "serve" in result.stdout and "token" in result.stdout
    token_help = run(["token", "--help"], tmp_path).stdout
    assert "--user" in token_help and "--role" in token_help and "--session" in token_help


def test_the_bench_commands_are_listed_but_other_commands_start_without_loading_them(tmp_path):
    assert "bench-votes" in run(["--help"], tmp_path).stdout
    # What `chatsvc serve` imports before it listens: the benchmark (about 0.5 s of it) is not among it.
    probe = (
        "import sys, chatsvc.cli as cli\n"
        "try:\n    cli.main(['serve', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('chatsvc.bench')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], env=server_env(), capture_output=True, text=True, timeout=60)
    assert result.stdout.splitlines()[-1] == "[]", result.stderr


@pytest.fixture
async def served(tmp_path):
    """`chatsvc serve` with no configuration, in an empty directory, on a free port."""
    server = await ServerProcess.start(tmp_path, server_env())
    yield server.process, server.target, tmp_path
    await server.kill()


async def test_serve_with_no_configuration_is_secure_and_works_with_chatsvc_tokens(served):
    process, target, directory = served
    assert (directory / "chatsvc.db").exists()
    secret_file = directory / ".chatsvc-jwt-secret"
    assert secret_file.stat().st_mode & 0o077 == 0, "the generated secret must be private to its owner"

    token = run(["token", "--user", "ann", "--name", "Ann", "--role", "instructor", "--session", "s1"], directory)
    assert token.returncode == 0, token.stderr
    client = Client(target, "ann", token=token.stdout.strip())
    assert (await client.send("s1", "it works")).sender_name == "Ann"

    guessed = Client(target, "ann", role="instructor")  # signed with a secret the server never had
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await guessed.send("s1", "let me in")
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    await client.close()
    await guessed.close()


async def test_sigterm_ends_streams_cleanly_and_keeps_every_accepted_message(served):
    process, target, directory = served
    token = run(["token", "--user", "ann", "--name", "Ann", "--role", "instructor"], directory).stdout.strip()
    client = Client(target, "ann", token=token)
    stream = client.subscribe("s1")
    await stream.next("stream_started")
    sent = [await client.send("s1", f"m{n}") for n in range(5)]
    for message in sent:
        assert (await stream.next("message_posted")).message_posted.message_id == message.message_id

    process.send_signal(signal.SIGTERM)
    error = await stream.ended()
    assert error is not None and error.code() == grpc.StatusCode.UNAVAILABLE
    assert "shutting down" in error.details()
    assert await asyncio.wait_for(process.wait(), 30) == 0
    await client.close()

    # Everything accepted is still there for the next server.
    restarted = await ServerProcess.start(directory, server_env())
    client = Client(restarted.target, "ann", token=token)
    page = await client.call("ListMessages", pb.ListMessagesRequest(session_id="s1"))
    assert [m.text for m in page.messages] == ["m4", "m3", "m2", "m1", "m0"]
    await client.close()
    assert await restarted.stop() == 0


def test_migrate_says_it_created_the_schema_then_that_it_is_already_up_to_date(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    head = sorted(path.name.split("_")[0] for path in (ROOT / "chatsvc" / "migrations" / "versions").glob("[0-9]*.py"))[-1]
    said = []
    for _ in range(2):
        result = run(["migrate", "--database-url", url], tmp_path)
        assert result.returncode == 0, result.stderr
        said.append(result.stdout)
    assert said == [
        f"created the database schema at revision {head}\n",
        f"the database schema is already up to date (revision {head})\n",
    ]


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u@db:5432/chat", "postgresql+psycopg://u@db:5432/chat"),
        ("postgres://u@db/chat", "postgresql+psycopg://u@db/chat"),
        ("postgresql+asyncpg://u@db/chat", "postgresql+psycopg://u@db/chat"),
        ("sqlite:///chat.db", "sqlite:///chat.db"),
        ("sqlite+aiosqlite:////var/lib/chat.db", "sqlite:////var/lib/chat.db"),
    ],
)
def test_database_urls_of_older_configurations_keep_working(given, used):
    assert normalize_database_url(given) == used
