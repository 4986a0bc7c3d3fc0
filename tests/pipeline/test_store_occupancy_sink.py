"""An entrance worker's crossings reach its store's live count in a real Redis, and the day the count closes at
closing time reaches PostgreSQL once, as an `occupancy_day` row the `store_occupancy_days` view reads."""

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis

from footfall_contract.config.store_hours import OpeningHours, business_day
from footfall_worker.events import ChannelEvent, EventKind
from footfall_worker.pipeline.frame_result import FrameResult
from footfall_worker.pipeline.sinks import RecordSink, StoreOccupancySink
from footfall_worker.storage.records import ChannelRow, RunStart, new_run_id
from footfall_worker.storage.store_occupancy_live import LiveStoreOccupancy
from tests.storage.workload import CHANNEL, make_writer
from tests.support.postgres import PostgresCluster, connect
from tests.support.redis_server import RedisServer

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HOURS = OpeningHours(open="09:00", close="21:00")
DAY = date(2026, 12, 4)


def at(hh: int, mm: int = 0) -> float:
    return datetime(DAY.year, DAY.month, DAY.day, hh, mm, tzinfo=TZ).timestamp()


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    server = RedisServer()
    server.start()
    conn = server.client(timeout_s=1.0)
    yield conn
    conn.close()
    server.close()


def crossing(t: float, direction: str) -> ChannelEvent:
    return ChannelEvent(EventKind.LINE_CROSSING, 1, t, {"line": "door", "direction": direction, "staff": False})


def test_crossings_count_live_and_the_closed_day_is_recorded_once(
    client: redis.Redis,
    pg_cluster: PostgresCluster,
    tmp_path: Path,
) -> None:
    dsn = pg_cluster.create_database("sink")
    run = new_run_id()
    writer = make_writer(dsn, tmp_path)
    writer.start()
    writer.put(ChannelRow(CHANNEL, "s1", "door", "rtsp://192.0.2.10/x", {}, "Asia/Ho_Chi_Minh"))
    writer.put(RunStart(run, at(9)))
    put: list = []
    clock = [at(10)]
    store = LiveStoreOccupancy(client, "s1", CHANNEL, lambda t: business_day(t, TZ, HOURS))
    sink = StoreOccupancySink(store, put.append, run, tick_s=0.0, wall_clock=lambda: clock[0])
    records = RecordSink(writer.put)

    def step(events: list[ChannelEvent]) -> None:
        result = FrameResult(None, None, None, events=events)
        sink.take(result)
        for row in put:
            records.take(FrameResult(None, None, None, records=[row]))
        put.clear()

    step([crossing(at(10), "in"), crossing(at(10, 1), "in"), crossing(at(10, 2), "out")])
    assert store.inside == 1
    step([crossing(at(11), "out"), crossing(at(11, 1), "out")])  # one more out than in: clamped
    assert store.inside == 0
    step([crossing(at(20, 30), "in")])
    clock[0] = at(21, 0) + 3  # after closing: the next check closes the day
    step([])
    step([])  # and only once
    assert writer.close(5.0)
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT store_id, day, entries, exits, duplicates, clamped, residual, peak, closed_by"
            " FROM store_occupancy_days"
        )
        assert cur.fetchall() == [("s1", DAY, 3, 3, 0, 1, 1, 2, CHANNEL)]
