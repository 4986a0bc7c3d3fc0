"""A channel's live state in Redis, for the operator and dashboards: a heartbeat hash and a capped event stream.

The keys and the heartbeat's fields are the operator's contract with the worker: `footfall_contract.heartbeat`.

Redis is a window here, not a dependency (`redis_window.py`): when it is down every call returns within the
socket timeouts, and after a failure Redis is not touched at all for a back-off that doubles from
`backoff_initial_s` up to `backoff_max_s`, so a dead Redis costs nothing per frame. Skipped updates are counted
in `LiveState.stats`; no exception escapes `publish` or `emit`. The first call after the back-off tries again,
and once Redis answers the live state reappears (counted in `stats.reconnects`).

A `LiveState` is meant for one thread: the channel's processing loop.
"""

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from footfall_contract.config.masking import mask_credentials
from footfall_contract.counters import ChannelCounters
from footfall_contract.heartbeat import CHANNELS_KEY, LiveSnapshot, decode_live, encode_live, events_key, live_key
from footfall_worker.events import ChannelEvent
from footfall_worker.ingest.stream_state import HealthSnapshot
from footfall_worker.storage.redis_window import REDIS_FAILURES, ClientSource, RedisWindow

log = logging.getLogger("footfall.live")


def _encode_event_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return mask_credentials(value)
    return mask_credentials(json.dumps(value, default=str, ensure_ascii=False))


def snapshot_from_health(
    health: HealthSnapshot,
    counters: ChannelCounters,
    *,
    active_track_ids: tuple[int, ...] = (),
    latency_p50_ms: float | None = None,
    latency_p95_ms: float | None = None,
    zone_occupancy: Mapping[str, int] | None = None,
    **detection: Any,
) -> LiveSnapshot:
    """The live state of a reader's health snapshot plus what processing knows (the channel's counters, tracks,
    latency, zones, and `detection`: the `triton_*` fields)."""
    error = health.last_error
    return LiveSnapshot(
        state=str(health.state),
        fps=health.fps,
        latency_p50_ms=latency_p50_ms,
        latency_p95_ms=latency_p95_ms,
        people_now=len(active_track_ids),
        active_track_ids=tuple(active_track_ids),
        counters=counters,
        last_frame_ts=health.last_frame_wall,
        skip_every=health.skip_every,
        last_error_kind=None if error is None else str(error.kind),
        last_error_message=None if error is None else error.message,
        zone_occupancy=dict(zone_occupancy or {}),
        **detection,
    )


@dataclass(slots=True)
class LiveStats:
    """Counters for metrics and logs.

    Attributes:
        published: live hashes written.
        throttled: `publish` calls dropped by `min_interval_s` (not a failure).
        skipped: `publish` calls that wrote nothing because Redis failed or was being backed off.
        emitted: events written.
        events_skipped: events lost because Redis failed or was being backed off.
        errors: Redis calls that failed (refused, timeout, protocol error).
        reconnects: times Redis answered again after having failed.
    """

    published: int = 0
    throttled: int = 0
    skipped: int = 0
    emitted: int = 0
    events_skipped: int = 0
    errors: int = 0
    reconnects: int = 0


class LiveState:
    """Publishes one channel's live state and events to Redis without ever holding up processing.

    Args:
        client: a `redis.Redis` with short socket timeouts and retries off (`storage.redis_client.connect`), or
            a factory of such clients: a factory's client is closed after a failure and a fresh one is made
            for the next try (a plain client's pool reconnects by itself).
        channel_id: namespaces the keys.
        ttl_s: the live hash expires this long after the last publish.
        events_maxlen: events kept per channel (approximately: Redis trims whole stream nodes).
        events_ttl_s: the event stream expires this long after the last event (None: never).
        min_interval_s: `publish` calls closer together than this are dropped unless forced.
        backoff_initial_s: after a first failure Redis is skipped for this long, doubling per further failure.
        backoff_max_s: the cap of that back-off.
        wall_clock: source of `heartbeat_ts`.
        monotonic: clock of the throttle and the back-off (injectable for tests).
    """

    def __init__(
        self,
        client: ClientSource,
        channel_id: str,
        *,
        ttl_s: float = 30.0,
        events_maxlen: int = 10_000,
        events_ttl_s: float | None = 86_400.0,
        min_interval_s: float = 0.5,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 10.0,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not channel_id:
            raise ValueError("channel_id must not be empty")
        if ttl_s <= 0 or events_maxlen < 1 or (events_ttl_s is not None and events_ttl_s <= 0):
            raise ValueError(
                f"ttl_s and events_ttl_s must be > 0 and events_maxlen >= 1, got {ttl_s}, {events_ttl_s}, "
                f"{events_maxlen}"
            )
        if min_interval_s < 0:
            raise ValueError(f"need min_interval_s >= 0, got {min_interval_s}")
        self._redis = RedisWindow(
            client,
            "live state",
            channel_id,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
            monotonic=monotonic,
            logger=log,
        )
        self.channel_id = channel_id
        self.ttl_s = ttl_s
        self.events_maxlen = events_maxlen
        self.events_ttl_s = events_ttl_s
        self.min_interval_s = min_interval_s
        self.stats = LiveStats()
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._last_publish: float | None = None

    @property
    def live_key(self) -> str:
        return live_key(self.channel_id)

    @property
    def events_key(self) -> str:
        return events_key(self.channel_id)

    @property
    def backing_off(self) -> bool:
        """True while Redis is being skipped after a failure."""
        return self._redis.backing_off

    def publish(self, snapshot: LiveSnapshot, *, force: bool = False) -> bool:
        """Write the channel's live hash (with its TTL) and register the channel, in one pipeline.

        Args:
            snapshot: the state to show.
            force: write even if the last publish was less than `min_interval_s` ago (e.g. on a state change).

        Returns:
            True when written; False when throttled or when Redis failed or is backed off (counted, never raised).
        """
        now = self._monotonic()
        if not force and self._last_publish is not None and now - self._last_publish < self.min_interval_s:
            self.stats.throttled += 1
            return False
        self._last_publish = now
        client = self._redis.client()
        if client is None:
            self.stats.skipped += 1
            return False
        ttl_ms = max(1, int(self.ttl_s * 1000))
        try:
            pipe = client.pipeline(transaction=True)  # readers never see the hash without its TTL
            pipe.hset(self.live_key, mapping=encode_live(snapshot, self._wall_clock()))
            pipe.pexpire(self.live_key, ttl_ms)
            pipe.sadd(CHANNELS_KEY, self.channel_id)
            pipe.execute()
        except REDIS_FAILURES as error:
            self._failed("publish", error)
            self.stats.skipped += 1
            return False
        self._succeeded()
        self.stats.published += 1
        return True

    def unregister(self) -> bool:
        """Take the channel out of `footfall:channels` (a clean shutdown; the next publish puts it back).

        The live hash is left to expire, so its last state stays readable for `ttl_s`.

        Returns:
            True when removed; False when Redis failed or is backed off (counted, never raised).
        """
        client = self._redis.client()
        if client is None:
            return False
        try:
            client.srem(CHANNELS_KEY, self.channel_id)
        except REDIS_FAILURES as error:
            self._failed("unregister", error)
            return False
        self._succeeded()
        return True

    def emit(self, event: ChannelEvent) -> str | None:
        """Append a channel event (on the wall clock) to the channel's capped stream.

        The entry's fields: `type` (the kind), `track_id`, `ts` (its `t`) and the payload's fields, as strings:
        None as `""`, booleans as `true`/`false`, lists and dicts as JSON, strings credential-masked.

        Returns:
            The stream entry id, or None when Redis failed or is backed off (counted, never raised).
        """
        flat = {"type": str(event.kind), "track_id": int(event.track_id), "ts": float(event.t), **event.payload}
        fields_ = {str(name): _encode_event_value(value) for name, value in flat.items()}
        client = self._redis.client()
        if client is None:
            self.stats.events_skipped += 1
            return None
        try:
            pipe = client.pipeline(transaction=True)
            pipe.xadd(self.events_key, fields_, maxlen=self.events_maxlen, approximate=True)
            if self.events_ttl_s is not None:
                pipe.pexpire(self.events_key, max(1, int(self.events_ttl_s * 1000)))
            entry_id = pipe.execute()[0]
        except REDIS_FAILURES as error:
            self._failed("emit", error)
            self.stats.events_skipped += 1
            return None
        self._succeeded()
        self.stats.emitted += 1
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    def read(self) -> dict[str, Any] | None:
        """The channel's live hash decoded (`LiveSnapshot`'s fields plus `heartbeat_ts`), None when absent.

        For tests and the operator: it bypasses the back-off and raises `redis.RedisError` when Redis fails,
        so "no state" and "Redis down" stay distinguishable; a hash no worker wrote raises `MalformedLive`.
        """
        raw = self._redis.require().hgetall(self.live_key)
        return decode_live(raw) if raw else None

    def read_events(self, count: int = 100) -> list[tuple[str, dict[str, str]]]:
        """The newest `count` events, oldest first, as (entry id, fields). Raises like `read`."""
        entries = self._redis.require().xrevrange(self.events_key, count=count)
        return [
            (entry_id.decode(), {key.decode(): value.decode() for key, value in values.items()})
            for entry_id, values in reversed(entries)
        ]

    def close(self) -> None:
        """Close the client if this object made it from a factory (a client passed in is the caller's)."""
        self._redis.close()

    def _succeeded(self) -> None:
        if self._redis.succeeded():
            self.stats.reconnects += 1

    def _failed(self, operation: str, error: Exception) -> None:
        self.stats.errors += 1
        self._redis.failed(operation, error)
