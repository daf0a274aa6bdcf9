"""The README's TLS section, run as written: openssl makes the files, `chatsvc serve` takes them,
grpcurl calls it with `-cacert` (and a client certificate once the server requires one)."""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
from pathlib import Path

from tests.helpers import ServerProcess, server_env

README = Path(__file__).resolve().parent.parent / "README.md"


def tls_blocks() -> list[str]:
    """The shell blocks of the README's "TLS" section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## TLS\n"):]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


async def bash(script: str, cwd: Path, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        "bash", "-euo", "pipefail", "-c", script, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, f"{script}\n---\n{output.decode()}"
    return output.decode()


def serve_arguments(block: str) -> list[str]:
    (line,) = [line for line in block.splitlines() if " serve " in line]
    words = shlex.split(line)
    return words[words.index("serve") + 1:]


async def test_the_readme_tls_commands_work_as_written(tmp_path):
    make_files, serve, call, serve_mtls, call_mtls = tls_blocks()
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "bin").symlink_to(Path(sys.executable).parent)  # the README's .venv/bin
    env = server_env()
    await bash(make_files, tmp_path, env)
    for block, calls in ((serve, call), (serve_mtls, call_mtls)):
        server = await ServerProcess.start(tmp_path, env, *serve_arguments(block))
        try:
            output = await bash(calls.replace("127.0.0.1:50051", server.target), tmp_path, env)
            assert "sessionchat.v1.SessionChat" in output.split()
            if "SendMessage" in calls:
                assert '"text": "hello over TLS"' in output
        finally:
            assert await server.stop() == 0, "".join(server.output)
