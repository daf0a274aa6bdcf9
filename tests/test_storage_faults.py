"""Real storage faults on SQLite: a full disk (a small tmpfs) answers UNAVAILABLE with a retry
delay, stores nothing half, and sends work again once space is freed, with nothing accepted lost."""

from __future__ import annotations

import errno
import os
import subprocess

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.config import Settings
from tests.helpers import CODE, SECRET, retry_delay_seconds, stored_texts
from tests.support.streams import SESSION


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs (needs root: mount)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture
def settings(small_disk) -> Settings:
    return Settings(listen="127.0.0.1:0", database_url=f"sqlite:///{small_disk / 'chat.db'}", jwt_secret=SECRET)


def fill(directory) -> str:
    """Fill the file system; the filler's path."""
    path = os.path.join(directory, "filler")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 1):
            try:
                while True:
                    os.write(descriptor, b"\0" * size)
            except OSError as error:
                assert error.errno == errno.ENOSPC
    finally:
        os.close(descriptor)
    return path


async def test_a_full_disk_answers_unavailable_with_a_retry_delay_and_sends_work_again_once_space_is_freed(alice, small_disk, settings):
    accepted = [(await alice.send(SESSION, f"before {n}")).text for n in range(3)]
    stream = alice.stream(SESSION)
    await stream.next("stream_started")
    filler = fill(small_disk)
    refusals = []
    for n in range(5):
        try:
            accepted.append((await alice.send(SESSION, f"while full {n} " + "x" * 1500)).text)
        except grpc.aio.AioRpcError as error:
            refusals.append(error)
    assert refusals, "the disk was full but every send was accepted"
    for error in refusals:
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert "nothing was stored; try again" in error.details()
        assert "sqlite" not in error.details().lower() and "OperationalError" not in error.details()
        assert retry_delay_seconds(error) > 0
    answer = await stream.reply_to(stream.act(send_message=pb.SendMessageAction(text="on the stream while full " + "y" * 1500)))
    if answer.WhichOneof("kind") == "error":
        assert CODE[answer.error.code] == grpc.StatusCode.UNAVAILABLE, answer.error.message
        assert answer.error.retry_delay.seconds > 0
    else:
        accepted.append("on the stream while full " + "y" * 1500)
    os.remove(filler)
    accepted += [(await alice.send(SESSION, f"after {n}")).text for n in range(3)]
    assert sorted(stored_texts(settings)) == sorted(accepted)
    stream.cancel()
