"""Child processes we supervise: start one, wait until it is ready, stop it (its stop signal, a grace
period, then SIGKILL).

Ready means a line on its stdout (`start_child`) or a probe that answers (`wait_until_ready`, and
`start_child_sync` for blocking callers such as the test suite's throwaway Redis and PostgreSQL). A child
that exits or is not ready in time is stopped, and `ProcessNotReady` names it and shows the end of
what it printed. The async and sync variants share `Startup`: the deadline and that error.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# How often a probe is asked again: quick enough that waiting adds nothing noticeable, and a
# probe (an HTTP GET, a PING) is cheap.
POLL_SECONDS = 0.02
# Enough of a child's output to see why it failed (a traceback, a refused port) without pages of it.
OUTPUT_TAIL_CHARS = 4000


class ProcessNotReady(RuntimeError):
    """A child exited, or did not become ready in time, while starting; the message shows its output."""


class Startup:
    """One start of one child: when to give up, and the error that says why, with its output."""

    def __init__(self, name: str, timeout: float, *, lines: list[str] | None = None, log: Path | None = None) -> None:
        self.name = name
        self.timeout = timeout
        self.lines = lines if lines is not None else []
        self.log = log
        self.deadline = time.monotonic() + timeout

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def output(self) -> str:
        """What the child printed: the stdout lines read, then its log file."""
        text = "".join(self.lines)
        if self.log is not None:
            with suppress(OSError):
                text += self.log.read_text(errors="replace")
        return text[-OUTPUT_TAIL_CHARS:]

    def failure(self, why: str) -> ProcessNotReady:
        output = self.output().rstrip()
        return ProcessNotReady(f"{self.name} {why}" + (f":\n{output}" if output else ""))

    def exited(self, returncode: int | None) -> ProcessNotReady:
        if returncode is None:
            return self.failure("closed its output before it was ready")
        return self.failure(f"exited with status {returncode} before it was ready")

    def timed_out(self) -> ProcessNotReady:
        return self.failure(f"was not ready within {self.timeout:g} s")

    def check(self, returncode: int | None) -> None:
        """Between probes: raise once the child has exited or the time is up."""
        if returncode is not None:
            raise self.exited(returncode)
        if self.remaining() == 0:
            raise self.timed_out()


class Child:
    """A started child process and the stdout lines it printed until it was ready."""

    def __init__(self, process: asyncio.subprocess.Process, lines: list[str], *, grace: float, stop_signal: int) -> None:
        self.process = process
        self.lines = lines
        self.grace = grace
        self.stop_signal = stop_signal

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ready_line(self) -> str:
        return self.lines[-1].strip()

    async def stop(self) -> int:
        """Stop it (signal, grace, SIGKILL); its exit status. What it still printed is added to `lines`."""
        rest = await stop_child(self.process, grace=self.grace, stop_signal=self.stop_signal)
        if rest:
            self.lines.append(rest)
        assert self.process.returncode is not None
        return self.process.returncode

    async def kill(self) -> None:
        """SIGKILL now (no chance to clean up), and reap it."""
        with suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()


async def start_child(
    command: Sequence[str],
    *,
    name: str,
    ready: str,
    timeout: float,
    grace: float,
    stop_signal: int = signal.SIGTERM,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Child:
    """Start `command` and read its stdout until a line matches `ready` (a regular expression).

    Its stderr goes to `log` when given, else into stdout (and so into `Child.lines`). A child that
    exits first, stays silent past `timeout`, or whose start is cancelled is stopped.
    """
    if log is not None:
        with log.open("wb") as errors:
            process = await asyncio.create_subprocess_exec(*command, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=errors)
    else:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
    child = Child(process, [], grace=grace, stop_signal=stop_signal)
    startup = Startup(name, timeout, lines=child.lines, log=log)
    pattern = re.compile(ready)
    assert process.stdout is not None
    try:
        while True:
            try:
                line = await asyncio.wait_for(process.stdout.readline(), startup.remaining())
            except TimeoutError:
                raise startup.timed_out() from None
            if not line:
                with suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), min(1.0, startup.remaining()))
                raise startup.exited(process.returncode)
            child.lines.append(line.decode(errors="replace"))
            if pattern.search(child.lines[-1]):
                return child
    except BaseException:
        await child.stop()
        raise


async def wait_until_ready(
    process: asyncio.subprocess.Process,
    probe: Callable[[], Awaitable[T | None]],
    *,
    name: str,
    timeout: float,
    grace: float,
    stop_signal: int = signal.SIGTERM,
) -> T:
    """Ask `probe` until it answers (not None) and return the answer; a child that exits first or
    is not ready within `timeout` is stopped. For children that say nothing when they are ready."""
    startup = Startup(name, timeout)
    try:
        while (answer := await probe()) is None:
            startup.check(process.returncode)
            await asyncio.sleep(POLL_SECONDS)
    except BaseException:
        await stop_child(process, grace=grace, stop_signal=stop_signal)
        raise
    return answer


async def stop_child(process: asyncio.subprocess.Process, *, grace: float, stop_signal: int = signal.SIGTERM) -> str:
    """Send `stop_signal`, wait up to `grace` seconds, then SIGKILL; reaps it. Returns what it still
    wrote to a piped stdout ("" when it had to be killed): reading it lets a child blocked on a
    full pipe finish its shutdown."""
    if process.returncode is None:
        with suppress(ProcessLookupError):
            process.send_signal(stop_signal)
    try:
        rest, _ = await asyncio.wait_for(process.communicate(), grace)
    except TimeoutError:
        with suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        return ""
    return rest.decode(errors="replace") if rest else ""


def start_child_sync(
    command: Sequence[str],
    *,
    name: str,
    ready: Callable[[], bool],
    log: Path,
    timeout: float,
    grace: float,
    stop_signal: int = signal.SIGTERM,
    cwd: Path | str | None = None,
) -> subprocess.Popen[bytes]:
    """Blocking: start `command` (stdout and stderr into `log`) and ask `ready` until it says yes;
    a child that exits first or is not ready within `timeout` is stopped."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    startup = Startup(name, timeout, log=log)
    try:
        while not ready():
            startup.check(process.poll())
            time.sleep(POLL_SECONDS)
    except BaseException:
        stop_child_sync(process, grace=grace, stop_signal=stop_signal)
        raise
    return process


def stop_child_sync(process: subprocess.Popen[bytes], *, grace: float, stop_signal: int = signal.SIGTERM) -> None:
    """Blocking: send `stop_signal` to our own child by PID, wait up to `grace` seconds, then SIGKILL; reaps it."""
    if process.poll() is None:
        process.send_signal(stop_signal)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
