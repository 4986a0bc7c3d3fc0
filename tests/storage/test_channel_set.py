"""`footfall:channels` against a real redis-server: a clean shutdown leaves it, a killed worker's member counts as
gone once its live hash expires, and pruning removes exactly those members."""

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from footfall_contract.heartbeat import CHANNELS_KEY, LiveSnapshot, list_channels, live_channels, prune_channels
from footfall_worker.storage.live_state import LiveState
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer() as instance:
        yield instance


@pytest.fixture
def client(server: RedisServer) -> Iterator[redis.Redis]:
    server.start()  # a test may have left it stopped
    conn = server.client(timeout_s=1.0)
    conn.delete(CHANNELS_KEY)
    yield conn
    conn.close()


def name() -> str:
    return f"test-set-{uuid.uuid4().hex[:8]}"


def wait_expired(client: redis.Redis, live: LiveState, timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while client.exists(live.live_key) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not client.exists(live.live_key)


def test_a_clean_shutdown_leaves_the_set_and_the_next_publish_comes_back(client: redis.Redis) -> None:
    live = LiveState(client, name(), min_interval_s=0)
    live.publish(LiveSnapshot(state="streaming"))
    assert live.channel_id in list_channels(client) and live.channel_id in live_channels(client)
    live.publish(LiveSnapshot(state="stopped"), force=True)  # what the worker's stop() writes last
    assert live.unregister()
    assert live.channel_id not in list_channels(client)
    state = live.read()  # the last state stays readable until its TTL
    assert state is not None and state["state"] == "stopped"
    live.publish(LiveSnapshot(state="connecting"))  # started again
    assert live.channel_id in list_channels(client)


def test_a_member_whose_hash_expired_is_gone_and_pruning_removes_only_those(client: redis.Redis) -> None:
    killed = LiveState(client, name(), ttl_s=1)  # a worker SIGKILLed after its last publish
    alive = LiveState(client, name(), ttl_s=30)
    killed.publish(LiveSnapshot(state="streaming"))
    alive.publish(LiveSnapshot(state="streaming"))
    wait_expired(client, killed)
    assert set(list_channels(client)) == {killed.channel_id, alive.channel_id}  # still a member...
    assert live_channels(client) == [alive.channel_id]  # ...but not alive
    assert prune_channels(client) == [killed.channel_id]
    assert list_channels(client) == [alive.channel_id]
    assert prune_channels(client) == []
    assert alive.read() is not None  # pruning never touches a live hash


def test_pruning_never_removes_a_channel_that_is_publishing(client: redis.Redis) -> None:
    # Workers publishing as fast as they can while the operator prunes in a loop: a publish (hash, TTL and set
    # membership in one transaction) and a prune never interleave, so a publishing channel is never removed.
    workers = [LiveState(client, name(), ttl_s=30, min_interval_s=0) for _ in range(4)]
    for live in workers:
        live.publish(LiveSnapshot(state="streaming"))
    stop = threading.Event()
    missing: list[str] = []

    def publish_forever(live: LiveState) -> None:
        while not stop.is_set():
            live.publish(LiveSnapshot(state="streaming"))

    threads = [threading.Thread(target=publish_forever, args=(live,), daemon=True) for live in workers]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 2.0
        rounds = 0
        while time.monotonic() < deadline:
            assert prune_channels(client) == []
            members = set(list_channels(client))
            missing += [live.channel_id for live in workers if live.channel_id not in members]
            rounds += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
    assert rounds > 50 and missing == []


def test_unregister_with_redis_down_returns_at_once_and_raises_nothing(server: RedisServer) -> None:
    server.start()
    live = LiveState(lambda: server.client(timeout_s=0.25), name(), min_interval_s=0)
    assert live.publish(LiveSnapshot(state="streaming"))
    server.stop()
    try:
        started = time.monotonic()
        assert live.unregister() is False
        assert time.monotonic() - started < 1.0 and live.stats.errors == 1
    finally:
        server.start()
        live.close()
