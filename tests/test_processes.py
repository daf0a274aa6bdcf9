"""chatsvc.processes with real (tiny Python) child processes: ready lines and probes, clear errors
with the child's output, and SIGKILL for a child that ignores its stop signal."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from chatsvc.processes import ProcessNotReady, start_child, start_child_sync, stop_child, stop_child_sync, wait_until_ready

# Long enough for a Python child to start on a busy machine; the tests that wait for it to
# expire use SHORT instead.
TIMEOUT = 30.0
SHORT = 0.5
GRACE = 0.5


def python(source: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(source)]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_start_returns_once_a_line_matches_and_keeps_the_lines_before_it():
    child = await start_child(
        python("""
            import time
            print("warming up", flush=True)
            print("serving on 127.0.0.1:4242", flush=True)
            time.sleep(60)
        """),
        name="tiny server", ready=r"^serving on ", timeout=TIMEOUT, grace=GRACE,
    )
    assert child.ready_line == "serving on 127.0.0.1:4242"
    assert child.lines == ["warming up\n", "serving on 127.0.0.1:4242\n"]
    assert await child.stop() == -signal.SIGTERM


async def test_a_child_that_exits_before_it_is_ready_is_reported_with_its_output(tmp_path):
    with pytest.raises(ProcessNotReady) as caught:
        await start_child(
            python("""
                import sys
                print("reading the configuration", flush=True)
                sys.exit("CHATSVC_PORT is not a number")
            """),
            name="tiny server", ready="serving on", timeout=TIMEOUT, grace=GRACE,
        )
    message = str(caught.value)
    assert message.startswith("tiny server exited with status 1 before it was ready:")
    assert "reading the configuration" in message and "CHATSVC_PORT is not a number" in message


async def test_stderr_goes_to_the_log_file_and_into_the_error(tmp_path):
    log = tmp_path / "child.log"
    with pytest.raises(ProcessNotReady, match="exited with status 2") as caught:
        await start_child(
            python("""
                import sys
                print("Traceback: the port is taken", file=sys.stderr)
                sys.exit(2)
            """),
            name="tiny server", ready="serving on", timeout=TIMEOUT, grace=GRACE, log=log,
        )
    assert "Traceback: the port is taken" in log.read_text()
    assert "Traceback: the port is taken" in str(caught.value)


async def test_a_silent_child_is_stopped_when_the_start_times_out():
    with pytest.raises(ProcessNotReady, match=f"tiny server was not ready within {SHORT:g} s") as caught:
        await start_child(
            python("""
                import os, time
                print("pid", os.getpid(), flush=True)
                time.sleep(60)
            """),
            name="tiny server", ready="serving on", timeout=SHORT, grace=GRACE,
        )
    pid = int(str(caught.value).split("pid ")[1].split()[0])
    assert gone(pid)


async def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period():
    child = await start_child(
        python("""
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("ready", flush=True)
            time.sleep(60)
        """),
        name="stubborn", ready="ready", timeout=TIMEOUT, grace=GRACE,
    )
    assert await child.stop() == -signal.SIGKILL
    assert gone(child.pid)


async def test_stop_collects_what_the_child_printed_while_it_shut_down():
    child = await start_child(
        python("""
            import signal, sys, time
            def finish(*_):
                print("drained 3 streams", flush=True)
                sys.exit(0)
            signal.signal(signal.SIGTERM, finish)
            print("ready", flush=True)
            time.sleep(60)
        """),
        name="polite", ready="ready", timeout=TIMEOUT, grace=TIMEOUT,
    )
    assert await child.stop() == 0
    assert child.lines[-1] == "drained 3 streams\n"


async def test_wait_until_ready_returns_the_probes_answer(tmp_path):
    marker = tmp_path / "port"
    child = await start_child(
        python(f"""
            import pathlib, time
            print("started", flush=True)
            pathlib.Path({str(marker)!r}).write_text("4242")
            time.sleep(60)
        """),
        name="quiet", ready="started", timeout=TIMEOUT, grace=GRACE,
    )

    async def port() -> int | None:
        return int(marker.read_text()) if marker.exists() and marker.read_text() else None

    assert await wait_until_ready(child.process, port, name="quiet", timeout=TIMEOUT, grace=GRACE) == 4242
    assert await stop_child(child.process, grace=GRACE) == ""
    assert child.process.returncode == -signal.SIGTERM


async def test_wait_until_ready_reports_a_child_that_exits():
    child = await start_child(
        python("""
            import sys
            print("started", flush=True)
            sys.exit(5)
        """),
        name="short-lived", ready="started", timeout=TIMEOUT, grace=GRACE,
    )

    async def never() -> int | None:
        return None

    with pytest.raises(ProcessNotReady, match="short-lived exited with status 5 before it was ready"):
        await wait_until_ready(child.process, never, name="short-lived", timeout=TIMEOUT, grace=GRACE)


def test_start_child_sync_polls_until_ready_and_reports_an_early_exit_with_its_log(tmp_path: Path):
    marker = tmp_path / "ready"
    process = start_child_sync(
        python(f"""
            import pathlib, signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            pathlib.Path({str(marker)!r}).touch()
            time.sleep(60)
        """),
        name="sync child", ready=marker.exists, log=tmp_path / "sync.log", timeout=TIMEOUT, grace=GRACE,
    )
    stop_child_sync(process, grace=GRACE)
    assert process.returncode == -signal.SIGKILL

    with pytest.raises(ProcessNotReady, match="sync child exited with status 4 before it was ready:\nno data directory"):
        start_child_sync(
            python("""
                import sys
                print("no data directory", flush=True)
                sys.exit(4)
            """),
            name="sync child", ready=lambda: False, log=tmp_path / "failing.log", timeout=TIMEOUT, grace=GRACE,
        )
