"""`chatsvc bench`: N subscribers in one session, publishing at a rate, measured end to end.

Phases of one run:

1. Start `chatsvc serve` on a free port (SQLite in a temporary directory, auth,
   rate limits and the profanity filter on), or target a running server.
2. Publishers (ChatClient, each on its own connection) send one warm-up
   message; the server's RSS is read from /proc.
3. Subscribers join one session: `--workers` processes each hold their share
   on their own TCP connections with cheap HTTP/2 clients (below),
   plus `--probes` real ChatClient streams in one more process. Once the join
   storm has settled the server's RSS is read again: the difference divided
   by N is the memory per idle subscriber.
4. Publish for `--duration` seconds at `--rate` messages/s in total (open
   loop: message i is due at i/rate whatever happened to the others), or as
   fast as the server takes them (`--rate 0`/`--saturate`: each publisher keeps
   `--concurrency` sends in flight). Each text carries its send time.
5. Wait until every subscriber has every message (or `--drain-timeout`), then
   collect: deliveries/s, latency from send to receipt at the subscriber, and
   per subscriber its duplicates and missing messages.

`--baseline` repeats the same workload against chatsvc.bench.baseline (a
minimal websockets broadcast server) and prints the ratio.

Modules: `cli` (arguments, output), `workload` (one run), `servers` (processes
under test, /proc figures), `publishers`, `workers` (subscriber processes),
`subscribers` (cheap connections), `wire` (the hand-written HTTP/2, gRPC and
event decoding, tested against protobuf), `verdict` (the reports combined), `report`, `baseline`.
"""

from chatsvc.bench.cli import add_arguments, main, run_cli

__all__ = ["add_arguments", "main", "run_cli"]
