"""gRPC's process-wide settings for the `chatsvc` commands, set before gRPC starts."""

from __future__ import annotations

import os


def quiet_fork_handlers() -> None:
    """Turn off gRPC's fork handlers in this process unless the user set GRPC_ENABLE_FORK_SUPPORT.

    chatsvc forks only to exec at once: uvloop spawns Envoy (`serve --web`) and the
    bench's servers with fork(). gRPC's handlers exist for children that go on using
    gRPC; with gRPC's threads running they skip themselves anyway, and printed
    "fork_posix.cc: Other threads are currently calling into gRPC, skipping fork()
    handlers" on every such start. gRPC reads the variable once, when it starts, so
    this must run before the first channel or server is made.
    """
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")
