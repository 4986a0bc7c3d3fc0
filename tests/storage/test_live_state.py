"""LiveState against a real, private redis-server (tests/support/redis_server.py) that the tests stop and restart."""

import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from footfall_contract.counters import ChannelCounters, flat_dict
from footfall_contract.heartbeat import CHANNELS_KEY, LiveSnapshot, list_channels
from footfall_contract.redis_client import connect
from footfall_worker.events import ChannelEvent, EventKind
from footfall_worker.ingest.stream_state import ErrorKind, HealthSnapshot, StreamError, StreamState
from footfall_worker.storage.live_state import LiveState, snapshot_from_health
from tests.support.paths import free_port
from tests.support.redis_server import RedisServer

# small stream nodes, so approximate (`~`) trimming lands within a few entries of MAXLEN
NODE_ENTRIES = 10

SNAPSHOT = LiveSnapshot(
    state="streaming",
    fps=12.5,
    latency_p50_ms=41.25,
    latency_p95_ms=88.0,
    people_now=3,
    active_track_ids=(3, 7, 12),
    counters=ChannelCounters(frames_read=400, frames_processed=380, frames_dropped=17, reconnects=2, entries=5),
    last_frame_ts=1_700_000_000.125,
    skip_every=2,
)


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    instance = RedisServer(extra_args=["--stream-node-max-entries", str(NODE_ENTRIES)])
    instance.start()
    yield instance
    instance.close()


@pytest.fixture
def client(server: RedisServer) -> Iterator[redis.Redis]:
    server.start()  # a test may have left it stopped
    conn = server.client(timeout_s=1.0)
    yield conn
    conn.close()


@pytest.fixture
def channel() -> str:
    return f"test-live-{uuid.uuid4().hex[:8]}"


def test_publish_writes_typed_fields_with_ttl(client: redis.Redis, channel: str) -> None:
    live = LiveState(client, channel, ttl_s=30, wall_clock=lambda: 1_700_000_001.5)
    assert live.publish(SNAPSHOT)

    raw = client.hgetall(f"footfall:{channel}:live")
    assert raw[b"state"] == b"streaming" and raw[b"active_track_ids"] == b"3,7,12" and raw[b"last_error_kind"] == b""
    assert 29_000 < client.pttl(f"footfall:{channel}:live") <= 30_000
    decoded = live.read()
    assert decoded is not None
    assert decoded.pop("heartbeat_ts") == 1_700_000_001.5
    assert decoded == flat_dict(SNAPSHOT)  # every type round-trips, None included, the counters one field each
    assert LiveSnapshot.from_decoded(decoded) == SNAPSHOT
    assert live.stats.published == 1 and live.stats.errors == 0


def test_a_cleared_error_does_not_linger(client: redis.Redis, channel: str) -> None:
    live = LiveState(client, channel, min_interval_s=0)
    failing = LiveSnapshot(state="backoff", last_error_kind="refused", last_error_message="connection refused")
    live.publish(failing)
    assert live.read()["last_error_kind"] == "refused"  # type: ignore[index]
    live.publish(SNAPSHOT)
    state = live.read()
    assert state is not None and state["last_error_kind"] is None and state["last_error_message"] is None


def test_from_health_maps_the_reader_snapshot() -> None:
    health = HealthSnapshot(
        channel_id="c1",
        source="rtsp://***@10.0.0.5:554/ch1",
        state=StreamState.STALLED,
        state_since_wall=1.0,
        last_frame_wall=2.5,
        last_frame_age_s=0.1,
        fps=9.0,
        frames_read=10,
        frames_handed_off=9,
        frames_skipped=1,
        dropped=4,
        reconnects=1,
        connect_attempts=2,
        skip_every=3,
        last_error=StreamError(ErrorKind.STALLED, "no frame for 10 s", at_wall=2.0),
        width=640,
        height=480,
    )
    counters = ChannelCounters(frames_read=10, frames_skipped=1, frames_dropped=4, reconnects=1, entries=3)
    snapshot = snapshot_from_health(health, counters, active_track_ids=(5, 6), latency_p50_ms=30.0)
    assert snapshot == LiveSnapshot(
        state="stalled",
        fps=9.0,
        latency_p50_ms=30.0,
        people_now=2,
        active_track_ids=(5, 6),
        counters=counters,
        last_frame_ts=2.5,
        skip_every=3,
        last_error_kind="stalled",
        last_error_message="no frame for 10 s",
    )


def test_live_state_expires_after_ttl(client: redis.Redis, channel: str) -> None:
    live = LiveState(client, channel, ttl_s=1)
    started = time.monotonic()
    live.publish(SNAPSHOT)
    assert 0 < client.pttl(live.live_key) <= 1000
    while live.read() is not None and time.monotonic() - started < 3:
        time.sleep(0.05)
    assert live.read() is None
    assert 0.9 < time.monotonic() - started < 2.0
    assert channel in list_channels(client)  # the index keeps the channel; only the heartbeat is gone


def test_throttle_drops_rapid_publishes_unless_forced(client: redis.Redis, channel: str) -> None:
    live = LiveState(client, channel, min_interval_s=0.5)
    assert live.publish(SNAPSHOT)
    assert not live.publish(LiveSnapshot(state="stalled"))
    assert live.read()["state"] == "streaming"  # type: ignore[index]
    assert live.publish(LiveSnapshot(state="stalled"), force=True)
    assert live.read()["state"] == "stalled"  # type: ignore[index]
    assert live.stats.throttled == 1 and live.stats.published == 2 and live.stats.skipped == 0


def test_events_stream_is_capped(client: redis.Redis, channel: str) -> None:
    maxlen = 50
    live = LiveState(client, channel, events_maxlen=maxlen)
    for track_id in range(500):
        kind = EventKind.TRACK_STARTED if track_id % 2 == 0 else EventKind.TRACK_ENDED
        assert live.emit(ChannelEvent(kind, track_id, 1000.0 + track_id, {"gender": "female" if track_id else None}))
    # `~` trims whole stream nodes only: never below MAXLEN, at most one node above it
    assert maxlen <= client.xlen(live.events_key) <= maxlen + NODE_ENTRIES
    events = live.read_events(count=3)
    assert [fields for _, fields in events] == [
        {
            "type": "track_ended" if n % 2 else "track_started",
            "track_id": str(n),
            "ts": repr(1000.0 + n),
            "gender": "female",
        }
        for n in (497, 498, 499)
    ]
    assert client.pttl(live.events_key) > 0
    assert live.stats.emitted == 500


def test_event_value_encoding(client: redis.Redis, channel: str) -> None:
    live = LiveState(client, channel)
    live.emit(ChannelEvent(EventKind.TRACK_ENDED, 4, 12.5, {"gender": None, "confirmed": True, "box": [1, 2, 3, 4]}))
    [(_, fields)] = live.read_events()
    assert fields == {
        "type": "track_ended",
        "track_id": "4",
        "ts": "12.5",
        "gender": "",
        "confirmed": "true",
        "box": "[1, 2, 3, 4]",
    }


def test_channel_index_and_channels_do_not_overwrite_each_other(client: redis.Redis) -> None:
    first, second = f"test-live-{uuid.uuid4().hex[:8]}", f"test-live-{uuid.uuid4().hex[:8]}"
    a, b = LiveState(client, first), LiveState(client, second)
    a.publish(SNAPSHOT)
    b.publish(LiveSnapshot(state="backoff", people_now=0, last_error_kind="refused"))
    a.emit(ChannelEvent(EventKind.TRACK_STARTED, 1, 1.0))

    assert {first, second} <= set(list_channels(client))
    assert {first.encode(), second.encode()} <= client.smembers(CHANNELS_KEY)
    state_a, state_b = a.read(), b.read()
    assert state_a is not None and state_a["state"] == "streaming" and state_a["people_now"] == 3
    assert state_b is not None and state_b["state"] == "backoff" and state_b["last_error_kind"] == "refused"
    assert len(a.read_events()) == 1 and b.read_events() == []


def test_credentials_are_masked_in_redis(client: redis.Redis, channel: str) -> None:
    live = LiveState(client, channel)
    message = "cannot open rtsp://admin:s3cr3t@10.0.0.5:554/ch1 (401), retrying"
    live.publish(LiveSnapshot(state="backoff", last_error_kind="auth_failed", last_error_message=message))
    live.emit(ChannelEvent(EventKind.TRACK_ENDED, 1, 1.0, {"message": message}))

    state = live.read()
    assert (
        state is not None and state["last_error_message"] == "cannot open rtsp://***@10.0.0.5:554/ch1 (401), retrying"
    )
    stored = [*client.hgetall(live.live_key).values(), *live.read_events()[0][1].values()]
    assert stored and not any("s3cr3t" in (v.decode() if isinstance(v, bytes) else v) for v in stored)


def test_backoff_doubles_up_to_the_cap_and_skips_redis_meanwhile() -> None:
    now = [0.0]
    attempts = []

    def factory() -> redis.Redis:
        attempts.append(now[0])
        return connect(port=free_port(), timeout_s=0.2)  # nothing listens: refused at once

    live = LiveState(factory, "test-live-dead", min_interval_s=0, backoff_max_s=4.0, monotonic=lambda: now[0])
    for _ in range(1200):  # 12 s of calls, every 10 ms
        assert live.publish(SNAPSHOT) is False
        assert live.emit(ChannelEvent(EventKind.TRACK_STARTED, 1, now[0])) is None
        now[0] = round(now[0] + 0.01, 2)
    # tries at 0, then after 0.5, 1, 2, 4, 4, ... s
    assert attempts == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5]
    assert live.stats.errors == 6 and live.stats.skipped == 1200 and live.stats.events_skipped == 1200
    assert live.stats.published == 0 and live.stats.reconnects == 0


def producer_loop(live: LiveState, seconds: float, rate_hz: float) -> tuple[float, float, int]:
    """Call publish at `rate_hz` for `seconds`, like a frame loop: (total seconds, slowest call, calls)."""
    period = 1.0 / rate_hz
    started = time.monotonic()
    slowest, calls = 0.0, 0
    while (elapsed := time.monotonic() - started) < seconds:
        before = time.monotonic()
        live.publish(SNAPSHOT)
        live.emit(ChannelEvent(EventKind.TRACK_STARTED, calls, time.time()))
        slowest = max(slowest, time.monotonic() - before)
        calls += 1
        time.sleep(max(0.0, started + calls * period - time.monotonic()))
    return elapsed, slowest, calls


def wait_for_state(live: LiveState, timeout_s: float) -> float:
    """Keep publishing (as the worker would) until the live hash is back; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if live.publish(SNAPSHOT) and live.read() is not None:
            return time.monotonic() - started
        time.sleep(0.01)
    raise AssertionError(f"live state did not reappear within {timeout_s} s (stats {live.stats})")


def test_redis_down_costs_nothing_and_live_state_comes_back(server: RedisServer, channel: str) -> None:
    server.start()
    backoff_max_s = 2.0
    live = LiveState(lambda: server.client(timeout_s=0.25), channel, min_interval_s=0, backoff_max_s=backoff_max_s)
    assert live.publish(SNAPSHOT)
    server.stop()

    elapsed, slowest, calls = producer_loop(live, seconds=3.0, rate_hz=100)
    # Below the 0.25 s socket timeout: no call waited on the dead Redis (not tighter: a loaded 2-core box can
    # stall a thread for tens of ms by itself).
    assert slowest < 0.2, f"a call took {slowest * 1000:.1f} ms while Redis was down"
    assert 2.9 < elapsed < 3.3 and calls >= 250
    # back-off: a handful of real attempts (0, 0.5, 1.5 s ...), every other call skipped without touching Redis
    assert 2 <= live.stats.errors <= 5, live.stats
    assert live.stats.skipped == calls and live.stats.events_skipped == calls and live.stats.published == 1

    server.start()  # empty again: nothing survives but what the worker republishes
    took = wait_for_state(live, timeout_s=backoff_max_s + 1.0)
    assert took <= backoff_max_s + 0.2
    assert live.stats.reconnects == 1 and live.stats.published == 2
    assert channel in list_channels(server.client())
    assert live.emit(ChannelEvent(EventKind.TRACK_ENDED, 1, time.time())) is not None
    live.close()


def test_a_plain_client_recovers_too(server: RedisServer, channel: str) -> None:
    server.start()
    client = server.client()
    live = LiveState(client, channel, min_interval_s=0)
    assert live.publish(SNAPSHOT)
    server.stop()
    assert not live.publish(SNAPSHOT)
    server.start()
    took = wait_for_state(live, timeout_s=1.5)
    assert took <= 0.7  # the first back-off is 0.5 s
    assert live.stats.errors == 1 and live.stats.reconnects == 1
    client.close()
