"""The server's Prometheus metrics (a leaf every layer may import) and the HTTP endpoint that serves them.

Metrics live in prometheus-client's default registry: they are recorded whether or not an endpoint
serves them (an increment costs ~0.3 µs, an observation ~0.5 µs), and `--metrics-listen` only
decides whether Prometheus can read them. Labels take a few fixed values each (RPC method, status
code, reason, kind): never a user or session id, which would make one series per person.
README.md, section Operations, says what each means and what to alert on.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics, start_http_server

from chatsvc.errors import REFUSAL_REASONS, StartupError

# No `*_created` series beside every counter and histogram: twice the series, and Prometheus 2.x ignores them.
disable_created_metrics()

# Seconds: a unary call is ~1–20 ms here; a slow database or a join storm reaches seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Events pending at a stream write: 1 is a subscriber keeping up; a stream is ended at
# `subscriber_buffer` (5,000 by default).
BACKLOG_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)

# ---------------------------------------------------------------- RPCs (transport)
RPCS = Counter(
    "chatsvc_rpc_requests",
    "Calls of SessionChat RPCs that ended, by method and gRPC status code (live streams count when they end).",
    ["method", "code"],
)
RPC_DURATION = Histogram(
    "chatsvc_rpc_duration_seconds",
    "Time from a call's start to its status, for calls that end by themselves (unary calls and ExportChat, not live streams).",
    ["method", "code"],
    buckets=LATENCY_BUCKETS,
)
STREAM_ACTIONS = Counter(
    "chatsvc_stream_actions",
    "Actions on StreamEvents streams answered, by action and status code (OK, or the ErrorEvent's code).",
    ["action", "code"],
)
REFUSALS = Counter(
    "chatsvc_refusals",
    "Requests the chat rules refused, by action (send_message, add_reaction, ...) and reason "
    "(rate_limit, mute, slow_mode, overload, policy, stream_limit).",
    ["action", "reason"],
)

# ---------------------------------------------------------------- live streams (transport, fan-out)
LIVE_STREAMS = Gauge("chatsvc_live_streams", "StreamEvents and Subscribe streams joined to a session in this process.")
LIVE_SESSIONS = Gauge("chatsvc_live_sessions", "Sessions with at least one live stream in this process.")
STREAMS_ENDED = Counter(
    "chatsvc_streams_ended",
    "Live streams that joined and ended, by why: client_closed, fell_behind, token_expired, shutdown, error.",
    ["reason"],
)
JOIN_DURATION = Histogram(
    "chatsvc_join_duration_seconds",
    "Time from a stream's join to what it starts with being ready (snapshot or missed events); joins go in batches.",
    buckets=LATENCY_BUCKETS,
)

# ---------------------------------------------------------------- fan-out
EVENTS_PUBLISHED = Counter("chatsvc_events_published", "Committed events this process published to the fan-out.")
EVENTS_DELIVERED = Counter(
    "chatsvc_events_delivered",
    "Events queued to this process's subscribers (one per event per subscriber that may see it; from any process).",
)
EVENTS_RECEIVED = Counter(
    "chatsvc_events_received",
    "Events this process received from Redis for the sessions it follows (other processes' and its own).",
)
SESSIONS_FOLLOWED = Gauge("chatsvc_sessions_followed", "Sessions whose Redis channel this process is subscribed to.")
SUBSCRIBER_BACKLOG = Histogram(
    "chatsvc_subscriber_backlog_events",
    "Events a stream's writer found pending when it wrote (one observation per write): 1 when the subscriber keeps up.",
    buckets=BACKLOG_BUCKETS,
)

# ---------------------------------------------------------------- moderation
CENSORED = Counter(
    "chatsvc_profanity_censored",
    "Messages the profanity filter censored, by severity (severe ones also earn a strike).",
    ["severity"],
)

# ---------------------------------------------------------------- storage and Redis
DATABASE_DURATION = Histogram(
    "chatsvc_database_transaction_duration_seconds",
    "Time a unit of work held its database connection, by kind (transaction, read, snapshot_read).",
    ["kind"],
    buckets=LATENCY_BUCKETS,
)
DATABASE_WAIT = Histogram(
    "chatsvc_database_wait_seconds",
    "Time a unit of work waited for a free database thread (database_threads) before it started.",
    buckets=LATENCY_BUCKETS,
)
REDIS_OUTAGES = Counter(
    "chatsvc_redis_outages",
    "Times Redis started failing for a component (fanout_publish, fanout_receive, presence, typing, rate_limit).",
    ["component"],
)
REDIS_FAILING = Gauge("chatsvc_redis_failing", "1 while Redis is failing for the component, else 0.", ["component"])

REDIS_COMPONENTS = ("fanout_publish", "fanout_receive", "presence", "typing", "rate_limit")
STREAM_END_REASONS = ("client_closed", "fell_behind", "token_expired", "shutdown", "error")

# The series alerts and the dashboard read exist from the start at 0: a query sees 0, not nothing.
for _component in REDIS_COMPONENTS:
    REDIS_OUTAGES.labels(_component)
    REDIS_FAILING.labels(_component)
for _reason in STREAM_END_REASONS:
    STREAMS_ENDED.labels(_reason)
for _reason in sorted(REFUSAL_REASONS - {"stream_limit"}):
    REFUSALS.labels("send_message", _reason)
for _severity in ("mild", "severe"):
    CENSORED.labels(_severity)


class MetricsEndpoint:
    """prometheus-client's HTTP server on its own thread: a scrape never waits for the event loop
    (a scrape takes a few ms of one thread) and works even while the loop is busy."""

    def __init__(self, listen: str) -> None:
        host, separator, port = listen.rpartition(":")
        if not separator or not host or not port.isdigit() or int(port) > 65535:
            raise StartupError(f"--metrics-listen {listen!r} needs a host and a port, e.g. 127.0.0.1:9464")
        self.shown_host = host
        self.host = host.strip("[]")
        self.requested_port = int(port)
        self.port = 0
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Listen; the bound port (a free one for port 0), or StartupError."""
        try:
            self._server, self._thread = start_http_server(self.requested_port, addr=self.host)
        except OSError as error:
            raise StartupError(f"cannot serve metrics on {self.host}:{self.requested_port}: {error.strerror or error}") from None
        self.port = self._server.server_port
        return self.port

    @property
    def url(self) -> str:
        return f"http://{self.shown_host}:{self.port}/metrics"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
