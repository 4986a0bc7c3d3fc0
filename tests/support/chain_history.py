"""A chain's history in PostgreSQL, made up but shaped like a store's: what the scale bench times reports over.

`generate(dsn, stores=100, channels=6, days=30)` fills a migrated database as the workers would have: per store
two entrance cameras with a counting line and the rest watching zones, one run per channel and day, a track and an
in and an out crossing per visitor, staff coming in before opening and leaving after closing, and the per-minute
rollups of every channel for every minute the store is open (with now and then a camera down for half an hour:
no rows). Visitors per day follow the store's size and the weekday (weekends busier); they arrive on a lunch and an
evening peak inside the opening hours, stay a lognormal while (about 18 minutes), and are 55 % female, 35 % male
and 10 % undecided, the crossing knowing the final gender seven times in ten. Same seed, same rows.

    .venv/bin/python -m tests.support.chain_history --dsn postgresql://postgres@127.0.0.1:5432/chain --days 30

Rows go in with COPY, a store at a time; no track points (the reports do not read them).
"""

import argparse
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import psycopg2
import psycopg2.extensions

ZONES = ("Asia/Ho_Chi_Minh", "Asia/Ho_Chi_Minh", "Asia/Ho_Chi_Minh", "Asia/Bangkok", "Europe/Berlin")
HOURS = (("08:00", "22:00"), ("09:00", "21:30"), ("08:30", "22:00"))
VISITORS_A_DAY = 400  # a middle-sized store on a weekday
STAFF_A_DAY = 4
GENDERS = ("female", "male", "unknown")
GENDER_MIX = (0.55, 0.35, 0.10)
OUTAGE_SHARE = 0.01  # channel-days with a camera down for half an hour
ENTRANCES = 2


@dataclass(frozen=True, slots=True)
class Totals:
    stores: int
    channels: int
    tracks: int
    events: int
    minutes: int


class _Copy:
    """CSV rows per table, sent with COPY when flushed."""

    COLUMNS = {
        "channels": "id, store_id, name, source_masked, config, timezone, opening_hours",
        "runs": "id, channel_id, started_at, ended_at, exit_reason",
        "tracks": "run_id, track_id, channel_id, first_seen, last_seen, frames, gender, staff",
        "events": "id, run_id, channel_id, t, kind, track_id, payload",
        "channel_stats_minute": "channel_id, minute, run_id, people_count, unique_tracks, fps, occupancy_avg, "
        "occupancy_max, entries, exits, entries_female, entries_male, entries_unknown, entries_staff, exits_staff, "
        "covered_s",
    }

    def __init__(self) -> None:
        self.buffers = {table: io.StringIO() for table in self.COLUMNS}
        self.counts = dict.fromkeys(self.COLUMNS, 0)

    def row(self, table: str, *values: object) -> None:
        self.buffers[table].write("\t".join(_cell(v) for v in values) + "\n")
        self.counts[table] += 1

    def flush(self, cur: psycopg2.extensions.cursor) -> None:
        for table, buffer in self.buffers.items():  # dict order: parents first
            buffer.seek(0)
            cur.copy_expert(f"COPY {table} ({self.COLUMNS[table]}) FROM STDIN", buffer)
            self.buffers[table] = io.StringIO()


def _cell(value: object) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value).replace("\\", "\\\\")
    return str(value)


def _uuid(rng: np.random.Generator) -> uuid.UUID:
    """A seeded id (not a random one: the same seed gives the same rows)."""
    return uuid.UUID(bytes=rng.bytes(16), version=4)


def _open_span(day: date, hours: tuple[str, str], tz: ZoneInfo) -> tuple[float, float]:
    opens, closes = (time.fromisoformat(h) for h in hours)
    return (
        datetime.combine(day, opens, tz).timestamp(),
        datetime.combine(day, closes, tz).timestamp(),
    )


def _arrivals(rng: np.random.Generator, n: int, opens: float, closes: float, tz: ZoneInfo) -> np.ndarray:
    """`n` arrival times inside the opening hours, peaking at lunch and in the evening (local time)."""
    noon = datetime.fromtimestamp(opens, tz).replace(hour=12, minute=30, second=0).timestamp()
    evening = noon + 6 * 3600
    which = rng.random(n)
    times = np.where(
        which < 0.3,
        rng.uniform(opens, closes, n),
        np.where(which < 0.6, rng.normal(noon, 3600, n), rng.normal(evening, 5400, n)),
    )
    return np.sort(np.clip(times, opens, closes - 60))


def _day_of_store(
    out: _Copy, rng: np.random.Generator, store: str, channel_ids: list[str], day: date, size: float, zone: str,
    hours: tuple[str, str],
) -> None:  # fmt: skip
    tz = ZoneInfo(zone)
    opens, closes = _open_span(day, hours, tz)
    runs = {c: str(_uuid(rng)) for c in channel_ids}
    for channel, run in runs.items():
        started = datetime.fromtimestamp(opens - 1800, UTC)
        out.row("runs", run, channel, started, datetime.fromtimestamp(closes + 1800, UTC), "stopped")
    weekend = datetime.fromtimestamp(opens, tz).weekday() >= 5
    visitors = int(rng.poisson(VISITORS_A_DAY * size * (1.4 if weekend else 1.0)))
    arrive = _arrivals(rng, visitors, opens, closes, tz)
    leave = np.minimum(arrive + rng.lognormal(np.log(18 * 60), 0.6, visitors), closes + 600)
    gender = rng.choice(3, visitors, p=GENDER_MIX)
    known = rng.random(visitors) < 0.7
    door_in = rng.choice(ENTRANCES, visitors, p=(0.6, 0.4))
    door_out = rng.choice(ENTRANCES, visitors, p=(0.6, 0.4))
    staff_in = opens - rng.uniform(300, 900, STAFF_A_DAY)
    staff_out = closes + rng.uniform(300, 900, STAFF_A_DAY)
    people = [
        (arrive[i], leave[i], door_in[i], door_out[i], GENDERS[gender[i]], bool(known[i]), False)
        for i in range(visitors)
    ]
    people += [(staff_in[i], staff_out[i], 0, 0, "unknown", False, True) for i in range(STAFF_A_DAY)]
    minutes: dict[tuple[str, int], list[int]] = {}  # (channel, minute) -> entries, exits, f, m, u, staff in, out
    next_track = dict.fromkeys(channel_ids, 1)
    for t_in, t_out, door_a, door_b, label, at_crossing, staff in people:
        for t, door, direction in ((t_in, door_a, "in"), (t_out, door_b, "out")):
            channel = channel_ids[door]
            track = next_track[channel]
            next_track[channel] += 1
            first, last = datetime.fromtimestamp(t - 4, UTC), datetime.fromtimestamp(t + 6, UTC)
            out.row("tracks", runs[channel], track, channel, first, last, 100, label, staff)
            payload = {"line": "door", "direction": direction, "gender": label if at_crossing else None, "staff": staff}
            when = datetime.fromtimestamp(t, UTC)
            out.row("events", _uuid(rng), runs[channel], channel, when, "line_crossing", track, payload)
            counts = minutes.setdefault((channel, int(t // 60) * 60), [0] * 7)
            if direction == "in":
                counts[0] += 1
                counts[2 + GENDERS.index(label if at_crossing else "unknown")] += 1
                counts[5] += staff
            else:
                counts[1] += 1
                counts[6] += staff
    for index, channel in enumerate(channel_ids):
        down = index >= ENTRANCES and rng.random() < OUTAGE_SHARE  # a zone camera: no crossing is lost with it
        down_from = rng.uniform(opens, closes - 1800)
        for minute in range(int(opens // 60) * 60, int(closes // 60) * 60, 60):
            if down and down_from <= minute < down_from + 1800:
                continue
            counts = minutes.pop((channel, minute), [0] * 7)
            crowd = 1.0 + 3.0 * size * float(np.exp(-(((minute - opens) / 3600 - 8) ** 2) / 8))
            _minute_row(out, channel, minute, runs[channel], counts, crowd)
    # crossings outside the open minutes (staff, the last leavers) keep their own minute rows
    for (channel, minute), counts in minutes.items():
        _minute_row(out, channel, minute, runs[channel], counts, 0.5)


def _minute_row(out: _Copy, channel: str, minute: int, run: str, counts: list[int], crowd: float) -> None:
    """A run's minute of a channel: `counts` are entries, exits, entries by gender (f, m, u), staff in and out."""
    when = datetime.fromtimestamp(minute, UTC)
    people = (counts[0], counts[0], 10.0, round(crowd, 2), int(crowd) + 1)  # appeared, tracks, fps, occupancy
    out.row("channel_stats_minute", channel, when, run, *people, *counts, 60.0)


def stores_of(count: int, channels: int) -> Iterator[tuple[str, list[str], str, tuple[str, str], float]]:
    rng = np.random.default_rng(12345)
    for s in range(count):
        store = f"store_{s:03d}"
        yield (
            store,
            [f"{store}_channel_{c + 1}" for c in range(channels)],
            ZONES[s % len(ZONES)],
            HOURS[s % len(HOURS)],
            float(rng.lognormal(0.0, 0.4)),
        )


def _ensure_partitions(conn: psycopg2.extensions.connection, first: date, last: date) -> None:
    """The period's partitions, where the schema is partitioned (migration 0009), so no row waits in DEFAULT."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT to_regproc('footfall_ensure_partitions') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute("SELECT count(*) FROM footfall_ensure_partitions(%s::date, %s::date)", (first, last))


def generate(
    dsn: str, stores: int = 100, channels: int = 6, days: int = 30, last_day: date = date(2026, 11, 30), seed: int = 7
) -> Totals:
    """Fill the migrated database at `dsn` with `days` days up to `last_day` of `stores` stores."""
    if channels < ENTRANCES:
        raise ValueError(f"channels: expected at least {ENTRANCES} (the entrances), got {channels}")
    rng = np.random.default_rng(seed)
    totals = dict.fromkeys(_Copy.COLUMNS, 0)
    # COPY refuses psycopg2's green mode, which the worker's writer turns on process-wide (storage/pg_wait.py):
    # off while this runs (a bench or test tool, nothing else waiting on PostgreSQL meanwhile), back after.
    waiting = psycopg2.extensions.get_wait_callback()
    psycopg2.extensions.set_wait_callback(None)
    conn = psycopg2.connect(dsn, connect_timeout=5)
    try:
        _ensure_partitions(conn, last_day - timedelta(days=days + 1), last_day + timedelta(days=2))
        for store, channel_ids, zone, hours, size in stores_of(stores, channels):
            out = _Copy()
            for i, channel in enumerate(channel_ids):
                analytics = {"lines": [{"id": "door", "points": [[0.1, 0.9], [0.9, 0.9]]}]} if i < ENTRANCES else {}
                config = {"id": channel, "name": channel, "analytics": analytics}
                opening = {"open": hours[0], "close": hours[1]}
                out.row("channels", channel, store, channel, f"rtsp://***@10.0.0.{i}/x", config, zone, opening)
            for d in range(days):
                _day_of_store(out, rng, store, channel_ids, last_day - timedelta(days=days - 1 - d), size, zone, hours)
            with conn, conn.cursor() as cur:
                cur.execute("SET CONSTRAINTS ALL DEFERRED")
                out.flush(cur)
            for table, n in out.counts.items():
                totals[table] += n
    finally:
        conn.close()
        psycopg2.extensions.set_wait_callback(waiting)
    return Totals(stores, stores * channels, totals["tracks"], totals["events"], totals["channel_stats_minute"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", required=True, help="a migrated database (footfall_worker.storage.migrations)")
    parser.add_argument("--stores", type=int, default=100)
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    print(generate(args.dsn, args.stores, args.channels, args.days))


if __name__ == "__main__":
    main()
