"""What one run's subscribers reported, combined into the run's verdict: lost, duplicated and
skipped events, latencies, who resumed after a restart, the online list a probe ends with, and
whether every subscriber of a session received the same events byte for byte."""

from __future__ import annotations

import argparse
from array import array
from collections import Counter

from chatsvc.bench.publishers import GrpcPublisher, Published
from chatsvc.bench.report import percentiles_ms


def judge(result: dict, reports: list[dict], workers: list, published: Published, args: argparse.Namespace, sessions: list[str], publisher, server) -> None:
    """Fill `result` from the workers' reports (in the order of `workers`)."""
    latencies = array("i")
    probe_latencies = array("i")
    result["lost"] = 0
    result["duplicated"] = 0
    result["sequence_gaps"] = 0
    result["streams_ended"] = 0
    reasons: Counter = Counter()
    digests: Counter = Counter()
    last_sequences: Counter = Counter()
    resumed_times = array("d")  # time.time() when each cheap subscriber's stream started again
    for worker, report in zip(workers, reports, strict=False):
        digests.update(report["digests"])
        last_sequences.update(report["last_sequences"])
        (probe_latencies if worker.probe else latencies).frombytes(report["latencies"])
        result["lost"] += sum(max(0, published.by_session[session] - received) for session, received in report["bench"])
        result["duplicated"] += report["duplicates"]
        result["sequence_gaps"] += report["gaps"]
        result["streams_ended"] += report["ended"]
        reasons.update(report["end_reasons"])
        if not worker.probe and args.restart:
            result["resumed"] = result.get("resumed", 0) + report.get("resumed", 0)
            result["recovered"] = result.get("recovered", 0) + report.get("recovered", 0)
            result["last_resumed_at"] = max(result.get("last_resumed_at", 0.0), report.get("resumed_at", 0.0))
            resumed_times.frombytes(report.get("resumed_times", b""))
        if not worker.probe:
            result["connections_opened"] = result.get("connections_opened", 0) + report.get("connections_opened", 0)
        if worker.probe:
            result["probe_reconnects"] = report.get("reconnects", 0)
            result["event_bytes"] = report.get("event_bytes")
            result["online_seen"] = min(report.get("online_seen") or [0])
    if reasons:
        result["errors"].append(f"streams ended: {dict(reasons)}")
    if args.restart:
        cheap = result.get("subscribers", 0) - (args.probes if server.kind == "grpc" else 0)
        result["resume_s"] = round(result["last_resumed_at"] - result["listening_again_at"], 2) if result.get("resumed") else None
        listening = result["listening_again_at"]
        result["resume_ms"] = percentiles_ms([int((at - listening) * 1e6) for at in resumed_times])  # percentiles_ms takes µs
        if result.get("resumed") != cheap or result.get("recovered") != cheap:
            result["errors"].append(f"after the restart {result.get('resumed')} of {cheap} resumed, {result.get('recovered')} recovered")
    # Everyone joined stays online: the probes' view (snapshot, then joins and leaves) must say so.
    # The probes are in the first session: its subscribers, and its publishers' streams.
    pairs = publisher.pairs if isinstance(publisher, GrpcPublisher) else []
    publishing_there = len([session for _, session in pairs if session == sessions[0]])
    expected_online = args.subscribers + (publishing_there if args.publish_on == "stream" else 0)
    result["online_expected"] = expected_online
    if "online_seen" in result and result["online_seen"] != expected_online:
        result["errors"].append(f"a probe sees {result['online_seen']} users online, {expected_online} are")
    # Every subscriber of a session, whatever process it is on, must have received the same events byte for byte.
    result["same_events_everywhere"] = len(digests) == len(last_sequences) == len(sessions)
    if not result["same_events_everywhere"]:
        result["errors"].append(
            f"subscribers disagree: {len(digests)} different event digests, last sequences {dict(last_sequences.most_common(5))}"
        )
    problems = server.problems()
    if problems:
        result["server_log_problems"] = len(problems)
        result["errors"] += [f"server log: {line[:300]}" for line in problems[:5]]
    latencies.extend(probe_latencies)
    result["delivered"] = len(latencies)
    result["latency_ms"] = percentiles_ms(latencies)
    result["probe_latency_ms"] = percentiles_ms(probe_latencies) if probe_latencies else None
