"""The `chatsvc bench` command line: its arguments, their checks, and the printed results."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from chatsvc.bench.baseline import baseline_missing
from chatsvc.bench.report import enable_progress, format_table
from chatsvc.bench.workers import install_uvloop
from chatsvc.bench.workload import run_bench
from chatsvc.grpc_environment import quiet_fork_handlers


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subscribers", "-n", type=int, default=1000, help="subscribers in the session, probes included (default 1000)")
    parser.add_argument("--rate", type=float, default=100.0, help="messages/s published in total; 0 = saturate (default 100)")
    parser.add_argument("--saturate", action="store_true", help="publish as fast as the server accepts (same as --rate 0)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of publishing (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="subscriber processes (default 2)")
    parser.add_argument("--probes", type=int, default=4, help="real ChatClient subscribers measuring latency too (default 4)")
    parser.add_argument("--publishers", type=int, default=16, help="publishing users, each on its own connection (default 16)")
    parser.add_argument("--concurrency", type=int, default=8, help="sends in flight per publisher when saturating (default 8)")
    parser.add_argument(
        "--publish-on",
        choices=("stream", "unary"),
        default="stream",
        help="publishers send as live clients do, as actions on their StreamEvents stream (default), "
        "or with unary SendMessage calls (ChatClient.send_message)",
    )
    parser.add_argument(
        "--publisher-role",
        choices=["participant", "instructor"],
        help="participants (rate limits run, raised) on a started server; instructors (exempt) on --target",
    )
    parser.add_argument("--target", help="host:port of a running server (comma-separated for several processes) instead of starting one")
    parser.add_argument("--secret", help="the target's CHATSVC_JWT_SECRET (required with --target)")
    parser.add_argument("--server-pid", type=int, action="append", help="the target's process id, to read its memory and CPU (repeatable)")
    parser.add_argument("--processes", type=int, default=1, help="server processes to start, sharing the database and --redis-url (default 1)")
    parser.add_argument("--redis-url", help="Redis for the started servers' fan-out (required with --processes 2+)")
    parser.add_argument("--database-url", help="database of the started servers (default: SQLite in a temporary directory)")
    parser.add_argument(
        "--placement",
        choices=("spread", "session"),
        default="spread",
        help="with several processes: spread each session's users over all of them (default), or put all of session j's on process j %% P, "
        "as balancing by session id would",
    )
    parser.add_argument("--session", help="session id (default: a fresh one per run)")
    parser.add_argument(
        "--sessions",
        type=int,
        default=1,
        help="sessions, as a platform runs many classes at once; with more than one, --subscribers and --rate are per session",
    )
    parser.add_argument(
        "--churn",
        type=float,
        default=0.0,
        help="while publishing, this many extra users per second join a random session and leave it again 0.5-2 s later",
    )
    parser.add_argument("--baseline", action="store_true", help="also run the workload against a minimal websockets broadcast server")
    parser.add_argument("--drain-timeout", type=float, default=20.0, help="seconds to wait for deliveries after publishing (default 20)")
    parser.add_argument("--connect-timeout", type=float, default=60.0, help="seconds for all subscribers to join (default 60)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    parser.add_argument(
        "--streams-per-connection",
        type=int,
        default=1,
        help="Subscribe streams sharing one HTTP/2 connection, as behind Envoy or from one backend client "
        "(default 1: each subscriber on its own connection; the websockets baseline always has its own)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the started server's directory (database and log)")
    parser.add_argument(
        "--restart",
        action="store_true",
        help="reconnect storm: halfway through publishing, stop the server (SIGTERM) and start it again on the same "
        "port; every subscriber reconnects and resumes from its last sequence (started servers only)",
    )


def run_cli(args: argparse.Namespace) -> int:
    if args.saturate:
        args.rate = 0.0
    if args.target and not args.secret:
        print("chatsvc bench: --target needs --secret (the server's CHATSVC_JWT_SECRET)", file=sys.stderr)
        return 2
    if args.processes > 1 and not args.redis_url and not args.target:
        print("chatsvc bench: --processes 2+ needs --redis-url (the processes share events through Redis)", file=sys.stderr)
        return 2
    if args.subscribers < 1 or args.workers < 1 or args.publishers < 1 or args.probes < 0 or args.streams_per_connection < 1:
        print("chatsvc bench: --subscribers, --workers, --publishers and --streams-per-connection must be positive", file=sys.stderr)
        return 2
    if args.sessions < 1 or (args.sessions > 1 and args.baseline):
        print("chatsvc bench: --sessions must be positive, and the websockets baseline has one session (no --baseline with --sessions)", file=sys.stderr)
        return 2
    if args.restart and (args.target or args.baseline):
        print("chatsvc bench: --restart restarts a server this run started (no --target, no --baseline)", file=sys.stderr)
        return 2
    if args.baseline and (missing := baseline_missing()):
        print(missing, file=sys.stderr)
        return 2
    args.probes = min(args.probes, args.subscribers)
    if not args.publisher_role:
        args.publisher_role = "instructor" if args.target else "participant"
    install_uvloop()
    enable_progress(not args.quiet)
    results = asyncio.run(run_bench(args))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(format_table(results))
    return 0 if results["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    quiet_fork_handlers()
    parser = argparse.ArgumentParser(prog="chatsvc bench", description="N subscribers in one session, publishing at a rate, measured end to end.")
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))
