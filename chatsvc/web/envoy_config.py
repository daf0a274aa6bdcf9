"""Envoy's bootstrap for `chatsvc serve --web`, rendered from `envoy.yaml.template`.

The template is the one source of the config: `envoy/envoy.yaml` in the
repository is its rendering for the default addresses (`chatsvc envoy-config`
prints it; a test keeps the two in step).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

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


def _cluster_endpoint(name: str, *addresses: tuple[str, int]) -> str:
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


def _balancing(health_check_interval: str) -> str:
    """For several chat processes: spread the calls over the healthy ones, by how busy each is."""
    return f"""
    # Several chat processes sharing PostgreSQL and Redis: any of them serves any session, so
    # each call goes to the least busy healthy one (live streams count until they end). A
    # process that stops answering grpc.health.v1 (or says NOT_SERVING as it shuts down) gets
    # no new calls; its streams end and their clients resume on another from their last sequence.
    lb_policy: LEAST_REQUEST
    health_checks:
    - timeout: 1s
      interval: {health_check_interval}
      no_traffic_interval: {health_check_interval}
      unhealthy_threshold: 1
      healthy_threshold: 1
      grpc_health_check: {{ service_name: "sessionchat.v1.SessionChat" }}"""


# Several processes: a call whose connection was refused (a process that died before the health
# check noticed) goes to another one. Only failures before the call reached a process are retried.
ROUTE_RETRY = """
                  retry_policy:
                    retry_on: connect-failure,refused-stream
                    num_retries: 2
                    retry_host_predicate:
                    - name: envoy.retry_host_predicates.previous_hosts
                      typed_config:
                        "@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate
                    host_selection_retry_max_attempts: 3"""


def render_envoy_config(
    *,
    listen: str = DEFAULT_WEB_LISTEN,
    grpc_upstream: str | Sequence[str] = DEFAULT_GRPC_UPSTREAM,
    panel_upstream: str = DEFAULT_PANEL_LISTEN,
    allowed_origins: list[str] | None = None,
    listener_tls: ListenerTls | None = None,
    upstream_tls: UpstreamTls | None = None,
    health_check_interval: str = "2s",
) -> str:
    """Envoy's bootstrap (YAML) for a grpc-web listener on `listen` in front of the chat
    server at `grpc_upstream` and the panel's static server at `panel_upstream`.

    `allowed_origins` are the CORS origins ("*" allows any); by default the origins of
    the listener itself and of the panel server. `listener_tls` serves browsers over
    TLS; `upstream_tls` speaks TLS to a chat server that serves it. Several `grpc_upstream`
    addresses (processes sharing PostgreSQL and Redis) are balanced, with active gRPC health
    checks every `health_check_interval`.
    """
    listen_host, listen_port = split_host_port(listen)
    upstreams = [grpc_upstream] if isinstance(grpc_upstream, str) else list(grpc_upstream)
    grpc_addresses = [(connect_host(host), port) for host, port in map(split_host_port, upstreams)]
    balanced = len(grpc_addresses) > 1
    panel_host, panel_port = split_host_port(panel_upstream)
    panel_host = connect_host(panel_host)
    if allowed_origins is None:
        allowed_origins = origins_for(listen, secure=listener_tls is not None) + origins_for(panel_upstream)
    return TEMPLATE.substitute(
        admin_address=_socket_address("127.0.0.1", 0, "    "),
        listener_address=_socket_address(listen_host, listen_port, "      "),
        origin_matchers=_origin_matchers(allowed_origins, "                  "),
        grpc_cluster_endpoint=_cluster_endpoint("sessionchat_grpc", *grpc_addresses) + (_balancing(health_check_interval) if balanced else ""),
        grpc_route_retry=ROUTE_RETRY if balanced else "",
        panel_cluster_endpoint=_cluster_endpoint("sessionchat_panel", (panel_host, panel_port)),
        listener_transport_socket=_listener_transport_socket(listener_tls),
        grpc_transport_socket=_grpc_transport_socket(upstream_tls),
    )
