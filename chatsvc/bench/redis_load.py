"""What the Redis under a run did: commands per second and CPU, per node (each master of a cluster).

Read from Redis's own `INFO` (total_commands_processed, used_cpu_user and
used_cpu_sys), so it works for a Redis on another machine too; other clients
of the same Redis count as well.
"""

from __future__ import annotations

import redis
from redis.cluster import RedisCluster

from chatsvc.fanout.redis.pool import is_cluster_url, node_url

Sample = dict[str, tuple[int, float]]  # node (host:port) -> commands processed, CPU seconds


def _nodes(url: str) -> list[tuple[str, int]]:
    if not is_cluster_url(url):
        return []
    with RedisCluster.from_url(node_url(url)) as cluster:
        return [(node.host, int(node.port)) for node in cluster.get_primaries()]


def sample(url: str) -> Sample:
    """Each node's counters now (blocking: call it on a thread)."""
    found: Sample = {}
    nodes: list[tuple[str, int] | None] = [*_nodes(url)] or [None]
    for node in nodes:
        client = redis.Redis.from_url(node_url(url, node))
        try:
            stats, cpu = client.info("stats"), client.info("cpu")
        finally:
            client.close()
        name = f"{node[0]}:{node[1]}" if node else url.partition("://")[2].partition("/")[0]
        found[name] = (int(stats["total_commands_processed"]), float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]))
    return found


def rates(before: Sample, after: Sample, seconds: float) -> list[dict[str, float | str]]:
    """Per node: commands per second and CPU percent between two samples."""
    return [
        {
            "node": node,
            "commands_per_s": round((after[node][0] - before[node][0]) / seconds),
            "cpu_percent": round(100 * (after[node][1] - before[node][1]) / seconds, 1),
        }
        for node in sorted(after)
        if node in before
    ]
