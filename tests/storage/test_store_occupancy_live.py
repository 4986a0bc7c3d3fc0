"""The store's live count in a real Redis, shared by its entrance workers: clamped at zero, partner cameras'
crossings counted once whichever worker names the partnership, a business day closed exactly once (by whichever
worker steps first after closing) with its totals, and a dead Redis costing nothing."""

from collections.abc import Iterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import redis

from footfall_contract.config.geometry import PartnerChannel
from footfall_contract.config.store_hours import OpeningHours, business_day
from footfall_contract.redis_client import connect_url
from footfall_worker.storage.store_occupancy_live import ClosedDay, LiveStoreOccupancy
from tests.support.paths import free_port
from tests.support.redis_server import RedisServer

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = OpeningHours(open="08:00", close="22:00")
DAY = date(2026, 10, 24)


def days(t: datetime):  # type: ignore[no-untyped-def]
    return business_day(t, BERLIN, HOURS)


def at(hh: int, mm: int = 0, ss: float = 0.0, day: date = DAY) -> float:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=BERLIN).timestamp() + ss


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    instance = RedisServer()
    instance.start()
    yield instance
    instance.close()


@pytest.fixture
def client(server: RedisServer) -> Iterator[redis.Redis]:
    conn = server.client(timeout_s=1.0)
    conn.flushdb()
    yield conn
    conn.close()


def test_two_entrances_share_one_count_clamped_at_zero(client: redis.Redis) -> None:
    left = LiveStoreOccupancy(client, "s1", "left", days)
    right = LiveStoreOccupancy(client, "s1", "right", days)
    assert left.crossing(at(9), "in") is None
    right.crossing(at(9, 1), "in")
    left.crossing(at(9, 2), "out")
    assert (right.inside, left.inside) == (2, 1)  # each worker knows the count as of its own last step
    for minute in (3, 4, 5):  # two exits more than there are people: clamped, never negative
        right.crossing(at(9, minute), "out")
    assert right.inside == 0
    assert client.hgetall(left.key) == {
        b"day": DAY.isoformat().encode(),
        b"inside": b"0",
        b"entries": b"2",
        b"exits": b"4",
        b"duplicates": b"0",
        b"clamped": b"2",
        b"peak": b"2",
    }


def test_partners_count_a_person_once_whichever_names_the_other(client: redis.Redis) -> None:
    outside = LiveStoreOccupancy(client, "s1", "outside", days)  # names no partner
    inside = LiveStoreOccupancy(client, "s1", "inside", days, PartnerChannel(channel="outside", window_s=2.0))
    inside.tick(at(8))  # registers the partnership both ways
    inside.crossing(at(10), "in")
    outside.crossing(at(10, ss=1.0), "in")  # the same person, the other camera second: still once
    outside.crossing(at(11), "in")
    inside.crossing(at(11, ss=0.5), "in")  # the same person again, inside camera second
    inside.crossing(at(12), "in")
    outside.crossing(at(12, ss=5.0), "in")  # too late: a second person
    outside.crossing(at(13), "out")
    inside.crossing(at(13, ss=1.0), "in")  # the other direction: not the same crossing
    assert outside.stats.duplicates + inside.stats.duplicates == 2
    assert client.hget(inside.key, "inside") == b"4" and client.hget(inside.key, "duplicates") == b"2"


def test_the_first_step_after_closing_closes_the_day_once_with_its_totals(client: redis.Redis) -> None:
    left = LiveStoreOccupancy(client, "s1", "left", days)
    right = LiveStoreOccupancy(client, "s1", "right", days)
    for minute in range(3):
        left.crossing(at(20, minute), "in")
    right.crossing(at(21), "out")
    right.crossing(at(21, 1), "out")
    right.crossing(at(21, 2), "out")
    right.crossing(at(21, 3), "out")  # clamped: nobody left inside
    left.crossing(at(21, 4), "in")
    assert left.tick(at(21, 59)) is None  # still open
    closed = right.tick(at(22, ss=3.0))
    assert closed == ClosedDay(DAY, entries=4, exits=4, duplicates=0, clamped=1, residual=1, peak=3)
    assert closed.payload("s1")["residual"] == 1
    assert left.tick(at(22, ss=4.0)) is None and left.crossing(at(22, 5), "in") is None  # closed once only
    assert left.inside == 1  # the new business day started from zero
    # a crossing the count learns of after its day closed (a delayed worker) is not counted in the next one
    assert right.crossing(at(21, 50), "in") is None and right.stats.late == 1 and right.inside == 1


def test_a_dead_redis_costs_nothing_and_counts_what_it_skipped() -> None:
    dead = connect_url(f"redis://127.0.0.1:{free_port()}/0")
    store = LiveStoreOccupancy(dead, "s1", "left", days)
    started = datetime.now(UTC)
    assert store.crossing(at(9), "in") is None and store.crossing(at(9, 1), "in") is None
    assert store.tick(at(9, 2)) is None
    assert (datetime.now(UTC) - started).total_seconds() < 5
    assert store.stats.skipped == 2 and store.inside is None
