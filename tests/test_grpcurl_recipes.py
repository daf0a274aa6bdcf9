"""The README's "Instructors with grpcurl" recipes, run as written with the real grpcurl.

Each block marked `<!-- grpcurl-recipe: NAME -->` in README.md runs in bash
after the `setup` block, against a real server through reflection, with
CHAT pointing at it. Every recipe must exit 0: a recipe that stops working
(or an RPC answering UNIMPLEMENTED, exit 64 + 12) fails here.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import SECRET

ROOT = Path(__file__).resolve().parent.parent
RECIPE = re.compile(r"<!-- grpcurl-recipe: (?P<name>[^>]+?) -->\s*```sh\n(?P<body>.*?)```", re.S)
REQUIRED = ["setup", "list", "live stream", "send", "history", "raised hands", "mute", "unmute", "delete", "export"]
RECIPE_TIMEOUT = 30.0


def recipes() -> dict[str, str]:
    found = {match["name"]: match["body"] for match in RECIPE.finditer((ROOT / "README.md").read_text())}
    return found


def test_readme_has_every_instructor_recipe():
    assert list(recipes()) == REQUIRED


@pytest.fixture
def shell_env(server, tmp_path) -> dict[str, str]:
    """A user's shell: grpcurl and chatsvc on PATH, the server's secret, CHAT at the server."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHATSVC_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["CHATSVC_JWT_SECRET"] = SECRET
    env["CHAT"] = f"127.0.0.1:{server.port}"
    return env


async def start_recipe(name: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    all_recipes = recipes()
    script = "set -euo pipefail\n" + all_recipes["setup"] + "\n" + all_recipes[name]
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


async def test_instructor_recipes_work_against_a_real_server(shell_env, tmp_path, connect):
    bob = connect("bob", name="Bob")
    bob_feed = bob.subscribe("physics-101")
    await bob_feed.next("stream_started")
    await bob.send("physics-101", "Hello from Bob")
    await bob.call("RaiseHand", pb.RaiseHandRequest(session_id="physics-101"))

    output = await run_recipe("list", shell_env, tmp_path)
    assert "sessionchat.v1.SessionChat" in output and "rpc Subscribe" in output

    stream = await start_recipe("live stream", shell_env, tmp_path)
    seen: list[str] = []
    try:
        await read_until(stream, '"stream_started"', seen)

        output = await run_recipe("send", shell_env, tmp_path)
        assert '"text": "Welcome to class"' in output
        await read_until(stream, '"text": "Welcome to class"', seen)

        output = await run_recipe("history", shell_env, tmp_path)
        assert '"text": "Welcome to class"' in output and '"text": "Hello from Bob"' in output
        assert '"user_id": "bob"' in output  # online

        output = await run_recipe("raised hands", shell_env, tmp_path)
        assert '"user_id": "bob"' in output
        listed = await bob.call("ListRaisedHands", pb.ListRaisedHandsRequest(session_id="physics-101"))
        assert not listed.hands

        output = await run_recipe("mute", shell_env, tmp_path)
        assert '"reason": "off topic"' in output
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await bob.send("physics-101", "am I muted?")
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        await run_recipe("unmute", shell_env, tmp_path)
        await bob.send("physics-101", "back again")

        output = await run_recipe("delete", shell_env, tmp_path)
        assert '"deleted": true' in output
        history = await bob.call("ListMessages", pb.ListMessagesRequest(session_id="physics-101"))
        assert [(m.text, m.deleted) for m in history.messages][0] == ("", True)
        await read_until(stream, '"message_deleted"', seen)

        await run_recipe("export", shell_env, tmp_path)
        exported = (tmp_path / "physics-101.csv").read_text()
        assert "Welcome to class" in exported and "Hello from Bob" in exported
    finally:
        if stream.returncode is None:
            os.killpg(stream.pid, signal.SIGTERM)
            await stream.wait()
