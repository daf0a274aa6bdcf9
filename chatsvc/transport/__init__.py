"""gRPC transport: the servicer, interceptors and server assembly."""
