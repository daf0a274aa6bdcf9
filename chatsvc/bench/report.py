"""Progress lines while a run goes, and the results: percentiles and the table."""

from __future__ import annotations

import statistics
import sys
import time

_progress_enabled = False
_started_at = time.perf_counter()


def enable_progress(enabled: bool) -> None:
    global _progress_enabled
    _progress_enabled = enabled


def progress(message: str) -> None:
    if _progress_enabled:
        print(f"[{time.perf_counter() - _started_at:6.1f} s] {message}", file=sys.stderr, flush=True)


def percent(after: float | None, before: float | None, elapsed: float) -> float | None:
    if after is None or before is None:
        return None
    return round(100 * (after - before) / elapsed, 1)


def percentiles_ms(values) -> dict | None:
    if not values:
        return None
    ordered = sorted(values)
    count = len(ordered)

    def at(fraction: float) -> float:
        return round(ordered[min(count - 1, int(fraction * count))] / 1000, 2)

    return {"p50": at(0.50), "p99": at(0.99), "max": round(ordered[-1] / 1000, 2), "mean": round(statistics.fmean(ordered) / 1000, 2)}


def format_table(results: dict) -> str:
    config = results["config"]
    runs = [("SessionChat", results["service"])]
    if "baseline" in results:
        runs.append(("websockets", results["baseline"]))
    rate = config["rate"]
    lines = [
        f"chatsvc bench: {config['subscribers']} subscribers, "
        + (f"in each of {config['sessions']} sessions, " if config.get("sessions", 1) > 1 else "")
        + (f"{rate:g} msg/s" if rate != "saturate" else "saturating")
        + (" per session" if config.get("sessions", 1) > 1 else "")
        + (f", {config['churn_per_s']:g} visitors/s joining and leaving" if config.get("churn_per_s") else "")
        + f" for {config['duration_s']:g} s, {config['publishers']} {config['publisher_role']} publishers, "
        f"{config['workers']} subscriber processes + {config['probes']} ChatClient probes, {config['cpus']} CPUs"
        + (f", {config['streams_per_connection']} streams per connection" if config.get("streams_per_connection", 1) > 1 else ""),
        f"server: {config['target']}",
        "",
    ]

    def latency(value: dict | None) -> str:
        return f"{value['p50']:.1f} / {value['p99']:.1f} / {value['max']:.1f}" if value else "-"

    def number(value, suffix: str = "") -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:,.1f}{suffix}"
        return f"{value:,}{suffix}"

    rows = [
        ("subscribers joined", lambda r: number(r.get("subscribers"))),
        ("join time, all live (s)", lambda r: number(r.get("join_s"))),
        ("  each join p50 / p99 / max (ms)", lambda r: latency(r.get("join_ms"))),
        (
            "  online seen by a probe / expected",
            lambda r: f"{number(r.get('online_seen'))} / {number(r.get('online_expected'))}" if "online_seen" in r else "-",
        ),
        ("visitors joined and left (churn)", lambda r: number(r.get("churn_joins"))),
        ("  visitor join p50 / p99 / max (ms)", lambda r: latency(r.get("churn_join_ms"))),
        ("messages published", lambda r: number(r.get("published"))),
        ("publish rate (msg/s)", lambda r: number(r.get("publish_rate"))),
        ("delivered events/s", lambda r: number(r.get("delivered_per_s"))),
        ("latency p50 / p99 / max (ms)", lambda r: latency(r.get("latency_ms"))),
        ("  ChatClient probes (ms)", lambda r: latency(r.get("probe_latency_ms"))),
        ("  send acknowledged (ms)", lambda r: latency(r.get("send_ack_ms"))),
        ("restart: stopped to listening again (s)", lambda r: number(r.get("restart_s"))),
        ("  all resumed, after listening again (s)", lambda r: number(r.get("resume_s"))),
        ("  each resumed after listening p50 / p99 / max (ms)", lambda r: latency(r.get("resume_ms"))),
        ("  resumed / with recovered=true", lambda r: f"{number(r.get('resumed'))} / {number(r.get('recovered'))}" if "resumed" in r else "-"),
        ("lost events", lambda r: number(r.get("lost"))),
        ("duplicated events", lambda r: number(r.get("duplicated"))),
        ("sequence gaps", lambda r: number(r.get("sequence_gaps"))),
        ("streams ended early", lambda r: number(r.get("streams_ended"))),
        ("same events at every subscriber", lambda r: {True: "yes", False: "NO"}.get(r.get("same_events_everywhere"), "-")),
        ("drain after publishing (s)", lambda r: number(r.get("drain_s"))),
        ("server KB per idle subscriber", lambda r: number(r.get("memory_per_idle_subscriber_kb"))),
        (
            "server RSS before/idle/after (MB)",
            lambda r: "/".join(megabytes(r.get(k)) for k in ("server_rss_before_kb", "server_rss_idle_kb", "server_rss_after_kb")),
        ),
        (
            "  once everyone left (MB, vs before)",
            lambda r: f"{megabytes(r.get('server_rss_left_kb'))} ({r['rss_left_vs_before_percent']:+.1f}%)"
            if r.get("rss_left_vs_before_percent") is not None
            else "-",
        ),
        ("per process: received / delivered events", lambda r: fanout_cell(r.get("processes_fanout"))),
        ("server CPU while publishing (%)", lambda r: number(r.get("server_cpu_percent"))),
        ("  per process (%)", lambda r: "; ".join(number(c) for c in r["processes_cpu_percent"]) if r.get("processes_cpu_percent") else "-"),
        ("Redis commands/s, CPU % (per node)", lambda r: redis_cell(r.get("redis"))),
        (
            "PostgreSQL commits/s, rows written/s",
            lambda r: f"{r['postgres']['commits_per_s']:,.0f} / {r['postgres']['rows_per_s']:,.0f}" if r.get("postgres") else "-",
        ),
        ("subscriber CPU while publishing (%)", lambda r: number(r.get("subscriber_cpu_percent"))),
        ("  busiest subscriber process (%)", lambda r: number(r.get("busiest_subscriber_process_cpu_percent"))),
    ]
    width = max(len(label) for label, _ in rows)
    columns = [[render(run) for _, run in runs] for _, render in rows]
    column_width = max(max(len(cell) for cells in columns for cell in cells), max(len(name) for name, _ in runs))
    lines.append(" " * width + "  " + "  ".join(name.rjust(column_width) for name, _ in runs))
    for (label, _), cells in zip(rows, columns, strict=False):
        lines.append(label.ljust(width) + "  " + "  ".join(cell.rjust(column_width) for cell in cells))
    if "ratio" in results:
        lines += ["", f"deliveries/s, SessionChat / websockets baseline: {results['ratio']:.2f}x"]
    warnings = [f"{name}: {warning}" for name, run in runs for warning in run.get("warnings", [])]
    lines += [f"warning: {warning}" for warning in warnings]
    errors = [f"{name}: {error}" for name, run in runs for error in run["errors"]]
    lines += ["", "OK: nothing lost, nothing duplicated" if results["ok"] else "FAILED"]
    lines += [f"  {error}" for error in errors]
    return "\n".join(lines)


def redis_cell(nodes: list[dict] | None) -> str:
    """Each Redis node's (each master's) commands per second and CPU while publishing (with --redis-url)."""
    if not nodes:
        return "-"
    return "; ".join(f"{n['commands_per_s']:.0f}/s {n['cpu_percent']:.1f}%" for n in nodes)


def fanout_cell(processes: list[dict] | None) -> str:
    """Each process's events received from Redis / delivered to its subscribers (with Redis)."""
    if not processes or not any(p.get("received") for p in processes):
        return "-"
    return "; ".join(f"{p.get('received', 0):.0f} / {p.get('delivered', 0):.0f}" for p in processes)


def megabytes(kb: int | None) -> str:
    return "-" if kb is None else f"{kb / 1024:.0f}"
