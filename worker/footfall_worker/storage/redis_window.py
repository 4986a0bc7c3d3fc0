"""Redis as a window, not a dependency: a client its callers try without ever waiting on a dead Redis.

After a failure Redis is not touched at all for a back-off (the shared `Backoff`), so an outage costs nothing
per call; the first call after it tries again. One warning per outage (the retries log at debug) and one info
line when Redis answers again. Used by the live state and the ReID cache, each with its own window.

A window is meant for one thread.
"""

import logging
import time
from collections.abc import Callable

import redis

from footfall_worker.retry import Backoff

log = logging.getLogger("footfall.redis")

ClientSource = redis.Redis | Callable[[], redis.Redis]
# What a call to Redis raises when Redis is down, hangs past its socket timeout or answers garbage.
REDIS_FAILURES = (redis.RedisError, OSError)


class RedisWindow:
    """Hands out the client while Redis is believed up, None while it is being backed off.

    Args:
        client: a `redis.Redis` with short socket timeouts and retries off (`footfall_contract.redis_client`),
            or a factory of such clients: a factory's client is closed after a failure and a fresh one is made
            for the next try (a plain client's pool reconnects by itself).
        purpose: what the window serves, for the log lines (`live state`, `reid`).
        channel_id: on every log line.
        backoff_initial_s: after a first failure Redis is skipped for this long, doubling per further failure.
        backoff_max_s: the cap of that back-off.
        monotonic: the back-off's clock (injectable for tests).
        logger: where the outage lines go (the caller's, so they read as its own).
    """

    def __init__(
        self,
        client: ClientSource,
        purpose: str,
        channel_id: str,
        *,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        if backoff_initial_s < 0 or backoff_max_s < backoff_initial_s:
            raise ValueError(f"need 0 <= backoff_initial_s <= backoff_max_s, got {backoff_initial_s}, {backoff_max_s}")
        if isinstance(client, redis.Redis):
            self._client: redis.Redis | None = client
            self._factory: Callable[[], redis.Redis] | None = None
        else:
            self._client = None
            self._factory = client
        self.purpose = purpose
        self._extra = {"channel": channel_id}
        self._monotonic = monotonic
        self._log = logger
        self._backoff = Backoff(initial=backoff_initial_s, factor=2.0, maximum=backoff_max_s, jitter=0.0)
        self._failures = 0  # consecutive; 0 = Redis is up as far as we know
        self._down_until = 0.0

    @property
    def backing_off(self) -> bool:
        """True while Redis is being skipped after a failure."""
        return self._monotonic() < self._down_until

    def client(self) -> redis.Redis | None:
        """The client to try now, or None while backing off (or when making one failed: counted as a failure)."""
        if self.backing_off:
            return None
        try:
            return self.require()
        except REDIS_FAILURES as error:
            self.failed("connect", error)
            return None

    def require(self) -> redis.Redis:
        """The client regardless of the back-off (reads for tests and tools, which want the error)."""
        if self._client is None:
            assert self._factory is not None
            self._client = self._factory()
        return self._client

    def succeeded(self) -> bool:
        """A call worked. Returns True when that ends an outage (Redis answers again)."""
        recovered = self._failures > 0
        if recovered:
            self._log.info(
                f"Redis answers again after {self._failures} failed attempt(s); {self.purpose} resumed",
                extra=self._extra,
            )
        self._failures = 0
        self._backoff.reset()
        self._down_until = 0.0
        return recovered

    def failed(self, operation: str, error: Exception) -> float:
        """A call failed: skip Redis for the next back-off step, returned in seconds."""
        self._failures += 1
        delay = self._backoff.next_delay()
        self._down_until = self._monotonic() + delay
        if self._factory is not None:
            self.close()
        message = f"{self.purpose} {operation}: Redis failed ({error}); skipping Redis for {delay:.1f} s"
        # one warning per outage; the retries (at most one per back-off period) only at debug
        if self._failures == 1:
            self._log.warning(message, extra=self._extra)
        else:
            self._log.debug(message, extra=self._extra)
        return delay

    def close(self) -> None:
        """Drop the client if this window made it from a factory (a client passed in is the caller's)."""
        if self._factory is None:
            return
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except REDIS_FAILURES:
                pass  # a dead connection cannot be closed politely; it is dropped either way
