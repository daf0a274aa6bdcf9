"""Browsers: the chat panel (static files built from `chatsvc/web/src`) and the Envoy
grpc-web gateway that `chatsvc serve --web` runs in front of the gRPC server."""
