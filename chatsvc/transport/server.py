"""Server assembly: the grpc.aio server with auth, health, reflection and graceful stop."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import ClaimNames, TokenVerifier
from chatsvc.clock import Clock, SystemClock
from chatsvc.config import Settings, StartupError, listen_address
from chatsvc.domain.service import ChatService
from chatsvc.domain.stream_tokens import StreamTokens
from chatsvc.errors import ErrorCode
from chatsvc.fanout.local import LocalFanout
from chatsvc.fanout.presence import LocalPresence
from chatsvc.fanout.redis.channel import RedisFanout
from chatsvc.fanout.redis.listener import listener_for
from chatsvc.fanout.redis.pool import Client as RedisClient
from chatsvc.fanout.redis.pool import check_reachable, close_client, shared_client
from chatsvc.fanout.redis.presence import RedisPresence
from chatsvc.fanout.redis.ratelimit import RedisRateLimiter
from chatsvc.fanout.redis.typing_registry import RedisTypingRegistry
from chatsvc.fanout.typing_registry import LocalTypingRegistry
from chatsvc.jwks import JwksKeys
from chatsvc.metrics import MetricsEndpoint
from chatsvc.ratelimit import LocalRateLimiter
from chatsvc.storage.database import Database
from chatsvc.storage.lease import LeaseRefused, ProcessLeaseKeeper
from chatsvc.transport.interceptors import AuthInterceptor
from chatsvc.transport.servicer import SessionChatServicer
from chatsvc.transport.tls import ServerCertificates, TlsFiles

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["SessionChat"].full_name
# These stream methods write events that are serialized once per session and
# framed as batch elements already (chatsvc.fanout.codec): bytes pass through.
PRESERIALIZED_METHODS = frozenset({"StreamEvents", "Subscribe"})


def server_options(settings: Settings) -> list[tuple[str, int]]:
    return [
        # Find dead connections: ping after a silence, drop the connection when
        # no answer comes in time; its streams end and their users leave.
        ("grpc.keepalive_time_ms", int(settings.keepalive_seconds * 1000)),
        ("grpc.keepalive_timeout_ms", int(settings.keepalive_timeout_seconds * 1000)),
        ("grpc.http2.ping_timeout_ms", int(settings.keepalive_timeout_seconds * 1000)),
        ("grpc.keepalive_permit_without_calls", 1),
        # Otherwise pings on an idle connection are spaced 5 minutes apart.
        ("grpc.http2.min_time_between_pings_ms", int(settings.keepalive_seconds * 1000)),
        # Let clients ping every 10 s on idle streams without being told "too_many_pings".
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_pings_without_data", 0),
        # grpc.aio takes one new call per method at a time (a few hundred a second
        # here); the calls that arrive meanwhile wait in grpc core, which by default
        # rejects them at random once 1,000 wait and always past 3,000, and the
        # client sees a bare CANCELLED (2,000 Subscribe streams at once: 196 of them).
        # Waiting is what a burst needs (with these limits, 2,000 at once all open in ~9 s).
        ("grpc.server.max_pending_requests", settings.max_pending_calls),
        ("grpc.server.max_pending_requests_hard_limit", settings.max_pending_calls),
        # No channelz bookkeeping (nothing here serves it): about 0.6 KB less per
        # connection, and each subscriber has its own (chatsvc bench, 1,000 subscribers).
        ("grpc.enable_channelz", 0),
        # grpc shares ports by default (SO_REUSEPORT): a second server on the same
        # address would start silently and take half the connections, and each
        # would fan out only its own events. Without it, the bind fails.
        ("grpc.so_reuseport", 0),
    ]


def check_listen_address(listen: str) -> None:
    """StartupError, naming the reason, when nothing could listen on `listen` (host:port).

    grpc reports only "Failed to bind", after migrations and with a log line of
    its own, so the address is tried here first, as grpc binds it: every
    resolved address, and success when at least one binds. Port sharing is off
    (`grpc.so_reuseport` 0), so an address another server holds is refused.
    """
    host, port = listen_address(listen)
    if port == 0:
        return  # any free port
    try:
        addresses = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise StartupError(f"cannot listen on {listen}: unknown host {host!r} ({error.strerror})") from None
    failure: OSError | None = None
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as grpc does: TIME_WAIT is no conflict
            try:
                probe.bind(address)
                return
            except OSError as error:
                failure = failure or error
    if failure is not None and failure.errno == errno.EADDRINUSE:
        raise StartupError(f"cannot listen on {listen}: the address is already in use (is another chatsvc serving it?)")
    reason = failure.strerror if failure is not None else "no address"
    raise StartupError(f"cannot listen on {listen}: {reason}")


def _passthrough(data: bytes) -> bytes:
    return data


def method_handlers(servicer: SessionChatServicer) -> dict[str, grpc.RpcMethodHandler]:
    """The service's handlers, built from the proto descriptor like the generated code."""
    handlers = {}
    for method in pb.DESCRIPTOR.services_by_name["SessionChat"].methods:
        request_type = getattr(pb, method.input_type.name)
        response_type = getattr(pb, method.output_type.name)
        serialize = _passthrough if method.name in PRESERIALIZED_METHODS else response_type.SerializeToString
        behavior = getattr(servicer, method.name)
        if method.client_streaming and method.server_streaming:
            make = grpc.stream_stream_rpc_method_handler
        elif method.server_streaming:
            make = grpc.unary_stream_rpc_method_handler
        elif method.client_streaming:
            make = grpc.stream_unary_rpc_method_handler
        else:
            make = grpc.unary_unary_rpc_method_handler
        handlers[method.name] = make(
            behavior, request_deserializer=request_type.FromString, response_serializer=serialize
        )
    return handlers


class ChatServer:
    """One server process. `start()` returns the bound port (use port 0 for a free one)."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.database = Database(settings.database_url, settings.database_threads)
        self.redis: RedisClient | None = None  # one pool for every Redis user here
        self.fanout: RedisFanout | LocalFanout
        self.limiter: RedisRateLimiter | LocalRateLimiter
        self.presence: RedisPresence | LocalPresence
        self.typing: RedisTypingRegistry | LocalTypingRegistry
        if settings.redis_url:
            self.redis = shared_client(
                settings.redis_url, max_connections=settings.redis_max_connections, wait_seconds=settings.redis_wait_seconds
            )
            listener = listener_for(settings.redis_url, self.redis)
            self.fanout = RedisFanout(
                self.redis, listener, self.database, check_seconds=settings.fanout_check_seconds, linger_seconds=settings.fanout_linger_seconds
            )
            self.limiter = RedisRateLimiter(self.redis, self.clock)
            self.presence = RedisPresence(self.redis, ttl_seconds=settings.presence_ttl_seconds)
            self.typing = RedisTypingRegistry(self.redis)
        else:
            self.fanout = LocalFanout()
            self.limiter = LocalRateLimiter(self.clock)
            self.presence = LocalPresence()
            self.typing = LocalTypingRegistry()
        self.fanout.hub.write_delay = settings.stream_write_delay_ms / 1000
        self.fanout.hub.write_delay_min_subscribers = settings.stream_write_delay_min_subscribers
        self.jwks: JwksKeys | None = None
        if settings.jwt_jwks_url:
            self.jwks = JwksKeys(
                settings.jwt_jwks_url, cache_seconds=settings.jwt_jwks_cache_seconds, cooldown_seconds=settings.jwt_jwks_cooldown_seconds
            )
        # Tokens are held to the server's clock, on unary calls and streams alike.
        verifier = self.verifier = TokenVerifier(
            secret=settings.resolve_jwt_secret(),
            public_key=settings.jwt_public_key,
            jwks=self.jwks,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            claims=ClaimNames(
                user=settings.jwt_user_claim, name=settings.jwt_name_claim, role=settings.jwt_role_claim, sessions=settings.jwt_sessions_claim
            ),
            now=lambda: self.clock.now().timestamp(),
        )
        tls_files = TlsFiles.from_settings(settings)
        self.certificates = ServerCertificates(tls_files) if tls_files is not None else None
        self.stream_tokens = StreamTokens(
            lambda token: verifier.verify_expiring(token, remember=False), self.clock, check_seconds=settings.token_check_seconds
        )
        self.service = ChatService(
            self.database, self.fanout, self.clock, settings, self.limiter, self.presence, self.typing, self.stream_tokens
        )
        self.health = health.aio.HealthServicer()
        interceptor = AuthInterceptor(verifier, access_log=settings.access_log)
        self.server = grpc.aio.server(interceptors=[interceptor], options=server_options(settings))
        self.metrics = MetricsEndpoint(settings.metrics_listen) if settings.metrics_listen else None
        self.port = 0
        self.lease = ProcessLeaseKeeper(
            self.database,
            shared=bool(settings.redis_url),
            expiry_seconds=settings.lease_seconds,
            renew_seconds=settings.lease_renew_seconds,
            on_lost=self._lease_lost,
        )
        # Set when this process must stop by itself (it lost its database lease); the reason.
        self.failed = asyncio.Event()
        self.failure = ""

    async def start(self) -> int:
        """Start serving; StartupError (one line for the operator) when it must not."""
        check_listen_address(self.settings.listen)
        try:
            await self._start()
        except BaseException:
            await self._close()
            raise
        return self.port

    async def _start(self) -> None:
        if self.metrics is not None:
            self.metrics.start()  # first: a port in use is refused before anything else starts
        await self.database.migrate()
        if self.redis is not None:
            # Before anything uses it: an unreachable Redis is a start-up error, not an outage.
            await check_reachable(self.redis, self.settings.redis_url or "")
        try:
            await self.lease.acquire()
        except LeaseRefused as refused:
            raise StartupError(str(refused)) from None
        await self.fanout.start()
        await self.presence.start(on_left=self.service.live.record_departure)
        handlers = method_handlers(SessionChatServicer(self.service, self.verifier.prepare))
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
        self.server.add_registered_method_handlers(SERVICE_NAME, handlers)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            self.server,
        )
        try:
            if self.certificates is not None:
                self.port = self.server.add_secure_port(self.settings.listen, self.certificates.credentials())
            else:
                self.port = self.server.add_insecure_port(self.settings.listen)
        except RuntimeError:
            self.port = 0
        if not self.port:
            raise StartupError(f"cannot listen on {self.settings.listen}: the address is in use or not available here")
        carried = await self.service.live.take_carried_presence()
        if carried:
            log.info("%d users in their presence grace when the last server stopped stay online for it", carried)
        await self.server.start()
        if self.jwks is not None:
            self.jwks.start()
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "SessionChat listening on port %d (%s; database %s)", self.port, self._transport_security(),
            self.database.engine.url.render_as_string(),
        )
        if self.metrics is not None:
            log.info("Prometheus metrics on %s", self.metrics.url)

    def _transport_security(self) -> str:
        if self.certificates is None:
            return "plaintext"
        return "TLS, client certificates required" if self.certificates.files.client_ca else "TLS"

    def reload_certificates(self) -> None:
        """SIGHUP: re-read the TLS files now (they are also re-read when they change)."""
        if self.certificates is not None:
            self.certificates.reload()

    def _lease_lost(self, reason: str) -> None:
        self.failure = reason
        self.failed.set()

    async def stop(self, grace: float | None = None) -> None:
        """Stop taking calls, end live streams after their pending events, then close."""
        await self.health.enter_graceful_shutdown()
        self.fanout.hub.end_all(
            ErrorCode.UNAVAILABLE, "the server is shutting down; reconnect with the last sequence you received"
        )
        await self.server.stop(self.settings.shutdown_grace_seconds if grace is None else grace)
        await self.service.live.flush_departures()  # users whose streams just ended: carried over
        await self._close(presence_linger=self.settings.presence_grace_seconds)

    async def _close(self, presence_linger: float = 0.0) -> None:
        if self.metrics is not None:
            await asyncio.to_thread(self.metrics.stop)  # waits for a scrape in progress
        self.service.typing.close()  # typing timers
        self.service.polls.close()  # poll time limits and pending tallies
        self.service.reads.close()  # read marks waiting for their flush
        self.stream_tokens.close()
        if self.jwks is not None:
            await self.jwks.close()
        await self.lease.release()
        await self.presence.close(linger_seconds=presence_linger)
        await self.typing.close()
        await self.fanout.close()
        await self.limiter.close()
        if self.redis is not None:
            await close_client(self.redis)
        await self.database.close()

    async def wait(self) -> None:
        await self.server.wait_for_termination()
