"""ReidCache against the real Redis on 127.0.0.1:6379 (fails, never skips, when it is not running)."""

import time
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
import redis

from footfall_contract.redis_client import connect
from footfall_worker.reid.cache import ReidCache
from tests.reid.test_appearance import ENCODER, visit_embeddings
from tests.support.paths import free_port

DIM = 16
BOX = np.float32([10, 20, 110, 320])


@pytest.fixture(scope="module")
def client() -> Iterator[redis.Redis]:
    conn = connect(timeout_s=1.0)
    try:
        conn.ping()
    except redis.RedisError as error:
        pytest.fail(
            f"Redis on 127.0.0.1:6379 is required ({error}); start it with: redis-server --daemonize yes "
            '--bind 127.0.0.1 --port 6379 --save "" --appendonly no'
        )
    yield conn
    conn.close()


@pytest.fixture
def channel(client: redis.Redis) -> Iterator[str]:
    name = f"test-reid-{uuid.uuid4().hex[:12]}"
    yield name
    keys = list(client.scan_iter(f"footfall:{name}:*"))
    if keys:
        client.delete(*keys)


def unit(seed: int, dim: int = DIM) -> np.ndarray:
    vector = np.abs(np.random.default_rng(seed).normal(size=dim)).astype(np.float32)
    return vector / np.linalg.norm(vector)


def nudged(vector: np.ndarray, amount: float, seed: int = 99) -> np.ndarray:
    noisy = vector + amount * np.abs(np.random.default_rng(seed).normal(size=vector.shape)).astype(np.float32)
    return (noisy / np.linalg.norm(noisy)).astype(np.float32)


def test_remember_match_forget_round_trip(client: redis.Redis, channel: str) -> None:
    cache = ReidCache(client, channel)
    a, b = unit(1), unit(2)
    assert float(a @ b) < 0.9
    assert cache.remember(7, a, ended_at_s=100.0, last_box=BOX)
    assert cache.remember(8, np.stack([b, nudged(b, 0.01)]), ended_at_s=101.0, last_box=BOX + 1)

    found = cache.match(nudged(a, 0.01), now_s=130.0)
    assert found is not None
    assert found.track_id == 7 and found.run_id == "0" and found.similarity > 0.99 and found.runner_up < 0.9
    assert found.ended_at_s == 100.0
    np.testing.assert_array_equal(found.last_box, BOX)
    # (k, d) queries are averaged too
    found_b = cache.match(np.stack([b, b]), now_s=130.0)
    assert found_b is not None and found_b.track_id == 8

    assert cache.forget(7)
    assert cache.match(a, now_s=130.0) is None  # links at most once
    assert client.exists(cache.track_key(7)) == 0
    assert client.zrange(cache.index_key, 0, -1) == [b"0:8"]
    assert cache.stats.stored == 2 and cache.stats.links == 2 and cache.stats.errors == 0


def test_only_tracks_ended_within_ttl_before_now_are_candidates(client: redis.Redis, channel: str) -> None:
    cache = ReidCache(client, channel, ttl_s=60)
    cache.remember(1, unit(1), ended_at_s=1000.0, last_box=BOX)
    assert cache.match(unit(1), now_s=1030.0) is not None
    assert cache.match(unit(1), now_s=1061.0) is None  # ended too long before the new track
    assert cache.match(unit(1), now_s=999.0) is None  # still alive when the new track started: not the same person


def test_keys_are_namespaced_and_expire(client: redis.Redis, channel: str) -> None:
    cache = ReidCache(client, channel, ttl_s=30)
    cache.remember(3, unit(3), ended_at_s=5.0, last_box=BOX)
    assert set(client.scan_iter(f"footfall:{channel}:reid:*")) == {
        f"footfall:{channel}:reid:track:0:3".encode(),
        f"footfall:{channel}:reid:index".encode(),
    }
    assert 0 < client.ttl(cache.track_key(3)) <= 30
    assert 0 < client.ttl(cache.index_key) <= 30
    stored = client.hgetall(cache.track_key(3))
    np.testing.assert_array_equal(np.frombuffer(stored[b"emb"], np.float32), unit(3))
    np.testing.assert_array_equal(np.frombuffer(stored[b"box"], np.float32), BOX)


def test_trims_to_max_entries_keeping_the_newest(client: redis.Redis, channel: str) -> None:
    cache = ReidCache(client, channel, max_entries=3)
    for track in range(1, 6):
        cache.remember(track, unit(track), ended_at_s=float(track), last_box=BOX)
    assert client.zrange(cache.index_key, 0, -1) == [b"0:3", b"0:4", b"0:5"]
    assert [client.exists(cache.track_key(t)) for t in range(1, 6)] == [0, 0, 1, 1, 1]
    assert cache.match(unit(1), now_s=10.0) is None
    found = cache.match(unit(4), now_s=10.0)
    assert found is not None and found.track_id == 4


def test_channels_do_not_see_each_other(client: redis.Redis, channel: str) -> None:
    other = ReidCache(client, channel + "-other")
    try:
        ReidCache(client, channel).remember(1, unit(1), ended_at_s=1.0, last_box=BOX)
        assert other.match(unit(1), now_s=2.0) is None
        assert ReidCache(client, channel).match(unit(1), now_s=2.0) is not None
    finally:
        other.forget(1)


def test_ambiguous_or_weak_matches_are_rejected(client: redis.Redis, channel: str) -> None:
    cache = ReidCache(client, channel)
    a = unit(1)
    cache.remember(1, a, ended_at_s=1.0, last_box=BOX)
    cache.remember(2, nudged(a, 0.005, seed=5), ended_at_s=2.0, last_box=BOX)
    assert cache.match(a, now_s=3.0) is None  # two near-identical earlier tracks: ambiguous
    assert cache.stats.ambiguous == 1
    cache.forget(2)
    assert cache.match(nudged(a, 0.3), now_s=3.0) is None  # below the similarity threshold
    assert cache.match(a, now_s=3.0) is not None
    # with the margin off, the same ambiguous gallery links
    lenient = ReidCache(client, channel, min_margin=0.0)
    lenient.remember(2, nudged(a, 0.005, seed=5), ended_at_s=2.0, last_box=BOX)
    assert lenient.match(a, now_s=3.0) is not None


def test_invalid_embeddings_and_other_encoders_are_ignored(client: redis.Redis, channel: str) -> None:
    cache = ReidCache(client, channel, encoder_name="hsv-a")
    assert not cache.remember(1, np.zeros((3, DIM), np.float32), ended_at_s=1.0, last_box=BOX)
    assert cache.stats.stored == 0
    cache.remember(2, unit(2), ended_at_s=1.0, last_box=BOX)
    assert cache.match(np.zeros(DIM, np.float32), now_s=2.0) is None
    assert ReidCache(client, channel, encoder_name="triton-reid").match(unit(2), now_s=2.0) is None
    assert ReidCache(client, channel, encoder_name="hsv-a").match(unit(2), now_s=2.0) is not None


CORRUPTIONS = {
    "embedding of the wrong length": {"emb": np.zeros(DIM + 1, np.float32).tobytes()},
    "embedding of odd bytes": {"emb": b"\x00" * 7},
    "NaN embedding": {"emb": np.full(DIM, np.nan, np.float32).tobytes()},
    "embedding not unit length": {"emb": np.full(DIM, 5.0, np.float32).tobytes()},
    "float64 embedding": {"emb": unit(3).astype(np.float64).tobytes()[: DIM * 4]},
    "short box": {"box": np.float32([1, 2, 3]).tobytes()},
    "infinite box": {"box": np.float32([1, 2, np.inf, 4]).tobytes()},
    "ended_at not a number": {"ended_at": b"yesterday"},
    "ended_at NaN": {"ended_at": b"nan"},
    "encoder not UTF-8": {"enc": b"\xff"},
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_a_malformed_entry_is_skipped_and_counted_and_the_good_one_still_links(
    client: redis.Redis, channel: str, corruption: str
) -> None:
    """Any pod that reaches Redis can write the gallery: a bad entry must never crash the worker nor link."""
    cache = ReidCache(client, channel)
    person, other = unit(1), unit(2)
    assert cache.remember(7, person, ended_at_s=100.0, last_box=BOX)
    assert cache.remember(8, other, ended_at_s=101.0, last_box=BOX)
    client.hset(cache.track_key(8), mapping=CORRUPTIONS[corruption])
    assert cache.match(nudged(other, 0.001), now_s=130.0) is None  # the corrupted one never links
    found = cache.match(nudged(person, 0.001), now_s=130.0)
    assert found is not None and found.track_id == 7
    expected = 0 if corruption in ("encoder not UTF-8",) else 2  # another descriptor's entry is not malformed
    assert cache.stats.malformed == expected


def test_index_members_that_are_not_run_and_track_ids_are_skipped(client: redis.Redis, channel: str) -> None:
    cache = ReidCache(client, channel)
    assert cache.remember(7, unit(1), ended_at_s=100.0, last_box=BOX)
    for member in (b"no-colon", b"run:notanumber", b"\xff\xfe:1", b"x" * 500 + b":1"):
        client.zadd(cache.index_key, {member: 100.0})
        client.hset(
            cache.prefix.encode() + b"track:" + member,
            mapping={"emb": unit(1).tobytes(), "box": BOX.tobytes(), "ended_at": b"100.0", "enc": b""},
        )
    found = cache.match(unit(1), now_s=130.0)
    assert found is not None and found.track_id == 7
    assert cache.stats.malformed == 4


def test_redis_down_degrades_quickly_without_raising() -> None:
    down = connect(port=free_port(), timeout_s=0.2)
    cache = ReidCache(down, "test-reid-down", retry_after_s=30.0)
    started = time.monotonic()
    assert cache.remember(1, unit(1), ended_at_s=1.0, last_box=BOX) is False
    assert cache.stats.errors == 1 and cache.stats.skipped_writes == 1
    # backing off: answered without touching Redis
    assert cache.match(unit(1), now_s=2.0) is None
    assert cache.remember(2, unit(2), ended_at_s=1.0, last_box=BOX) is False
    assert cache.forget(1) is False
    assert cache.stats.errors == 1 and cache.stats.skipped_writes == 2 and cache.stats.skipped_reads == 1
    # without the back-off every call tries again, and still fails fast
    eager = ReidCache(down, "test-reid-down", retry_after_s=0.0)
    assert eager.match(unit(1), now_s=2.0) is None
    assert eager.remember(1, unit(1), ended_at_s=1.0, last_box=BOX) is False
    assert eager.stats.errors == 2
    assert time.monotonic() - started < 1.0
    down.close()


def test_on_footage_a_returning_visitor_links_and_a_new_one_does_not(client: redis.Redis, channel: str) -> None:
    visits = visit_embeddings()
    cache = ReidCache(client, channel, encoder_name=ENCODER.name)
    for visit in (1, 2, 3, 5, 6):
        cache.remember(visit, visits[visit][0], ended_at_s=float(visit), last_box=BOX)
    # visit 5 seen again later: linked to itself
    found = cache.match(visits[5][1], now_s=10.0)
    assert found is not None and found.track_id == 5, found
    # visit 4 (a man in black, never seen before): not linked, though visit 2 is also a man in black
    assert cache.match(visits[4][1], now_s=10.0) is None
    # with visit 4 in the gallery too, visit 4 coming back is ambiguous against visit 2: no link
    cache.remember(4, visits[4][0], ended_at_s=4.0, last_box=BOX)
    assert cache.match(visits[4][1], now_s=10.0) is None
    assert cache.stats.ambiguous == 1
