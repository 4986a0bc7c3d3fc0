"""The one way the worker opens Redis: short socket timeouts and no client-side retries."""

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def connect(host: str = "127.0.0.1", port: int = 6379, timeout_s: float = 0.25) -> redis.Redis:
    """A Redis client for callers that must never wait on Redis: short socket timeouts, retries off.

    redis-py >= 6 retries a failed call 3 times with exponential backoff by default (seconds per call while
    Redis is down); our callers (the ReID gallery, the live state) back off themselves, so the client must
    fail at once. The client connects lazily: creating it never touches the network.

    Args:
        host: Redis host.
        port: Redis port.
        timeout_s: connect and per-command socket timeout.

    Returns:
        The client (its connection pool reconnects by itself once Redis answers again).
    """
    return redis.Redis(
        host=host,
        port=port,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )


def connect_url(url: str, timeout_s: float = 0.25) -> redis.Redis:
    """Like `connect`, from a `redis://[:password@]host:port/db` URL (the worker's FOOTFALL_REDIS_URL)."""
    return redis.Redis.from_url(
        url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0)
    )
