"""`chatsvc envoy-config`: print an Envoy configuration for the grpc-web bridge from the command's options."""

from __future__ import annotations

import argparse

from chatsvc.errors import StartupError
from chatsvc.web.addresses import DEFAULT_GRPC_UPSTREAM
from chatsvc.web.envoy_config import ListenerTls, UpstreamTls, render_envoy_config


def run_envoy_config(args: argparse.Namespace) -> int:
    if bool(args.tls_cert) != bool(args.tls_key) or bool(args.grpc_upstream_cert) != bool(args.grpc_upstream_key):
        raise StartupError("give a certificate together with its key (--tls-cert and --tls-key, --grpc-upstream-cert and --grpc-upstream-key)")
    if args.grpc_upstream_cert and not args.grpc_upstream_ca:
        raise StartupError("--grpc-upstream-cert needs TLS to the chat server: give --grpc-upstream-ca too")
    upstream_tls = None
    if args.grpc_upstream_ca:
        upstream_tls = UpstreamTls(args.grpc_upstream_ca, args.grpc_upstream_server_name, args.grpc_upstream_cert, args.grpc_upstream_key)
    try:
        config = render_envoy_config(
            listen=args.web_listen,
            grpc_upstreams=args.grpc_upstream or [DEFAULT_GRPC_UPSTREAM],
            health_check_interval=args.health_check_interval,
            panel_upstream=args.panel_upstream,
            allowed_origins=args.web_allow_origin,
            listener_tls=ListenerTls(args.tls_cert, args.tls_key) if args.tls_cert else None,
            upstream_tls=upstream_tls,
        )
    except ValueError as error:  # an address or interval it cannot render: one line, not a traceback
        raise StartupError(str(error)) from None
    print(config, end="")
    return 0
