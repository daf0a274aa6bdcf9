"""The `chatsvc` command: serve, token, migrate."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from chatsvc.auth import Role, mint_token
from chatsvc.config import Settings, normalize_database_url


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    return args.run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatsvc",
        description="SessionChat: live chat for online training sessions over gRPC. "
        "Settings come from CHATSVC_* environment variables; flags override them.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the server", description="Run the SessionChat gRPC server.")
    serve.add_argument("--listen", help="host:port to listen on (CHATSVC_LISTEN, default 127.0.0.1:50051)")
    serve.add_argument("--database-url", help="SQLAlchemy URL (CHATSVC_DATABASE_URL, default sqlite file chatsvc.db)")
    serve.add_argument("--redis-url", help="Redis URL for scale-out (CHATSVC_REDIS_URL, default in-process)")
    serve.set_defaults(run=run_serve)

    token = commands.add_parser(
        "token",
        help="print a signed token for grpcurl and scripts",
        description="Print a JWT signed with the configured secret (CHATSVC_JWT_SECRET, or the "
        "server's generated .chatsvc-jwt-secret in this directory).",
    )
    token.add_argument("--user", required=True, help="user id (the 'sub' claim)")
    token.add_argument("--name", required=True, help="display name")
    token.add_argument("--role", required=True, choices=[role.value for role in Role])
    token.add_argument("--session", action="append", default=[], help="a session the token may enter (repeatable); none means any")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds (default 12 hours)")
    token.set_defaults(run=run_token)

    migrate = commands.add_parser("migrate", help="upgrade the database schema", description="Apply Alembic migrations.")
    migrate.add_argument("--database-url", help="SQLAlchemy URL (CHATSVC_DATABASE_URL)")
    migrate.set_defaults(run=run_migrate)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "listen", None):
        settings.listen = args.listen
    if getattr(args, "database_url", None):
        settings.database_url = normalize_database_url(args.database_url)
    if getattr(args, "redis_url", None):
        settings.redis_url = args.redis_url
    return settings


def run_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = settings_from(args)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(settings))
    return 0


async def serve(settings: Settings) -> None:
    from chatsvc.transport.server import ChatServer

    server = ChatServer(settings)
    port = await server.start()
    print(f"SessionChat serving on {settings.listen.rsplit(':', 1)[0]}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    print("shutting down", flush=True)
    await server.stop()


def run_token(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    secret = settings.resolve_jwt_secret()
    if not secret:
        print("chatsvc token: set CHATSVC_JWT_SECRET (tokens for RS256 servers are minted by your identity provider)", file=sys.stderr)
        return 2
    print(mint_token(secret=secret, user_id=args.user, name=args.name, role=args.role, sessions=args.session or None, ttl_seconds=args.ttl))
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    from chatsvc.storage.database import Database

    settings = settings_from(args)

    async def migrate() -> None:
        database = Database(settings.database_url)
        try:
            await database.migrate()
        finally:
            await database.close()

    asyncio.run(migrate())
    print("database schema is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
