"""Envoy's bootstrap for `chatsvc serve --web`, rendered from `envoy.yaml.template`.

The template is the one source of the config: `envoy/envoy.yaml` in the
repository is its rendering for the default addresses (`chatsvc envoy-config`
prints it; a test keeps the two in step). Given several chat servers, the
rendering balances across them with active gRPC health checks
(`envoy/envoy-multi.yaml`); with one it is exactly the single-server config.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.web.addresses import (
    DEFAULT_GRPC_UPSTREAM,
    DEFAULT_PANEL_LISTEN,
    DEFAULT_WEB_LISTEN,
    connect_host,
    is_ip,
    origins_for,
    split_host_port,
)

TEMPLATE = Template((Path(__file__).resolve().parent / "envoy.yaml.template").read_text())

# How often Envoy asks each of several chat servers for its health (grpc.health.v1 Check): a
# process that dies is out of rotation about two of these later, one shutting down after one.
DEFAULT_HEALTH_CHECK_INTERVAL = 1.0
# The service whose health Envoy asks for: the server answers NOT_SERVING for it from the moment
# it starts to shut down.
HEALTH_SERVICE = pb.DESCRIPTOR.services_by_name["SessionChat"].full_name
# A check unanswered this long fails: a busy process answers within milliseconds (the check is one
# small unary call on its event loop), so this is a stuck or vanished one. Not tied to the
# interval, so that a short interval does not make a loaded process flap.
HEALTH_CHECK_TIMEOUT = "1s"
# Checks in a row that change a process's state: one lost answer does not take a process out,
# and one that comes back is trusted after two answers.
UNHEALTHY_THRESHOLD = 2
HEALTHY_THRESHOLD = 2
# With one chat server there is nowhere else to go: wait for a slow connect. With several, a
# connect on loopback or a LAN takes well under a millisecond, and a quick give-up sends the
# call to another process (the retry policy) instead of holding it.
SINGLE_CONNECT_TIMEOUT = "5s"
BALANCED_CONNECT_TIMEOUT = "1s"


@dataclass(frozen=True)
class ListenerTls:
    """TLS on the browsers' listener: Envoy serves this certificate (HTTP/2 and HTTP/1.1 over ALPN)."""

    cert_file: str
    key_file: str


@dataclass(frozen=True)
class UpstreamTls:
    """TLS from Envoy to the chat server (for a server started with --tls-cert)."""

    # The CA Envoy checks the chat server's certificate against.
    ca_file: str
    # SNI, and the name the server's certificate must carry; None checks the chain only (as
    # `serve --web` does: its Envoy connects to its own server over loopback).
    server_name: str | None = None
    # Envoy's own certificate, for a server that requires client certificates (--tls-client-ca).
    cert_file: str | None = None
    key_file: str | None = None


def _tls_certificate(cert_file: str, key_file: str, indent: str) -> str:
    return (
        f"{indent}tls_certificates:\n"
        f"{indent}- certificate_chain: {{ filename: {json.dumps(cert_file)} }}\n"
        f"{indent}  private_key: {{ filename: {json.dumps(key_file)} }}"
    )


def _listener_transport_socket(tls: ListenerTls | None) -> str:
    if tls is None:
        return ""
    return f"""
      # TLS for browsers; HTTP/2 lifts their limit of 6 connections per origin (one per open panel's feed).
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            alpn_protocols: ["h2", "http/1.1"]
{_tls_certificate(tls.cert_file, tls.key_file, "            ")}"""


def _grpc_transport_socket(tls: UpstreamTls | None) -> str:
    if tls is None:
        return ""
    lines = [
        "",
        "    # TLS to the chat server: its certificate must chain to trusted_ca.",
        "    transport_socket:",
        "      name: envoy.transport_sockets.tls",
        "      typed_config:",
        '        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
    ]
    if tls.server_name:
        lines.append(f"        sni: {json.dumps(tls.server_name)}")
    lines += [
        "        common_tls_context:",
        '          alpn_protocols: ["h2"]',
        "          validation_context:",
        f"            trusted_ca: {{ filename: {json.dumps(tls.ca_file)} }}",
    ]
    if tls.server_name:
        lines.append(f"            match_typed_subject_alt_names: [{{ san_type: DNS, matcher: {{ exact: {json.dumps(tls.server_name)} }} }}]")
    if tls.cert_file and tls.key_file:
        lines.append(_tls_certificate(tls.cert_file, tls.key_file, "          "))
    return "\n".join(lines)


def _socket_address(host: str, port: int, indent: str) -> str:
    return f"{indent}socket_address: {{ address: {json.dumps(host)}, port_value: {port} }}"


def _origin_matchers(origins: list[str], indent: str) -> str:
    lines = []
    for origin in origins:
        if origin == "*":
            lines.append(f'{indent}- safe_regex: {{ regex: ".*" }}')
        else:
            lines.append(f"{indent}- exact: {json.dumps(origin)}")
    return "\n".join(lines) if lines else f"{indent}[]"


def _cluster_endpoints(name: str, addresses: list[tuple[str, int]]) -> str:
    discovery = "STATIC" if all(is_ip(host) for host, _ in addresses) else "STRICT_DNS"
    endpoints = "\n".join(
        f"""\
        - endpoint:
            address:
{_socket_address(host, port, "              ")}"""
        for host, port in addresses
    )
    return f"""\
    type: {discovery}
    load_assignment:
      cluster_name: {name}
      endpoints:
      - lb_endpoints:
{endpoints}"""


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _balancing(health_check_interval: float) -> str:
    """Several chat servers: least request, active gRPC health checks, and ejection of a process
    whose connections fail."""
    interval = _seconds(health_check_interval)
    return f"""
    # Live streams last as long as a class, so a process's load is the streams it holds now: a
    # new call goes to the process with the fewest requests open, all of them compared (there
    # are few), so one that restarted empty fills up first. A session need not stick to one
    # process: they share PostgreSQL and Redis.
    load_balancing_policy:
      policies:
      - typed_extension_config:
          name: envoy.load_balancing_policies.least_request
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest
            selection_method: FULL_SCAN
    # grpc.health.v1 Check every {health_check_interval:g} s on each process, as often before the first call as after.
    # NOT_SERVING (a process shutting down) takes a process out at once; a refused or unanswered
    # check counts, and {UNHEALTHY_THRESHOLD} in a row take it out. {HEALTHY_THRESHOLD} good answers bring it back.
    health_checks:
    - timeout: {HEALTH_CHECK_TIMEOUT}
      interval: {interval}
      no_traffic_interval: {interval}
      unhealthy_threshold: {UNHEALTHY_THRESHOLD}
      healthy_threshold: {HEALTHY_THRESHOLD}
      grpc_health_check: {{ service_name: {json.dumps(HEALTH_SERVICE)} }}
    # Between checks: 3 failed connects in a row eject a process at once (a dead one, while its
    # clients reconnect). The server's own statuses (UNAVAILABLE while PostgreSQL restarts hits
    # every process alike) never eject; a passing health check returns an ejected process.
    outlier_detection:
      split_external_local_origin_errors: true
      consecutive_local_origin_failure: 3
      enforcing_consecutive_5xx: 0
      enforcing_success_rate: 0
      max_ejection_percent: 50"""


# On the gRPC route of a balanced cluster.
RETRY_POLICY = """
                  # Retried, on another process, only when the call never reached a chat server
                  # (no connection, a refused stream, a reset before the request went out): a
                  # stream or a send that reached one is never replayed. Clients resume streams
                  # from their last sequence, and resend with the same client_message_id, themselves.
                  retry_policy:
                    retry_on: connect-failure,refused-stream,reset-before-request
                    num_retries: 2
                    retry_host_predicate:
                    - name: envoy.retry_host_predicates.previous_hosts
                      typed_config:
                        "@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate
                    host_selection_retry_max_attempts: 5"""


def render_envoy_config(
    *,
    listen: str = DEFAULT_WEB_LISTEN,
    grpc_upstreams: Sequence[str] = (DEFAULT_GRPC_UPSTREAM,),
    panel_upstream: str = DEFAULT_PANEL_LISTEN,
    allowed_origins: list[str] | None = None,
    listener_tls: ListenerTls | None = None,
    upstream_tls: UpstreamTls | None = None,
    health_check_interval: float | None = None,
) -> str:
    """Envoy's bootstrap (YAML) for a grpc-web listener on `listen` in front of the chat
    server(s) at `grpc_upstreams` and the panel's static server at `panel_upstream`.

    Several `grpc_upstreams` are balanced (least request) with active gRPC health checks every
    `health_check_interval` seconds (DEFAULT_HEALTH_CHECK_INTERVAL when None), outlier ejection
    and retries of calls that never reached a server; one is the plain single-server config.
    `allowed_origins` are the CORS origins ("*" allows any); by default the origins of the
    listener itself and of the panel server. `listener_tls` serves browsers over TLS;
    `upstream_tls` speaks TLS to chat servers that serve it. ValueError, in a sentence for the
    operator, for addresses or an interval it cannot render.
    """
    if not grpc_upstreams:
        raise ValueError("name at least one chat server")
    if len(set(grpc_upstreams)) != len(grpc_upstreams):
        raise ValueError(f"a chat server is named twice ({' '.join(grpc_upstreams)}): name each process once")
    if health_check_interval is not None and len(grpc_upstreams) == 1:
        raise ValueError("a health check interval applies to two or more chat servers: one is never taken out of rotation")
    if health_check_interval is not None and health_check_interval <= 0:
        raise ValueError(f"the health check interval must be a positive number of seconds, not {health_check_interval:g}")
    listen_host, listen_port = split_host_port(listen)
    grpc_addresses = [(connect_host(host), port) for host, port in map(split_host_port, grpc_upstreams)]
    panel_host, panel_port = split_host_port(panel_upstream)
    panel_host = connect_host(panel_host)
    balanced = len(grpc_addresses) > 1
    balancing = _balancing(health_check_interval or DEFAULT_HEALTH_CHECK_INTERVAL) if balanced else ""
    if allowed_origins is None:
        allowed_origins = origins_for(listen, secure=listener_tls is not None) + origins_for(panel_upstream)
    return TEMPLATE.substitute(
        admin_address=_socket_address("127.0.0.1", 0, "    "),
        listener_address=_socket_address(listen_host, listen_port, "      "),
        origin_matchers=_origin_matchers(allowed_origins, "                  "),
        grpc_retry_policy=RETRY_POLICY if balanced else "",
        grpc_connect_timeout=BALANCED_CONNECT_TIMEOUT if balanced else SINGLE_CONNECT_TIMEOUT,
        grpc_cluster_endpoint=_cluster_endpoints("sessionchat_grpc", grpc_addresses) + balancing,
        panel_cluster_endpoint=_cluster_endpoints("sessionchat_panel", [(panel_host, panel_port)]),
        listener_transport_socket=_listener_transport_socket(listener_tls),
        grpc_transport_socket=_grpc_transport_socket(upstream_tls),
    )
