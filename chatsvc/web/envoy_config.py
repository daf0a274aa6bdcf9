"""Envoy's bootstrap for `chatsvc serve --web`, rendered from `envoy.yaml.template`.

The template is the one source of the config: `envoy/envoy.yaml` in the
repository is its rendering for the default addresses (`chatsvc envoy-config`
prints it; a test keeps the two in step).
"""

from __future__ import annotations

import json
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


def _cluster_endpoint(name: str, host: str, port: int) -> str:
    discovery = "STATIC" if is_ip(host) else "STRICT_DNS"
    return f"""\
    type: {discovery}
    load_assignment:
      cluster_name: {name}
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
{_socket_address(host, port, "              ")}"""


def render_envoy_config(
    *,
    listen: str = DEFAULT_WEB_LISTEN,
    grpc_upstream: str = DEFAULT_GRPC_UPSTREAM,
    panel_upstream: str = DEFAULT_PANEL_LISTEN,
    allowed_origins: list[str] | None = None,
) -> str:
    """Envoy's bootstrap (YAML) for a grpc-web listener on `listen` in front of the chat
    server at `grpc_upstream` and the panel's static server at `panel_upstream`.

    `allowed_origins` are the CORS origins ("*" allows any); by default the origins of
    the listener itself and of the panel server.
    """
    listen_host, listen_port = split_host_port(listen)
    grpc_host, grpc_port = split_host_port(grpc_upstream)
    panel_host, panel_port = split_host_port(panel_upstream)
    grpc_host, panel_host = connect_host(grpc_host), connect_host(panel_host)
    if allowed_origins is None:
        allowed_origins = origins_for(listen) + origins_for(panel_upstream)
    return TEMPLATE.substitute(
        admin_address=_socket_address("127.0.0.1", 0, "    "),
        listener_address=_socket_address(listen_host, listen_port, "      "),
        origin_matchers=_origin_matchers(allowed_origins, "                  "),
        grpc_cluster_endpoint=_cluster_endpoint("sessionchat_grpc", grpc_host, grpc_port),
        panel_cluster_endpoint=_cluster_endpoint("sessionchat_panel", panel_host, panel_port),
    )
