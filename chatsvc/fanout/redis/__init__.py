"""Every use of Redis in one place: the connection pool a process shares (`pool`), the one
outage logger (`outage`), and the adapters that share both: the fan-out channel (`channel`),
presence (`presence`), typing indicators (`typing_registry`) and rate limits (`ratelimit`).

Each adapter degrades instead of failing its callers when Redis does not answer, and says so
once per outage.
"""
