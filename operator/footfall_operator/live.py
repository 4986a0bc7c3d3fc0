"""Reading a worker's live state (its heartbeat hash in Redis) for the CameraChannel status."""

import logging
import threading
import time
from collections.abc import Callable

import redis

from footfall_contract.config.masking import mask_credentials
from footfall_contract.heartbeat import MalformedLive, decode_live, live_key, prune_channels
from footfall_contract.redis_client import connect_url
from footfall_operator.status import LiveReading

log = logging.getLogger("footfall.operator.live")


class LiveReader:
    """Reads `footfall:{channel}:live`; a Redis failure is a reading with `error` set, never an exception.

    One client is shared by every handler thread (redis-py's pool is thread-safe). Its short socket timeout
    bounds how long a dead Redis can hold a status update.
    """

    def __init__(self, url: str, timeout_s: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._clock = clock
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()
        self._down = False
        self.malformed_hashes = 0  # reads of a live hash that was not what a worker writes
        self._malformed_logged: set[str] = set()  # keys already logged, so a bad hash is one line, not one a round

    def _require_client(self) -> redis.Redis:
        with self._lock:
            if self._client is None:
                self._client = connect_url(self._url, timeout_s=self._timeout_s)
            return self._client

    def read(self, channel_id: str) -> LiveReading:
        now = self._clock()
        try:
            raw = self._require_client().hgetall(live_key(channel_id))
        except (redis.RedisError, OSError) as error:
            message = mask_credentials(str(error)) or type(error).__name__
            if not self._down:
                log.warning("Redis unreachable; live status fields go stale", extra={"error": message})
            self._down = True
            return LiveReading(snapshot=None, error=f"Redis unreachable: {message}", read_at=now)
        if self._down:
            log.info("Redis answers again; live status fields resume")
        self._down = False
        try:
            snapshot = decode_live(raw) if raw else None
        except MalformedLive as error:
            return self._malformed(live_key(channel_id), error, now)
        self._malformed_logged.discard(live_key(channel_id))
        return LiveReading(snapshot=snapshot, error=None, read_at=now)

    def _malformed(self, key: str, error: MalformedLive, now: float) -> LiveReading:
        """A hash no worker wrote (anyone on the network may write Redis): skipped, counted, logged once."""
        self.malformed_hashes += 1
        if key not in self._malformed_logged and len(self._malformed_logged) < 10_000:
            self._malformed_logged.add(key)
            log.warning("malformed live hash skipped", extra={"key": key, "error": str(error)})
        return LiveReading(snapshot=None, error=f"malformed live state in Redis ({error})", read_at=now)

    def prune_channels(self) -> list[str]:
        """Remove from `footfall:channels` the channels whose live hash is gone (a worker killed, or a deleted
        CameraChannel's); returns them. A Redis failure prunes nothing (it is the next read's to report)."""
        try:
            removed = prune_channels(self._require_client())
        except (redis.RedisError, OSError) as error:
            log.debug("channel set not pruned", extra={"error": mask_credentials(str(error)) or type(error).__name__})
            return []
        if removed:
            log.info(
                f"removed {len(removed)} channel(s) without live state from the channel set",
                extra={"channels": removed},
            )
        return removed

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
